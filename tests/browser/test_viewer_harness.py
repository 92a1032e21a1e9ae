"""The bundled viewer in real Chromium, on a plain page with an anywidget-like model.

A CT-like phantom with known structures (air, tissue cylinder, lung box, bone
sphere; anisotropic 0.8 x 0.8 x 2.5 mm voxels) is served from 127.0.0.1. Pixel
values are read back from the canvas at the screen position of known world points.
"""

from __future__ import annotations

import numpy as np
import pytest

from chris_jupyter.widgets import harness as H
from chris_jupyter.widgets.viewer import PRESETS
from tests.browser.viewer_page import get as trait
from tests.browser.viewer_page import gray, open_viewer, page_xy, pixels, screen, set_traits
from tests.fixtures.browser import artifact_path

pytestmark = pytest.mark.browser

BONE = H.BONE_CENTER_MM
TISSUE_MM = (0.0, 20.0, 0.0)  # inside the body cylinder, away from bone and lung
AIR_MM = (0.0, -35.0, 0.0)  # outside the body (radius 30 mm), inside the field of view
LUNG_MM = (-16.5, 0.0, 0.0)  # centre of the lung box
TOL = 8  # grey levels: linear interpolation at pixel centres


def expected(hu: float, window: float, level: float) -> float:
    lo = level - window / 2
    return min(255.0, max(0.0, (hu - lo) / window * 255.0))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer-harness")
    files = H.write_phantom(root)
    backend = root / "chris" / "api" / "v1" / "volumes"  # stands in for the backend route
    backend.mkdir(parents=True)
    (backend / "vol-0001").write_bytes(files["ct"].read_bytes())
    (backend / "tmp:u-0001").write_bytes(files["ct"].read_bytes())  # an array a kernel sent
    # the series' own window (W 400 / L 240) as the NIfTI display range, as the backend writes it
    import nibabel as nib

    img = nib.load(files["ct"])
    img.header["cal_min"], img.header["cal_max"] = 40.0, 440.0
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header), str(root / "windowed.nii"))
    H.write_harness(root, source_url="phantom.nii")
    with H.serve_directory(root) as url:
        yield url


def test_loads_over_loopback_without_pixels_in_state(site, page):
    open_viewer(page, site)
    fetched = [u for u in page.requested if u.endswith(".nii")]
    # one full binary GET (+ two small Range GETs for the first-slice preview)
    assert set(fetched) == {f"{site}phantom.nii"} and len(fetched) <= 3
    state = page.evaluate("JSON.stringify(model.state)")
    assert len(state) < 4000, "widget state must not carry pixels"
    assert trait(page, "position_mm") == pytest.approx([0, 0, 0], abs=0.5)
    assert trait(page, "window") > 0


@pytest.mark.parametrize("preset", ["ct-brain", "ct-lung", "ct-bone", "ct-abdomen"])
def test_presets_set_pixels(site, page, preset):
    open_viewer(page, site, crosshair=False, preset=preset)
    window, level = PRESETS[preset]
    assert (trait(page, "window"), trait(page, "level")) == (window, level)
    for mm, hu in [(BONE, H.BONE), (TISSUE_MM, H.TISSUE), (AIR_MM, H.AIR), (LUNG_MM, H.LUNG)]:
        assert gray(page, mm) == pytest.approx(expected(hu, window, level), abs=TOL), (mm, hu)


def test_window_level_traits_change_pixels(site, page):
    open_viewer(page, site, crosshair=False, preset="ct-brain")
    assert gray(page, TISSUE_MM) == pytest.approx(127.5, abs=TOL)
    set_traits(page, window=400.0, level=240.0)  # tissue now at the bottom quarter
    assert gray(page, TISSUE_MM) == pytest.approx(expected(40, 400, 240), abs=TOL)


def test_mr_auto_uses_percentiles(site, page):
    open_viewer(page, site, crosshair=False, preset="mr-auto")
    ct, _ = H.phantom()
    lo, hi = np.percentile(ct[ct != 0], [1, 99])
    w, lvl = trait(page, "window"), trait(page, "level")
    assert (lvl - w / 2, lvl + w / 2) == (pytest.approx(lo, abs=1), pytest.approx(hi, abs=1))


def test_three_views_agree_on_crosshair(site, page):
    open_viewer(page, site, crosshair=False, preset="ct-brain")
    ijk = [62, 40, 20]  # a voxel centre inside the bone sphere
    mm = (H.phantom_affine() @ [*ijk, 1])[:3].tolist()
    set_traits(page, position_mm=mm)
    page.wait_for_function("model.get('ijk')[0] === 62")
    for view in (0, 1, 2):
        assert gray(page, mm, view) == pytest.approx(255, abs=TOL), view
    assert trait(page, "ijk") == ijk  # through the file's affine
    # with the crosshair shown, each view has red crosshair pixels through that point
    set_traits(page, crosshair=True)
    for view in (0, 1, 2):
        x, y = screen(page, mm, view)
        ring = [(x + dx, y) for dx in range(-2, 3)] + [(x, y + dy) for dy in range(-2, 3)]
        assert any(r > 150 and g < 100 for r, g, _b, _a in pixels(page, ring)), view


def test_ijk_trait_moves_crosshair(site, page):
    open_viewer(page, site, crosshair=False)
    set_traits(page, ijk=[10, 20, 30])
    page.wait_for_function("model.get('position_mm')[2] > 10")
    aff = H.phantom_affine()
    assert trait(page, "position_mm") == pytest.approx(
        [aff[a, 3] + v * aff[a, a] for a, v in enumerate([10, 20, 30])], abs=1e-3
    )


def test_anisotropic_spacing_keeps_sphere_round(site, page):
    open_viewer(page, site, crosshair=False, preset="ct-brain")
    set_traits(page, position_mm=list(BONE))
    cx, cy = screen(page, BONE, 1)  # coronal: horizontal = x (0.8 mm), vertical = z (2.5 mm)
    row = pixels(page, [(cx + d, cy) for d in range(-80, 81)])
    col = pixels(page, [(cx, cy + d) for d in range(-80, 81)])
    width = sum(p[0] > 200 for p in row)
    height = sum(p[0] > 200 for p in col)
    assert width > 10
    assert height / width == pytest.approx(1.0, abs=0.2)  # voxel counts differ 3x


def test_label_overlay_colours_and_opacity(site, page):
    open_viewer(
        page,
        site,
        crosshair=False,
        preset="ct-lung",
        overlay_url="labels.nii",
        overlay_opacity=1.0,
        label_colors={"1": "#00ff00", "2": "#0000ff"},
    )
    ((r, g, b, _),) = pixels(page, [screen(page, BONE, 0)])
    assert g > 200 and r < 60 and b < 60
    ((r, g, b, _),) = pixels(page, [screen(page, LUNG_MM, 0)])
    assert b > 200 and r < 60 and g < 60
    ((r, g, b, _),) = pixels(page, [screen(page, TISSUE_MM, 0)])  # label 0 stays transparent
    assert abs(r - g) < 10 and abs(g - b) < 10
    set_traits(page, overlay_opacity=0.0)
    ((r, g, b, _),) = pixels(page, [screen(page, BONE, 0)])
    assert r == g == b


def test_click_and_scroll_update_position(site, page):
    open_viewer(page, site, crosshair=False)
    target = (10.0, -12.0, 0.0)
    page.mouse.click(*page_xy(page, screen(page, target, 0)))
    page.wait_for_function("Math.abs(model.get('position_mm')[0] - 10) < 1.5")
    x, y, z = trait(page, "position_mm")
    assert (x, y) == (pytest.approx(10, abs=1), pytest.approx(-12, abs=1))
    centre = (H.phantom_affine() @ [60, 32, 20, 1])[:3].tolist()  # a voxel centre
    set_traits(page, position_mm=centre)
    z = centre[2]
    page.mouse.move(*page_xy(page, screen(page, centre, 0)))
    page.mouse.wheel(0, -100)
    page.wait_for_function(f"Math.abs(model.get('position_mm')[2] - {z}) > 1")
    assert abs(trait(page, "position_mm")[2] - z) == pytest.approx(2.5, abs=0.01)


def test_window_drag_changes_window_level(site, page):
    open_viewer(page, site, preset="ct-brain", tool="window")
    start = page_xy(page, screen(page, TISSUE_MM, 0))
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 60, start[1] - 40, steps=5)
    page.mouse.up()
    page.wait_for_function("model.get('preset') === ''")
    assert (trait(page, "window"), trait(page, "level")) != (80, 40)


def test_distance_and_point_annotations(site, page):
    open_viewer(page, site, crosshair=False, tool="measure", user="alice")
    a, b = (-20.0, -10.0, 0.0), (10.0, 10.0, 0.0)
    pa, pb = page_xy(page, screen(page, a, 0)), page_xy(page, screen(page, b, 0))
    page.mouse.move(*pa)
    page.mouse.down()
    page.mouse.move(*pb, steps=8)
    page.mouse.up()
    page.wait_for_function("model.get('annotations').length === 1")
    ann = trait(page, "annotations")[0]
    assert ann["kind"] == "distance" and ann["author"] == "alice"
    p, q = ann["points"]
    length = sum((u - v) ** 2 for u, v in zip(p, q, strict=True)) ** 0.5
    assert length == pytest.approx(((30**2) + (20**2)) ** 0.5, abs=1.5)
    assert page.locator(".cjv-ann-what").first.inner_text().endswith("mm")
    # the measurement stays drawn (yellow line) on its slice
    mid = ((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2)
    sa, sb = screen(page, a, 0), screen(page, b, 0)
    ((r, g, bl, _),) = pixels(page, [((sa[0] + sb[0]) / 2, (sa[1] + sb[1]) / 2)])
    assert max(r, g, bl) - min(r, g, bl) > 100, (r, g, bl, mid)  # coloured, not grey

    set_traits(page, tool="point")
    page.mouse.click(*page_xy(page, screen(page, BONE, 0)))
    page.wait_for_function("model.get('annotations').length === 2")
    point = trait(page, "annotations")[1]
    assert point["kind"] == "point"
    assert point["points"][0][:2] == pytest.approx(BONE[:2], abs=1)
    box = page.locator(".cjv-ann-text").nth(1)
    box.fill("calcified nodule")
    box.press("Enter")
    box.blur()
    page.wait_for_function("model.get('annotations')[1].text === 'calcified nodule'")
    page.locator(".cjv-ann-del").first.click()
    assert [x["kind"] for x in trait(page, "annotations")] == ["point"]


def test_annotations_and_peers_from_model_are_drawn(site, page):
    open_viewer(page, site, crosshair=False, preset="ct-brain")
    set_traits(page, peers=[{"user": "bob", "color": "#ff00ff", "position": list(TISSUE_MM)}])
    x, y = screen(page, TISSUE_MM, 0)
    cross = pixels(page, [(x + d, y) for d in range(-6, 7)])
    assert any(r > 200 and g < 80 and b > 200 for r, g, b, _ in cross)
    set_traits(
        page,
        annotations=[
            {"id": "n1", "kind": "point", "points": [list(AIR_MM)], "text": "remote", "author": "bob", "created": "x"}
        ],
    )
    ((r, g, b, _),) = pixels(page, [screen(page, AIR_MM, 0)])
    assert r > 200 and g > 150 and b < 80
    assert page.locator(".cjv-ann").count() == 1


def test_layouts_render(site, page):
    open_viewer(page, site, preset="ct-bone", view_layout="axial")
    assert page.evaluate("el.chrisViewer.nv.screenSlices.length") == 1
    set_traits(page, view_layout="3d")
    page.wait_for_timeout(300)
    h, w = page.evaluate("[el.chrisViewer.nv.canvas.height, el.chrisViewer.nv.canvas.width]")
    grid = [(x, y) for x in range(w // 4, 3 * w // 4, 20) for y in range(h // 4, 3 * h // 4, 20)]
    assert sum(max(p[:3]) > 40 for p in pixels(page, grid)) > 10  # a rendered volume
    set_traits(page, view_layout="mpr3d")
    assert page.evaluate("el.chrisViewer.nv.screenSlices.length") == 4
    page.screenshot(path=str(_artifact("viewer-harness-mpr3d.png")))


def _artifact(name):
    from tests.fixtures.browser import artifact_path

    return artifact_path(name)


def test_first_slice_preview_from_range_requests(site, page):
    """While the full volume is held back, the middle axial slice is already shown."""
    release = []

    def hold_full_download(route):
        if "range" in route.request.headers:
            route.continue_()
        else:
            release.append(route)  # answered below, after the preview is checked

    page.route("**/phantom.nii", hold_full_download)
    page.goto(f"{site}index.html?preset=%22ct-brain%22")
    page.wait_for_selector("canvas.cjv-preview")
    assert page.evaluate("model.get('status')") == "loading"
    # middle slice k=20 (z = 1.25 mm); radiological: column = 95 - i, anterior up: row = 95 - j
    probe = """([x, y]) => { const c = document.querySelector('canvas.cjv-preview');
        return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data); }"""
    assert page.evaluate(probe, [95 - 62, 95 - 47])[:3] == [255, 255, 255]  # bone
    assert abs(page.evaluate(probe, [95 - 47, 95 - 72])[0] - 127) <= 2  # tissue, 40/80
    assert page.evaluate(probe, [95 - 47, 95 - 92])[0] == 0  # air
    ranges = [u for u in page.requested if u.endswith("phantom.nii")]
    assert len(ranges) == 3  # header, slice, and the held full GET
    release[0].continue_()
    page.wait_for_function("model.get('status') === 'ready'")
    assert page.locator("canvas.cjv-preview").count() == 0
    timing = page.evaluate("el.chrisViewer.timing")
    assert timing["preview"] < timing["firstSlice"]


def test_first_slice_goes_before_the_volume_and_webgl(site, page):
    """The preview's Range requests go first: the whole-volume GET waits for the slice's bytes
    (started together, they queue behind its megabytes), and niivue's WebGL set-up, which holds
    the page's thread, waits until the slice is on screen."""
    held, seen = [], []

    def hold_slice(route):
        seen.append(route.request.headers.get("range", "full"))
        if seen[-1] not in ("full", "bytes=0-351"):
            held.append(route)  # the middle slice: answered below
        else:
            route.continue_()

    page.route("**/phantom.nii", hold_slice)
    page.goto(f"{site}index.html?preset=%22ct-brain%22")
    for _ in range(200):  # until the slice is asked for
        if held:
            break
        page.wait_for_timeout(50)
    assert held, seen
    page.wait_for_timeout(500)  # room for a request that should not come
    assert seen == ["bytes=0-351", seen[1]], seen  # no full GET yet
    timing = page.evaluate("el.chrisViewer.timing")
    assert timing["attached"] is None or timing["attached"] != timing["attached"], timing  # NaN: not yet
    held[0].continue_()
    page.wait_for_function("model.get('status') === 'ready'")
    assert seen[2] == "full", seen
    timing = page.evaluate("el.chrisViewer.timing")
    assert timing["slice"] < timing["preview"] < timing["attached"] < timing["loaded"], timing


def test_preview_opens_at_the_files_display_range(site, page):
    """Without a preset, the preview is windowed as the viewer will open: the file's display
    range (the series' own W/L), not the slice's percentiles (the picture would jump)."""
    release = []
    page.route("**/windowed.nii", lambda r: r.continue_() if "range" in r.request.headers else release.append(r))
    page.goto(f"{site}index.html?source_url=%22windowed.nii%22")
    page.wait_for_selector("canvas.cjv-preview")
    probe = """([x, y]) => { const c = document.querySelector('canvas.cjv-preview');
        return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data); }"""
    assert page.evaluate(probe, [95 - 47, 95 - 72])[0] == 0  # tissue (40 HU) at the bottom of 40..440
    assert page.evaluate(probe, [95 - 62, 95 - 47])[0] == 255  # bone
    release[0].continue_()
    page.wait_for_function("model.get('status') === 'ready'")
    assert (trait(page, "window"), trait(page, "level")) == (400, 240)


def test_volume_id_resolves_to_backend_route(site, page):
    """``volume_id`` -> ``<base_url>chris/api/v1/volumes/<id>`` (base "/" outside Jupyter)."""
    open_viewer(page, site, source_url="", volume_id="vol-0001", preset="ct-brain", crosshair=False)
    assert f"{site}chris/api/v1/volumes/vol-0001" in page.requested
    assert gray(page, BONE) == pytest.approx(255, abs=TOL)


def info_text(page) -> str:
    page.wait_for_function("() => el.querySelector('.cjv-info').textContent.includes('W ')")
    return page.evaluate("el.querySelector('.cjv-info').textContent")


def test_nifti_and_array_say_what_they_are(site, page):
    """No DICOM header behind a NIfTI file or a kernel's array: the info line says what is known
    (kind, file name, size, voxel size) and names no patient or modality (no HU)."""
    open_viewer(page, site, crosshair=False)
    assert info_text(page).splitlines()[0] == "NIfTI | phantom.nii | 96×96×40 | 0.8×0.8×2.5 mm"
    box = page.locator("canvas.cjv-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => el.querySelector('.cjv-info').textContent.split('\\n').length === 3")
    assert "HU" not in info_text(page)
    page.screenshot(path=str(artifact_path("viewer-info-nifti.png")))
    open_viewer(page, site, source_url="", volume_id="tmp:u-0001", crosshair=False)
    assert info_text(page).splitlines()[0] == "array | 96×96×40 | 0.8×0.8×2.5 mm"


def test_missing_volume_reports_error(site, page):
    query = "source_url=%22missing.nii%22"
    page.goto(f"{site}index.html?{query}")
    page.wait_for_function("String(model.get('status')).startsWith('error')")
    assert "404" in trait(page, "status")


def test_niivue_hotkey_layout_change_reaches_the_trait(site, page):
    open_viewer(page, site, view_layout="axial")
    page.evaluate("el.chrisViewer.nv.setSliceType(1)")  # what niivue's V hotkey does
    assert trait(page, "view_layout") == "coronal"


def test_dispose_releases_the_view(site, page):
    open_viewer(page, site)
    page.evaluate("window.dispose()")
    assert page.evaluate("el.chrisViewer") is None
    set_traits(page, window=10.0)  # handlers are gone: nothing throws
    assert not [c for c in page.console if c.startswith("pageerror")]
    assert page.evaluate("Object.values(model.handlers).every((fs) => fs.length === 0)")


def test_distance_in_mm_across_anisotropic_axes(site, page):
    """A coronal measurement spans x (0.8 mm voxels) and z (2.5 mm voxels)."""
    open_viewer(page, site, crosshair=False, tool="measure")
    a, b = (-20.0, 0.0, -30.0), (10.0, 0.0, 10.0)
    page.mouse.move(*page_xy(page, screen(page, a, 1)))
    page.mouse.down()
    page.mouse.move(*page_xy(page, screen(page, b, 1)), steps=8)
    page.mouse.up()
    page.wait_for_function("model.get('annotations').length === 1")
    p, q = trait(page, "annotations")[0]["points"]
    assert sum((u - v) ** 2 for u, v in zip(p, q, strict=True)) ** 0.5 == pytest.approx(50, abs=2)


def test_zoom_trait_scales_the_image(site, page):
    open_viewer(page, site, crosshair=False, view_layout="axial")
    a0, b0 = screen(page, (-10, 0, 0), 0), screen(page, (10, 0, 0), 0)
    set_traits(page, zoom=2.0)
    a1, b1 = screen(page, (-10, 0, 0), 0), screen(page, (10, 0, 0), 0)
    assert abs(b1[0] - a1[0]) == pytest.approx(2 * abs(b0[0] - a0[0]), rel=0.02)


def test_point_annotation_only_on_its_slice(site, page):
    open_viewer(page, site, crosshair=False, preset="ct-brain", view_layout="axial")
    set_traits(
        page,
        annotations=[{"id": "p", "kind": "point", "points": [list(AIR_MM)], "text": "", "author": "", "created": "x"}],
    )
    ((r, g, b, _),) = pixels(page, [screen(page, AIR_MM, 0)])
    assert (r, g, b) != (0, 0, 0)  # drawn on the slice at z = 0
    set_traits(page, position_mm=[0.0, 0.0, 30.0])
    page.wait_for_function("Math.abs(model.get('position_mm')[2] - 30) < 2")
    ((r, g, b, _),) = pixels(page, [screen(page, (AIR_MM[0], AIR_MM[1], 30.0), 0)])
    assert (r, g, b) == (0, 0, 0)  # 30 mm away: not drawn (air is black)


def test_two_views_of_one_model_stay_in_step(site, page):
    """Two views on one model (as two people would be, via the backend): a click in one
    moves the crosshair of the other, an annotation made in one shows in the other."""
    open_viewer(page, site, crosshair=False, view_layout="axial", tool="point")
    page.evaluate("""() => { const el2 = document.createElement('div'); el2.id = 'w2';
        el2.style.width = '1000px'; document.body.appendChild(el2);
        window.el2 = el2; widget.render({ model, el: el2 }); }""")
    page.wait_for_function("el2.chrisViewer && el2.chrisViewer.nv.volumes.length === 1")
    page.wait_for_function("model.get('status') === 'ready'")
    target = (10.0, -12.0, 0.0)
    page.mouse.click(*page_xy(page, screen(page, target, 0)))
    page.wait_for_function("model.get('annotations').length === 1")
    mm2 = page.evaluate(
        "Array.from(el2.chrisViewer.nv.frac2mm(el2.chrisViewer.nv.scene.crosshairPos, 0, true)).slice(0, 3)"
    )
    assert mm2[:2] == pytest.approx(target[:2], abs=1)
    assert page.locator("#w2 .cjv-ann").count() == 1


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_interpolation(site, page, mode):
    """Across the bone sphere's edge: nearest shows only the two tissue greys."""
    open_viewer(page, site, crosshair=False, preset="ct-brain", interpolation=mode)
    x, y = screen(page, BONE, 0)
    edge = pixels(page, [(x + d / 4, y) for d in range(0, 4 * 60)])
    between = [p[0] for p in edge if 10 < p[0] < 245 and abs(p[0] - 127) > 6]
    assert (len(between) == 0) == (mode == "nearest"), between[:10]


def test_quick_moves_draw_nearest_sampled_frames_then_the_chosen_sampling(site, page):
    """Scrolling through slices draws nearest-sampled frames (a fraction of trilinear sampling's
    cost on software WebGL: bench/viewer.py); soon after the last move the chosen (linear) sampling
    is back, pixels included. A single move never switches."""
    open_viewer(page, site, crosshair=False, preset="ct-brain")
    wheel = """(n) => {
        const v = document.querySelector('.cjv-root').parentElement.chrisViewer;
        const canvas = document.querySelector('.cjv-root canvas');
        const r = canvas.getBoundingClientRect();
        const seen = [];
        for (let i = 0; i < n; i++) {  // back to back, as a fast wheel does
            canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: -100, clientX: r.x + r.width / 2,
                clientY: r.y + r.height / 2, bubbles: true, cancelable: true}));
            seen.push(v.nv.opts.isNearestInterpolation);
        }
        return seen;
    }"""
    z0 = trait(page, "position_mm")[2]
    page.wait_for_timeout(300)  # the last move (the load's) well past, so the next one stands alone
    assert page.evaluate(wheel, 1) == [False]  # one step: still linear
    page.wait_for_function(f"Math.abs(model.get('position_mm')[2] - {z0}) > 1")  # it moved
    assert page.evaluate(wheel, 4)[1:] == [True, True, True]
    page.wait_for_function(
        "() => !document.querySelector('.cjv-root').parentElement.chrisViewer.nv.opts.isNearestInterpolation")
    x, y = screen(page, BONE, 0)  # linear again: grey levels between the two tissues at the bone's edge
    edge = pixels(page, [(x + d / 4, y) for d in range(0, 4 * 60)])
    assert [p[0] for p in edge if 10 < p[0] < 245 and abs(p[0] - 127) > 6]
