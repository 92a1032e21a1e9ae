"""The real widget in real JupyterLab: a notebook cell displays a Viewer, Chromium renders it.

JupyterLab (the venv's) runs as a subprocess on a free loopback port with a token;
the phantom is served by Jupyter's own ``/files/`` handler (same origin, cookie auth).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time

import httpx
import pytest

from chris_jupyter.widgets import harness as H
from tests.browser.viewer_page import PROBE_JS
from tests.fixtures.browser import artifact_path, png_pixels

pytestmark = pytest.mark.browser

CELLS = [
    "from chris_jupyter.widgets import Viewer\n"
    "v = Viewer(source_url='/files/phantom.nii', overlay_url='/files/labels.nii',\n"
    "           overlay_opacity=0.0, preset='ct-brain', crosshair=False, height=360)\n"
    "v",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    H.write_phantom(root)
    (root / "view.ipynb").write_text(json.dumps(_notebook(CELLS)))
    port, token = _free_port(), secrets.token_hex(16)
    runtime = tmp_path_factory.mktemp("lab-runtime")
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime / "run"),
        "JUPYTER_DATA_DIR": str(runtime / "data"),  # keeps the user's data dir untouched
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    log = artifact_path("jupyterlab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.workspaces_dir={runtime}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}api/status?token={token}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "jupyter lab exited; see tests/artifacts/jupyterlab.log"
            assert time.monotonic() < deadline, "jupyter lab did not start"
            time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _run_cell(page, code: str) -> None:
    """Append a cell with ``code`` to the open notebook and run it."""
    page.evaluate(
        """async (code) => {
          const app = window.jupyterapp;
          const panel = app.shell.currentWidget;
          const nb = panel.content;
          await app.commands.execute('notebook:insert-cell-below');
          nb.activeCell.model.sharedModel.setSource(code);
          await app.commands.execute('notebook:run-cell');
        }""",
        code,
    )


def test_viewer_renders_in_jupyterlab(lab, page):
    base, token = lab
    page.set_default_timeout(90_000)
    page.goto(f"{base}lab/tree/view.ipynb?reset&token={token}")
    page.wait_for_function(
        "() => window.jupyterapp && jupyterapp.shell.currentWidget &&"
        " jupyterapp.shell.currentWidget.sessionContext &&"
        " jupyterapp.shell.currentWidget.sessionContext.session &&"
        " jupyterapp.shell.currentWidget.sessionContext.session.kernel &&"
        " jupyterapp.shell.currentWidget.sessionContext.session.kernel.connectionStatus"
        " === 'connected'"
    )
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    root = page.locator(".cjv-root")
    root.wait_for()
    page.wait_for_function(
        "() => { const r = document.querySelector('.cjv-root');"
        " const v = r && r.parentElement.chrisViewer;"
        " return v && ['ready'].includes(v.model.get('status')) ||"
        " (v && String(v.model.get('status')).startsWith('error')); }"
    )
    page.evaluate("() => { window.el = document.querySelector('.cjv-root').parentElement; }")
    assert page.evaluate("el.chrisViewer.model.get('status')") == "ready"
    page.evaluate(PROBE_JS)

    # pixels on screen: tissue mid-grey, bone white, air black (CT brain 40/80)
    canvas = page.locator(".cjv-root canvas.cjv-canvas")
    shot = png_pixels(canvas.screenshot(path=str(artifact_path("viewer-jupyterlab.png"))))
    scale = page.evaluate("el.chrisViewer.nv.canvas.width / el.chrisViewer.nv.canvas.clientWidth")
    for mm, want in [(H.BONE_CENTER_MM, 255), ((0, 20, 0), 128), ((0, -35, 0), 0)]:
        hit = next(h for h in page.evaluate("(mm) => screenOf(mm)", list(mm)) if h["axCorSag"] == 0)
        px = shot[round(hit["y"] / scale), round(hit["x"] / scale), :3]
        assert abs(int(px.mean()) - want) <= 10, (mm, px)

    # the browser's state reached the kernel (comm round trip), pixels did not
    _run_cell(page, "print('STATE', v.status, v.window, v.level, len(v.position_mm))")
    page.wait_for_function(
        "() => document.body.innerText.includes('STATE ready 80.0 40.0 3')"
    )
    # kernel -> browser: a preset set in Python changes the picture
    _run_cell(page, "v.preset = 'ct-bone'")
    page.wait_for_function("() => el.chrisViewer.model.get('window') === 1800")
    hit = next(h for h in page.evaluate("(mm) => screenOf(mm)", [0, 20, 0]) if h["axCorSag"] == 0)
    (r, g, b, _a), = page.evaluate("(p) => probe(p)", [[hit["x"], hit["y"]]])
    assert abs((r + g + b) / 3 - (40 + 500) / 1800 * 255) <= 10
    page.screenshot(path=str(artifact_path("jupyterlab-page.png")))
    assert any(u.endswith("/files/phantom.nii") for u in page.requested)

