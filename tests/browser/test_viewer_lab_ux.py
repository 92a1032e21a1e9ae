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
# A lung voxel of the harness phantom: index [28, 47, 20] is at (-15.6, -0.4, 1.25) mm, -800 HU.
LUNG_IJK, LUNG_MM = [28, 47, 20], [-15.6, -0.4, 1.25]
PHANTOM = (f"ph = Viewer(source_url='files/phantom.nii', position_mm={LUNG_MM}, layout='axial',"
           " overlay_url='files/labels.nii', label_names={'1': 'bone', '2': 'lung'},"
           " crosshair=False, height=300)\nph")

VIEWER = ".jp-Cell:nth-child({n}) .cjv-root"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-ux-root")
    H.write_phantom(root)
    (root / "ux.ipynb").write_text(json.dumps(H.notebook([SETUP, VIEW, BAD_VIEW, BAD_LOAD, PHANTOM])))
    scratch = tmp_path_factory.mktemp("lab-ux-scratch")
    with H.jupyterlab_server(root, scratch, artifact_path("jupyterlab-ux.log")) as (base, token):
        yield base, token


def _model(page, n: int, key: str):
    return page.evaluate(
        "([n, key]) => document.querySelectorAll('.cjv-root')[n].parentElement.chrisViewer.model.get(key)",
        [n, key],
    )


def _wait_loaded(page, n: int) -> str:
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


def _drive(lab, page) -> None:
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
    page.locator(".cjv-root").nth(2).wait_for()
    assert page.locator(".cjv-root").count() == 3  # the refused view() drew no viewer

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

    # -- on-image information: the value under a known voxel, with its index and mm ----------
    assert _wait_loaded(page, 2) == "ready"
    ph = page.locator(".cjv-root").nth(2)
    ph.scroll_into_view_if_needed()
    hit = page.evaluate(
        "(mm) => { const v = document.querySelectorAll('.cjv-root')[2].parentElement.chrisViewer;"
        " const r = v.nv.canvas.getBoundingClientRect(); const k = v.nv.canvas.width / r.width;"
        " const h = v.mmToScreen(mm).find((s) => s.axCorSag === 0);"
        " return [r.left + h.x / k, r.top + h.y / k]; }",
        LUNG_MM,
    )
    page.mouse.move(*hit)
    info = ph.locator(".cjv-info")
    page.wait_for_function(
        "() => document.querySelectorAll('.cjv-info')[2].innerText.includes('[28, 47, 20]')")
    text = info.inner_text()
    assert "-800  [28, 47, 20]  (-15.6, -0.4, 1." in text and "W 80 / L 40" not in text, text
    ph.screenshot(path=str(artifact_path("viewer-ux-info-phantom.png")))

    # -- the label legend: name, voxel count and ml per label; a checkbox hides one ---------
    _ct, labels = H.phantom()
    ml = H.PHANTOM_SPACING[0] * H.PHANTOM_SPACING[1] * H.PHANTOM_SPACING[2] / 1000
    rows = ph.locator(".cjv-legend-row")
    assert rows.count() == 2
    for value, name in ((1, "bone"), (2, "lung")):
        n = int((labels == value).sum())
        row = ph.locator(f".cjv-legend-row[data-label='{value}']")
        assert row.inner_text().split()[:2] == [name, str(n)], row.inner_text()
        assert f"{n * ml:.1f} ml" in row.inner_text() or f"{n * ml:.2f} ml" in row.inner_text()
    assert "labels" in ph.locator(".cjv-opacity-box").inner_text()
    ph.locator(".cjv-legend-row[data-label='2'] input").click()
    page.wait_for_function(
        "() => JSON.stringify(document.querySelectorAll('.cjv-root')[2].parentElement.chrisViewer"
        ".model.get('hidden_labels')) === '[2]'")
    ph.screenshot(path=str(artifact_path("viewer-ux-legend.png")))

    # the series' own description, HU for CT
    first = page.locator(".cjv-root").first
    first.scroll_into_view_if_needed()
    box = first.locator("canvas.cjv-canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # also focuses the stage
    page.wait_for_function("() => document.querySelector('.cjv-info').innerText.includes(' HU')")
    text = first.locator(".cjv-info").inner_text()
    assert "CT | Lab^Ux" in text, text

    # -- keyboard: slices, first/last, layouts, info toggle ------------------------------------
    assert page.evaluate("() => document.activeElement.classList.contains('cjv-stage')")
    page.keyboard.press("Home")
    page.wait_for_timeout(300)  # the kernel-side sync is throttled; read the browser's own state
    k0 = page.evaluate("() => document.querySelector('.cjv-root').parentElement.chrisViewer.nv.frac2vox("
                       "document.querySelector('.cjv-root').parentElement.chrisViewer.nv.scene.crosshairPos)[2]")
    page.keyboard.press("ArrowUp")
    k1 = page.evaluate("() => document.querySelector('.cjv-root').parentElement.chrisViewer.nv.frac2vox("
                       "document.querySelector('.cjv-root').parentElement.chrisViewer.nv.scene.crosshairPos)[2]")
    page.keyboard.press("End")
    k2 = page.evaluate("() => document.querySelector('.cjv-root').parentElement.chrisViewer.nv.frac2vox("
                       "document.querySelector('.cjv-root').parentElement.chrisViewer.nv.scene.crosshairPos)[2]")
    assert (k0, k1, k2) == (0, 1, 11), (k0, k1, k2)
    page.keyboard.press("3")
    page.wait_for_function(
        "() => document.querySelector('.cjv-root').parentElement.chrisViewer.model.get('view_layout') === 'coronal'")
    page.keyboard.press("1")
    page.wait_for_function(
        "() => document.querySelector('.cjv-root').parentElement.chrisViewer.model.get('view_layout') === 'mpr'")
    assert page.evaluate("() => jupyterapp.shell.currentWidget.content.activeCell.model.type") == "code"
    page.wait_for_timeout(500)
    # the MPR layout leaves a quadrant free: the information box sits there, off the tiles and
    # their orientation markers (its long first line may reach a little over the axial tile)
    overlap = page.evaluate("""() => {
        const v = document.querySelector('.cjv-root').parentElement.chrisViewer;
        const c = v.nv.canvas, info = document.querySelector('.cjv-info');
        const cr = c.getBoundingClientRect(), ir = info.getBoundingClientRect();
        const k = c.width / cr.width;
        const box = [ir.left - cr.left, ir.top - cr.top, ir.width, ir.height];
        const tiles = v.nv.screenSlices.filter((s) => s.axCorSag <= 2).map((s) => {
            let [l, t, w, h] = s.leftTopWidthHeight; if (w < 0) { l += w; w = -w; }
            return [l / k, t / k, w / k, h / k]; });
        const area = (a, b) => Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]))
            * Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
        return {tiles: tiles.length, covered: tiles.reduce((n, t) => n + area(box, t), 0),
                corner: info.dataset.corner, box};
    }""")
    assert overlap["tiles"] == 3 and overlap["corner"] == "br", overlap
    assert overlap["covered"] < 0.15 * overlap["box"][2] * overlap["box"][3], overlap
    first.screenshot(path=str(artifact_path("viewer-ux-mpr-info.png")))
    page.keyboard.press("i")
    first.locator(".cjv-info").wait_for(state="hidden")
    first.screenshot(path=str(artifact_path("viewer-ux-info-off.png")))
