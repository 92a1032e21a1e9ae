"""The viewer as a radiologist uses it in real JupyterLab (issue 12): the first window comes from
the series, right-drag and shift-drag change W/L without JupyterLab's context menu, and errors
show where the user looks (in the notebook for ``view()``, over the canvas for a failed load).

JupyterLab (the venv's, with the chris server extension) runs as a subprocess; the kernel's
``Client()`` finds that server by itself. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json

import pytest

from chris_jupyter.widgets import harness as H
from tests.fixtures.browser import artifact_path

pytestmark = pytest.mark.browser

SETUP = """\
import tempfile, pathlib
import chris_jupyter as cj
from chris_jupyter.dicom import synth
from chris_jupyter.widgets import Viewer
c = cj.Client()
me = c.me()['username']
work = pathlib.Path(tempfile.mkdtemp())
synth.write_ct_series(work / 'ct', n_slices=12, rows=64, cols=64, patient_id='LABUX1', patient_name='Lab^Ux')
c.upload(work / 'ct', f'home/{me}/uploads/labux/ct', overwrite=True, progress=False)
(work / 'notes.txt').write_text('not an image')
c.upload(work / 'notes.txt', f'home/{me}/uploads/labux/notes.txt', overwrite=True, progress=False)
print('SETUP DONE', me)
"""
VIEW = "v = cj.view(f'home/{me}/uploads/labux/ct', layout='axial', crosshair=False, height=320)\nv"
BAD_VIEW = """\
try:
    cj.view(f'home/{me}/uploads/labux/notes.txt')
except Exception as e:
    print('VIEW', 'REFUSED:', type(e).__name__, e)
"""
BAD_LOAD = "bad = Viewer(volume_id=f'path:home/{me}/uploads/labux/notes.txt', height=200)\nbad"

VIEWER = ".jp-Cell:nth-child({n}) .cjv-root"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-ux-root")
    (root / "ux.ipynb").write_text(json.dumps(H.notebook([SETUP, VIEW, BAD_VIEW, BAD_LOAD])))
    scratch = tmp_path_factory.mktemp("lab-ux-scratch")
    with H.jupyterlab_server(root, scratch, artifact_path("jupyterlab-ux.log")) as (base, token):
        yield base, token


def _model(page, n: int, key: str):  # noqa: ANN001, ANN202
    return page.evaluate(
        "([n, key]) => document.querySelectorAll('.cjv-root')[n].parentElement.chrisViewer.model.get(key)",
        [n, key],
    )


def _wait_loaded(page, n: int) -> str:  # noqa: ANN001
    page.wait_for_function(
        "(n) => { const r = document.querySelectorAll('.cjv-root')[n];"
        " const v = r && r.parentElement.chrisViewer; const s = v && String(v.model.get('status'));"
        " return s === 'ready' || (s && s.startsWith('error')); }",
        arg=n,
    )
    return _model(page, n, "status")


def test_window_level_and_errors_in_jupyterlab(lab, page):
    try:
        _drive(lab, page)
    except Exception:
        page.screenshot(path=str(artifact_path("viewer-ux-failure.png")), full_page=True)
        artifact_path("viewer-ux-failure.txt").write_text(
            page.evaluate("() => document.body.innerText") + "\n\n" + "\n".join(page.console))
        raise


def _drive(lab, page) -> None:  # noqa: ANN001
    base, token = lab
    page.set_default_timeout(120_000)
    page.goto(f"{base}lab/tree/ux.ipynb?reset&token={token}")
    page.wait_for_function(H.KERNEL_READY_JS)
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => document.body.innerText.includes('SETUP DONE')")

    # -- a bad view() raises in the notebook, with the server's reason; nothing is drawn ------
    page.wait_for_function("() => document.body.innerText.includes('VIEW REFUSED:')")
    text = page.evaluate("() => document.body.innerText")
    line = next(x for x in text.splitlines() if "VIEW REFUSED:" in x)
    assert "BadRequestError" in line and "cannot make a volume" in line, line

    # -- the series opens at its own WindowWidth/WindowCenter (synth CT: W400/L40) ----------
    page.locator(".cjv-root").first.wait_for()
    assert _wait_loaded(page, 0) == "ready"
    assert (_model(page, 0, "window"), _model(page, 0, "level")) == (400, 40)
    assert page.locator(".cjv-root").count() == 2  # the refused view() drew no viewer

    # -- right-drag: window/level changes, JupyterLab's context menu stays closed ------------
    canvas = page.locator(".cjv-root").first.locator("canvas.cjv-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    canvas.screenshot(path=str(artifact_path("viewer-ux-first-window.png")))
    page.mouse.move(cx, cy)
    page.mouse.down(button="right")
    for i in range(1, 6):
        page.mouse.move(cx + 12 * i, cy - 8 * i)
    page.mouse.up(button="right")
    page.wait_for_function(
        "() => document.querySelector('.cjv-root').parentElement.chrisViewer.model.get('window') !== 400")
    after_right = (_model(page, 0, "window"), _model(page, 0, "level"))
    # right = wider window, up = brighter (a lower level), as the tooltip says
    assert after_right[0] > 400 and after_right[1] < 40, after_right
    assert page.locator(".lm-Menu").count() == 0, "JupyterLab's context menu opened over the viewer"
    canvas.screenshot(path=str(artifact_path("viewer-ux-right-drag.png")))

    # -- shift + left-drag is the alternative ---------------------------------------------------
    page.mouse.move(cx, cy)
    page.keyboard.down("Shift")
    page.mouse.down()
    for i in range(1, 6):
        page.mouse.move(cx - 12 * i, cy + 8 * i)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function(
        "(w) => document.querySelector('.cjv-root').parentElement.chrisViewer.model.get('window') !== w",
        arg=after_right[0],
    )
    after_shift = (_model(page, 0, "window"), _model(page, 0, "level"))
    assert after_shift[0] < after_right[0] and after_shift[1] > after_right[1], (after_right, after_shift)
    assert page.locator(".lm-Menu").count() == 0

    # -- a load the server refuses: its decoded reason over the canvas ----------------------
    status = _wait_loaded(page, 1)
    assert status.startswith("error"), status
    bad = page.locator(".cjv-root").nth(1)
    err = bad.locator(".cjv-error")
    err.wait_for()
    msg = err.inner_text()
    assert "cannot make a volume" in msg and "home/" in msg and "%2F" not in msg, msg
    assert "W – / L –" in bad.inner_text()
    bad.scroll_into_view_if_needed()
    bad.screenshot(path=str(artifact_path("viewer-ux-load-error.png")))
    page.screenshot(path=str(artifact_path("viewer-ux-page.png")), full_page=True)
