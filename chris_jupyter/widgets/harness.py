"""Run the viewer bundle outside Jupyter: a phantom, a loopback file server, a test page.

Used by the browser tests and ``bench/viewer.py``; handy to debug the JS by hand::

    python -m chris_jupyter.widgets.harness /tmp/vw   # prints a URL to open

The page imports the bundled ``viewer.js`` and renders it with a minimal
anywidget-like model (``get``/``set``/``on``/``off``/``save_changes``) built from
the Python :class:`~chris_jupyter.widgets.viewer.Viewer`'s own default state.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from ..utils.net import free_port

STATIC = Path(__file__).parent / "static"

#: Phantom geometry: voxel grid and (anisotropic) spacing in mm.
PHANTOM_SHAPE = (96, 96, 40)
PHANTOM_SPACING = (0.8, 0.8, 2.5)
#: Hounsfield values of the phantom's structures.
AIR, TISSUE, LUNG, BONE = -1000, 40, -800, 1000
BODY_RADIUS_MM = 30.0
BONE_CENTER_MM = (12.0, 0.0, 0.0)
BONE_RADIUS_MM = 10.0
LUNG_BOX_MM = ((-25.0, -8.0), (-10.0, 10.0), (-30.0, 30.0))


def phantom_affine(shape=PHANTOM_SHAPE, spacing=PHANTOM_SPACING) -> np.ndarray:
    """RAS affine with the volume centred on (0, 0, 0) mm."""
    aff = np.diag([*spacing, 1.0])
    aff[:3, 3] = [-(n - 1) / 2 * s for n, s in zip(shape, spacing, strict=True)]
    return aff


def phantom(shape=PHANTOM_SHAPE, spacing=PHANTOM_SPACING) -> tuple[np.ndarray, np.ndarray]:
    """A CT-like int16 phantom and its label volume (1 = bone sphere, 2 = lung box).

    Air outside a tissue cylinder (axis along z), a lung box at negative x and a
    bone sphere at positive x (RAS+ world, so the sphere is on the patient's right).
    """
    aff = phantom_affine(shape, spacing)
    idx = np.indices(shape, dtype=np.float32)
    x, y, z = (idx[a] * spacing[a] + aff[a, 3] for a in range(3))
    ct = np.full(shape, AIR, np.int16)
    labels = np.zeros(shape, np.uint8)
    ct[x**2 + y**2 <= BODY_RADIUS_MM**2] = TISSUE
    (x0, x1), (y0, y1), (z0, z1) = LUNG_BOX_MM
    lung = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (z >= z0) & (z <= z1)
    ct[lung] = LUNG
    labels[lung] = 2
    cx, cy, cz = BONE_CENTER_MM
    bone = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= BONE_RADIUS_MM**2
    ct[bone] = BONE
    labels[bone] = 1
    return ct, labels


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    """Write an uncompressed NIfTI-1 file (the backend's wire format)."""
    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm")
    img.header.set_sform(affine, code=1)
    img.header.set_qform(affine, code=1)
    nib.save(img, str(path))
    return path


def write_phantom(folder: Path) -> dict[str, Path]:
    """Write ``phantom.nii`` and ``labels.nii`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ct, labels = phantom()
    aff = phantom_affine()
    return {
        "ct": write_nifti(folder / "phantom.nii", ct, aff),
        "labels": write_nifti(folder / "labels.nii", labels, aff),
    }


HARNESS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>chris viewer harness</title>
<link rel="stylesheet" href="static/viewer.css">
<style>body {{ margin: 8px; font-family: sans-serif; }} #w {{ width: {width}px; }}</style>
</head><body><div id="w"></div>
<script type="module">
import widget from "./static/viewer.js";
class FakeModel {{
  constructor(state) {{ this.state = state; this.handlers = {{}}; this.saves = 0; }}
  get(k) {{ return this.state[k]; }}
  set(k, v) {{
    const old = this.state[k];
    this.state[k] = v;
    if (JSON.stringify(old) !== JSON.stringify(v)) {{
      for (const f of this.handlers["change:" + k] || []) f({{ name: k, new: v, old }});
    }}
  }}
  on(ev, f) {{ (this.handlers[ev] = this.handlers[ev] || []).push(f); }}
  off(ev, f) {{ this.handlers[ev] = (this.handlers[ev] || []).filter((g) => g !== f); }}
  save_changes() {{ this.saves += 1; }}
}}
const state = {state};
const params = new URLSearchParams(location.search);
for (const [k, v] of params) state[k] = JSON.parse(v);
const model = new FakeModel(state);
const el = document.getElementById("w");
window.model = model;
window.el = el;
window.widget = widget;
window.dispose = widget.render({{ model, el }});
</script></body></html>
"""


def harness_state(**traits) -> dict:
    """The synced state of a real :class:`Viewer`, as the page's fake model starts it."""
    from .viewer import Viewer

    w = Viewer(**traits)
    try:
        state = {k: v for k, v in w.get_state().items() if not k.startswith("_")}
    finally:
        w.close()
    state.pop("layout", None)  # the ipywidgets Layout model reference
    return state


def write_harness(folder: Path, width: int = 1000, **traits) -> Path:
    """Copy the bundle next to an ``index.html`` that renders it with ``traits``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(STATIC, folder / "static", dirs_exist_ok=True)
    html = HARNESS_HTML.format(width=width, state=json.dumps(harness_state(**traits)))
    (folder / "index.html").write_text(html)
    return folder / "index.html"


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus single-range ``Range: bytes=a-b`` requests (206), like a real backend."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".nii": "application/octet-stream",
        ".js": "text/javascript",
    }

    def send_head(self):
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not m or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
        if start > end:
            self.send_error(416)
            return None
        f = path.open("rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            chunk = source.read(min(remaining, 1 << 16))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)
        self._remaining = None

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (free port); yields the base URL."""
    handler = functools.partial(_Handler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


LABEXTENSION = Path(__file__).resolve().parents[1] / "labextension"


def _link_labextension(data_dir: Path) -> None:
    """Let this lab load the package's own prebuilt extension (the bundle next to this code),
    ahead of any copy an earlier install put into the environment's share/jupyter."""
    if not (LABEXTENSION / "package.json").exists():
        return
    link = data_dir / "labextensions" / "chris-jupyter-lab"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(LABEXTENSION, target_is_directory=True)


@contextmanager
def jupyterlab_server(
    root: Path, scratch: Path, log_path: Path | None = None, base_url: str = "/",
    extra_args: Sequence[str] = (),
    config: dict | None = None,
) -> Iterator[tuple[str, str]]:
    """Run the venv's JupyterLab on a free loopback port; yields ``(url, token)``.

    ``url`` includes ``base_url`` (e.g. "/user/alice/" to look like a JupyterHub server).

    ``root`` is the notebook root; ``scratch`` holds runtime/data/workspace dirs so
    the user's own Jupyter directories stay untouched. No update checks, no news.
    ``extra_args`` are further command-line options (``--ChrisApp.runner=local``); ``config``
    is configuration the command line cannot carry well (nested dicts such as
    ``{"ChrisApp": {"pacs_nodes": {...}}}``), written as this server's own config file.
    """
    port, token = free_port(), secrets.token_hex(16)
    _link_labextension(scratch / "data")
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(scratch / "run"),
        "JUPYTER_DATA_DIR": str(scratch / "data"),
        "JUPYTER_PLATFORM_DIRS": "1",
        # In a venv jupyter_core puts the environment's share/jupyter ahead of the data dir, so
        # an installed copy of the lab extension would shadow the linked bundle of this checkout.
        "JUPYTER_PREFER_ENV_PATH": "0",
    }
    if config:
        (scratch / "config").mkdir(parents=True, exist_ok=True)
        (scratch / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        env["JUPYTER_CONFIG_DIR"] = str(scratch / "config")
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.base_url={base_url}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.workspaces_dir={scratch}",
            "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *extra_args,
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    prefix = f"/{base_url.strip('/')}/" if base_url.strip("/") else "/"
    base = f"http://127.0.0.1:{port}{prefix}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2):
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode} (log: {log_path})")
            if time.monotonic() > deadline:
                raise RuntimeError("jupyter lab did not start in 90 s")
            time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            log.close()


def notebook(cells: list[str]) -> dict:
    """A minimal nbformat-4 notebook with these code cells (python3 kernel)."""
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


#: JS waiting until the notebook opened in JupyterLab has a connected kernel.
KERNEL_READY_JS = (
    "() => { const w = window.jupyterapp && jupyterapp.shell.currentWidget;"
    " const k = w && w.sessionContext && w.sessionContext.session"
    " && w.sessionContext.session.kernel;"
    " return !!k && k.connectionStatus === 'connected'; }"
)


if __name__ == "__main__":  # pragma: no cover - manual debugging aid
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/chris-viewer-harness")
    write_phantom(root)
    write_harness(root, source_url="phantom.nii", overlay_url="labels.nii")
    with serve_directory(root) as url:
        print(f"open {url}index.html  (Ctrl-C to stop)")
        threading.Event().wait()
