"""The Viewer's Python side: traits, presets, annotations, `view()`, and the bundle."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import traitlets

from chris_jupyter.widgets import Viewer, view
from chris_jupyter.widgets import harness as H
from chris_jupyter.widgets.viewer import PRESETS

STATIC = Path(H.__file__).parent / "static"
REPO = Path(__file__).resolve().parents[2]

# URLs that occur in the bundle only inside shader comments and error messages:
# never fetched. A new entry here must be checked by reading the bundle.
KNOWN_INERT_URLS = {
    "https://en.wikipedia.org/wiki/Alpha_compositing",
    "https://github.com/eskimoblood/processingSketches/blob/master/data/shader/shinyvert.glsl",
    "https://webglfundamentals.org/webgl/webgl-3d-textures-repeat-clamp.html",
    "https://stackoverflow.com/questions/7777913/how-to-render-depth-linearly-in-modern-opengl-"
    "with-gl-fragcoord-z-in-fragment-sh",
    "https://stackoverflow.com/questions/5879403/opengl-texture-coordinates-in-pixel-space",
    "https://math.stackexchange.com/questions/1905533/find-perpendicular-distance-from-point-to-line-in-3d",
    "https://github.com/niivue/niivue/issues",
    "https://github.com/niivue/niivue.git",
    "https://github.com/niivue/niivue",
    "https://github.com/manzt/zarrita.js/issues.",
    "https://gamedev.stackexchange.com/questions/102889/is-it-possible-to-convert-vec4-to-int-in-glsl-using-opengl-es",
    "https://bgolus.medium.com/distinctive-derivative-differences-cce38d36797b",
    "http://www.aclockworkberry.com/shader-derivative-functions/",
}


def test_state_is_small_and_pixel_free():
    v = Viewer(source_url="/files/ct.nii", preset="ct-lung")
    try:
        state = {k: x for k, x in v.get_state().items() if not k.startswith("_")}
        assert len(json.dumps(state, default=str)) < 2000
        assert (v.window, v.level) == (1500, -600)
    finally:
        v.close()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_fixed_presets_set_window_level(name):
    v = Viewer(preset=name)
    assert (v.window, v.level) == PRESETS[name]
    v.close()


def test_expected_preset_values():
    assert PRESETS == {
        "ct-brain": (80, 40),
        "ct-lung": (1500, -600),
        "ct-bone": (1800, 400),
        "ct-abdomen": (400, 40),
    }


def test_unknown_preset_and_layout_rejected():
    v = Viewer()
    with pytest.raises(traitlets.TraitError):
        v.preset = "ct-teeth"
    with pytest.raises(traitlets.TraitError):
        v.view_layout = "quad"
    v.preset = "mr-auto"  # computed in the browser from percentiles
    v.close()


def test_layout_keyword_maps_to_view_layout():
    v = Viewer(layout="axial")
    assert v.view_layout == "axial"
    v.close()


def test_view_routes_urls_and_volume_ids():
    a = view("/files/a.nii")
    b = view("http://127.0.0.1:8888/x.nii", window=100.0, level=10.0)
    c = view("vol-7f3a")
    d = view("files/ct.nii")
    assert (a.source_url, a.volume_id) == ("/files/a.nii", "")
    assert (b.source_url, b.window, b.level) == ("http://127.0.0.1:8888/x.nii", 100, 10)
    assert (c.source_url, c.volume_id) == ("", "vol-7f3a")
    assert (d.source_url, d.volume_id) == ("files/ct.nii", "")
    with pytest.raises(TypeError):
        view(42)
    for w in (a, b, c, d):
        w.close()


def test_annotations_validated_and_normalised():
    v = Viewer(user="alice")
    p = v.add_annotation("point", [[1, 2, 3]], text="nodule")
    d = v.add_annotation("distance", [[0, 0, 0], [3, 4, 0]])
    assert p["author"] == "alice" and p["points"] == [[1.0, 2.0, 3.0]] and p["created"]
    assert v.distance_mm(d["id"]) == pytest.approx(5.0)
    with pytest.raises(traitlets.TraitError):
        v.annotations = [{"kind": "polygon", "points": []}]
    with pytest.raises(traitlets.TraitError):
        v.annotations = [{"kind": "distance", "points": [[0, 0, 0]]}]
    v.remove_annotation(p["id"])
    assert [a["id"] for a in v.annotations] == [d["id"]]
    v.close()


def test_bundle_is_self_contained():
    js = (STATIC / "viewer.js").read_text()
    assert (STATIC / "viewer.css").stat().st_size > 0
    assert not re.search(r"^\s*import\s", js, re.M), "bundle must not import other modules"
    urls = set(re.findall(r"https?://[A-Za-z0-9./_?=&%:-]+", js))
    assert urls <= KNOWN_INERT_URLS, urls - KNOWN_INERT_URLS
    assert "export" in js


def test_widget_module_is_a_loader_of_this_bundle_version():
    """The comm carries a few kB (the loader), not the 2 MB bundle; it names the bundle's
    version, the one the server extension serves (``utils/assets.py``)."""
    from chris_jupyter.utils.assets import asset

    v = Viewer()
    data, version = asset("viewer.js")
    assert len(v._esm) < 8_000 < len(data)
    assert "viewer.js?v=${BUNDLE}" in v._esm and f'const BUNDLE = "{version}";' in v._esm
    sent = []
    v.send = lambda content, buffers=None: sent.append((content, buffers))  # the comm's side
    v._send_bundle(v, {"type": "chris-viewer-bundle"}, [])
    assert sent == [({"type": "chris-viewer-bundle", "version": version}, [data])]
    v.close()


def test_viewer_import_leaves_the_panels_alone():
    """A fresh kernel's first viewer does not wait for the panels and their client code (half
    a second of the cold time to first slice); the panels still import by the same name."""
    code = ("import sys; from chris_jupyter.widgets import Viewer; "
            "assert 'chris_jupyter.widgets.panels' not in sys.modules, 'panels imported'; "
            "from chris_jupyter.widgets import JobMonitor; print(JobMonitor.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == "JobMonitor", out.stderr


def test_harness_phantom_geometry(tmp_path):
    import nibabel as nib

    files = H.write_phantom(tmp_path)
    img = nib.load(files["ct"])
    assert img.shape == H.PHANTOM_SHAPE
    assert img.header.get_zooms() == pytest.approx(H.PHANTOM_SPACING)
    data = img.get_fdata()
    centre = (H.phantom_affine() @ [62, 40, 20, 1])[:3]
    assert data[62, 40, 20] == H.BONE and centre[2] == pytest.approx(1.25)


def test_wheel_ships_the_bundle(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "chris_jupyter/widgets/static/viewer.js" in names
    assert "chris_jupyter/widgets/static/viewer.css" in names
    assert "chris_jupyter/widgets/static/loader.js" in names
    assert not any("node_modules" in n for n in names)
