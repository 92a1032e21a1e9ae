"""view() turns every kind of input into a backend volume the browser fetches (no pixels in the
widget state), against a real server."""

from __future__ import annotations

import sys
import types
import uuid
from pathlib import Path

import numpy as np
import pytest

from chris_jupyter import Client
from chris_jupyter.dicom import synth
from chris_jupyter.dicom.volume import Volume
from chris_jupyter.widgets import view
from chris_jupyter.widgets.sources import ITKWIDGETS_HELP


@pytest.fixture
def client(chris_server) -> Client:
    return Client(chris_server.url, chris_server.token)


def test_ids_paths_and_search_results(client: Client, tmp_path: Path) -> None:
    pid = f"V{uuid.uuid4().hex[:6]}"
    info = synth.write_ct_series(tmp_path / "ct", n_slices=4, rows=16, cols=16, patient_id=pid)
    me = client.me()["username"]
    client.upload(tmp_path / "ct", f"home/{me}/uploads/{pid}", progress=False)
    assert view(f"series:{info.series_uid}").volume_id == f"series:{info.series_uid}"  # no server known
    assert view(f"home/{me}/uploads/{pid}", client=client).volume_id == f"path:home/{me}/uploads/{pid}"
    study = client.studies(patient_id=pid)["items"][0]
    assert view(study, client=client).volume_id == f"series:{info.series_uid}"
    assert view(study["series"][0], preset="ct-brain", client=client).window == 80
    v = view("files/ct.nii")
    assert v.source_url == "files/ct.nii" and v.volume_id == ""
    with pytest.raises(TypeError, match="cannot show"):
        view(42)


def test_arrays_and_volumes_go_to_the_backend_once(client: Client) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    v = view(arr, client=client, overlay=(arr > 10).astype(np.uint8))
    assert v.volume_id.startswith("tmp:") and v.overlay_volume_id.startswith("tmp:")
    state = v.get_state()
    assert all(not isinstance(val, bytes | memoryview) for val in state.values())  # positions, not pixels
    back = client.load_volume(v.volume_id)
    assert np.array_equal(back.data, arr)
    vol = Volume(arr.astype(np.float32), (0.5, 0.5, 2.0), (10.0, 20.0, 30.0))
    back = client.load_volume(view(vol, client=client).volume_id)
    assert np.allclose(back.spacing, (0.5, 0.5, 2.0)) and np.allclose(back.origin, (10, 20, 30))
    with pytest.raises(ValueError, match="3-D"):
        view(np.zeros((4, 4)), client=client)


def test_itkwidgets_backend_says_why_not(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "itkwidgets", None)  # not installed (it is not, here)
    with pytest.raises(ImportError) as err:
        view(np.zeros((2, 2, 2)), backend="itkwidgets", client=client)
    assert str(err.value) == ITKWIDGETS_HELP and "offline" in ITKWIDGETS_HELP


def test_itkwidgets_branch_hands_an_itk_image_with_the_geometry(client: Client, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed-itkwidgets branch of view(). itkwidgets itself cannot run here (0.32 needs the
    classic Notebook, 1.0 a CDN), so a stand-in module records what view() hands it: a real
    ``itk.Image`` (itk-core) of the library series, with its voxels and LPS geometry."""
    import itk

    handed: list = []
    stand_in = types.ModuleType("itkwidgets")
    stand_in.view = lambda image, **kw: handed.append((image, kw)) or "itkwidgets viewer"
    monkeypatch.setitem(sys.modules, "itkwidgets", stand_in)
    pid = f"I{uuid.uuid4().hex[:6]}"
    info = synth.write_ct_series(tmp_path / "ct", n_slices=4, rows=12, cols=10, patient_id=pid, oblique=True)
    me = client.me()["username"]
    client.upload(tmp_path / "ct", f"home/{me}/uploads/{pid}", progress=False)
    assert view(f"series:{info.series_uid}", backend="itkwidgets", client=client) == "itkwidgets viewer"
    (image, _kw), = handed
    expected = client.load_volume(f"series:{info.series_uid}")
    assert np.array_equal(itk.array_view_from_image(image), expected.data)
    assert np.allclose(tuple(image.GetSpacing()), expected.spacing)
    assert np.allclose(tuple(image.GetOrigin()), expected.origin)
    assert np.allclose(itk.array_from_matrix(image.GetDirection()), expected.direction)
    with pytest.raises(ValueError, match="not URLs"):
        view("files/ct.nii", backend="itkwidgets", client=client)


def test_an_itk_image_goes_to_the_backend_with_its_geometry(client: Client) -> None:
    import itk

    arr = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    image = itk.image_from_array(arr)
    image.SetSpacing([0.5, 0.7, 2.5])
    image.SetOrigin([-10.0, 20.0, 5.0])
    direction = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    image.SetDirection(itk.matrix_from_array(direction))
    back = client.load_volume(view(image, client=client).volume_id)
    assert np.array_equal(back.data, arr)
    assert np.allclose(back.spacing, (0.5, 0.7, 2.5)) and np.allclose(back.origin, (-10, 20, 5))
    assert np.allclose(back.direction, direction)


def test_view_of_what_cannot_be_a_volume_raises_the_servers_reason(client: Client, tmp_path: Path) -> None:
    """Issue 12.5: the error appears in the notebook, before a viewer is drawn."""
    from chris_jupyter.client import BadRequestError, NotFoundError

    me = client.me()["username"]
    with pytest.raises(NotFoundError, match="no such file or folder"):
        view(f"home/{me}/uploads/no-such-{uuid.uuid4().hex[:6]}", client=client)
    note = tmp_path / "notes.txt"
    note.write_text("not an image\n")
    txt = f"home/{me}/uploads/notes-{uuid.uuid4().hex[:6]}.txt"
    client.upload(note, txt, progress=False)
    with pytest.raises(BadRequestError, match="cannot make a volume") as refused:
        view(txt, client=client)
    # the reason names the library path, never where the server keeps its files
    assert f"read {txt}:" in str(refused.value) and "/library/" not in str(refused.value)
    with pytest.raises(NotFoundError, match="no such volume"):
        view(np.zeros((2, 2, 2)), overlay="tmp:nobody-0", client=client)


def test_a_series_opens_at_its_own_window(client: Client, tmp_path: Path) -> None:
    """Issue 12.2: the NIfTI a viewer fetches carries the series' WindowCenter/WindowWidth."""
    pid = f"W{uuid.uuid4().hex[:6]}"
    info = synth.write_ct_series(tmp_path / "ct", n_slices=3, rows=8, cols=8, patient_id=pid)  # W400/L40
    me = client.me()["username"]
    client.upload(tmp_path / "ct", f"home/{me}/uploads/{pid}", progress=False)
    import nibabel as nib

    hdr = nib.Nifti1Image.from_bytes(client.volume_bytes(f"series:{info.series_uid}")).header
    assert (float(hdr["cal_min"]), float(hdr["cal_max"])) == (40 - 200, 40 + 200)


def test_a_viewer_of_library_data_imports_no_numpy() -> None:
    """A notebook's first viewer of a volume id or a path does not wait for numpy (about a tenth of
    a second of a cold kernel's first cell): only arrays and Volumes need it, and they bring it."""
    import subprocess

    code = ("import sys; from chris_jupyter.widgets import Viewer, view; import chris_jupyter.client; "
            "from chris_jupyter.widgets.sources import volume_id_of; "
            "assert volume_id_of('home/a/b.nii')['volume_id'] == 'path:home/a/b.nii'; "
            "print(sorted(m for m in ('numpy', 'pydicom', 'chris_jupyter.nifti') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
