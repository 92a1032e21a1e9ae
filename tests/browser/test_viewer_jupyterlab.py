"""The real widget in real JupyterLab: a notebook cell displays a Viewer, Chromium renders it.

JupyterLab (the venv's) runs as a subprocess on a free loopback port with a token;
the phantom is served by Jupyter's own ``/files/`` handler (same origin, cookie auth).
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

import pytest

from chris_jupyter.utils.assets import asset
from chris_jupyter.widgets import harness as H
from tests.browser.viewer_page import PROBE_JS
from tests.fixtures.browser import artifact_path, png_pixels

pytestmark = pytest.mark.browser

CELLS = [
    "from chris_jupyter.widgets import Viewer\n"
    "v = Viewer(source_url='files/phantom.nii', overlay_url='files/labels.nii',\n"
    "           overlay_opacity=0.0, preset='ct-brain', crosshair=False, show_info=False, height=360)\n"
    "v",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    H.write_phantom(root)
    (root / "view.ipynb").write_text(json.dumps(H.notebook(CELLS)))
    scratch = tmp_path_factory.mktemp("lab-scratch")
    # a JupyterHub-like prefix: relative volume URLs must resolve against it
    log = artifact_path("jupyterlab.log")
    with H.jupyterlab_server(root, scratch, log, base_url="/user/alice/") as (base, token):
        yield base, token


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
    frames: list[int] = []  # sizes of kernel websocket frames, once the viewer is up
    opening: list[int] = []  # and before: the viewer's comm_open carries a loader, not the bundle
    recording = []

    def on_ws(ws):
        def note(payload):
            (frames if recording else opening).append(len(payload))

        ws.on("framesent", note)
        ws.on("framereceived", note)

    page.on("websocket", on_ws)
    page.goto(f"{base}lab/tree/view.ipynb?reset&token={token}")
    page.wait_for_function(H.KERNEL_READY_JS)
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
    # the 2 MB bundle came once from the server, by its version, not through the comm
    _data, version = asset("viewer.js")
    # (with the page's _xsrf cookie as an argument: a hub user's server needs it on a module import)
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    bundle_url = f"{base}chris/api/v1/viewer/viewer.js?v={version}&_xsrf={quote(unquote(xsrf), safe='')}"
    assert page.requested.count(bundle_url) == 1, [u for u in page.requested if "viewer.js" in u]
    assert page.evaluate("el.chrisViewer.bundle.via") == "server"
    assert opening and max(opening) < 64_000, max(opening)
    page.evaluate(PROBE_JS)
    recording.append(True)

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
    page.wait_for_function("() => document.body.innerText.includes('STATE ready 80.0 40.0 3')")
    # kernel -> browser: a preset set in Python changes the picture
    _run_cell(page, "v.preset = 'ct-bone'")
    page.wait_for_function("() => el.chrisViewer.model.get('window') === 1800")
    hit = next(h for h in page.evaluate("(mm) => screenOf(mm)", [0, 20, 0]) if h["axCorSag"] == 0)
    ((r, g, b, _a),) = page.evaluate("(p) => probe(p)", [[hit["x"], hit["y"]]])
    assert abs((r + g + b) / 3 - (40 + 500) / 1800 * 255) <= 10
    page.screenshot(path=str(artifact_path("jupyterlab-page.png")))
    # the volume (737 kB here) never travels through the kernel: only small messages
    assert frames and max(frames) < 16_000, max(frames)
    assert f"{base}files/phantom.nii" in page.requested


@pytest.mark.slow  # a second notebook page and kernel: ~30-60 s on the shared machine
def test_viewer_bundle_from_the_kernel_when_the_server_has_another(lab, page):
    """A kernel whose chris_jupyter differs from the server's (here: a loader asking for another
    version) still shows the viewer: the server refuses that version, the kernel sends its copy."""
    base, token = lab
    page.set_default_timeout(90_000)
    page.goto(f"{base}lab/tree/view.ipynb?reset&token={token}")
    page.wait_for_function(H.KERNEL_READY_JS)
    _run_cell(
        page,
        "from chris_jupyter.widgets.viewer import Viewer\n"
        "from chris_jupyter.utils.assets import asset\n"
        "class Other(Viewer):\n"
        "    _esm = Viewer._esm.replace(asset('viewer.js')[1], '0123456789abcdef')\n"
        "Other(source_url='files/phantom.nii', preset='ct-brain', crosshair=False, height=300)",
    )
    page.wait_for_function(
        "() => { const r = document.querySelector('.cjv-root'); const v = r && r.parentElement.chrisViewer;"
        " return v && v.model.get('status') === 'ready'; }"
    )
    assert any(u.startswith(f"{base}chris/api/v1/viewer/viewer.js?v=0123456789abcdef&_xsrf=") for u in page.requested)
    page.evaluate("() => { window.el = document.querySelector('.cjv-root').parentElement; }")
    assert page.evaluate("el.chrisViewer.bundle.via") == "kernel"
    page.evaluate(PROBE_JS)
    hit = next(h for h in page.evaluate("(mm) => screenOf(mm)", list(H.BONE_CENTER_MM)) if h["axCorSag"] == 0)
    ((r, g, b, _a),) = page.evaluate("(p) => probe(p)", [[hit["x"], hit["y"]]])
    assert min(r, g, b) >= 245  # bone, white at 40/80
