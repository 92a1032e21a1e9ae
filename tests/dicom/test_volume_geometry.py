"""Volume geometry for acquisitions other than head-first axial.

The expected NIfTI affine is computed here from the DICOM tags alone, by the DICOM -> NIfTI
rule: voxel (i, j, k) = (column, row, slice) maps to
``IPP_first + i * row_cos * PixelSpacing[1] + j * col_cos * PixelSpacing[0] + k * step``,
where the slices are ordered along ``row_cos x col_cos`` and ``step`` is the move from one
slice's ImagePositionPatient to the next (not the normal, when the gantry is tilted); then the
first two world axes are negated (LPS -> RAS). nibabel reads what our code and pl-dcm2nifti
wrote, and the two are compared.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from chris_jupyter.dicom import synth
from chris_jupyter.dicom.volume import load_nifti, load_series

REPO = Path(__file__).resolve().parents[2]
DCM2NIFTI = REPO / "plugins" / "pl-dcm2nifti" / "dcm2nifti.py"
ROWS, COLS, N = 6, 5, 4
SPACING = (0.7, 0.9)  # PixelSpacing: (between rows, between columns)
GAP = 2.5


def _rot(axis: str, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])}[axis]


# name -> (row_cos, col_cos, step between consecutive InstanceNumbers, in LPS)
ORIENTATIONS = {
    "axial": ([1, 0, 0], [0, 1, 0], [0, 0, GAP]),
    "axial_decreasing": ([1, 0, 0], [0, 1, 0], [0, 0, -GAP]),  # instance 1 is the top slice
    "axial_feet_first": ([-1, 0, 0], [0, 1, 0], [0, 0, -GAP]),  # FFS: x flips, normal points down
    "sagittal": ([0, 1, 0], [0, 0, -1], [GAP, 0, 0]),
    "sagittal_decreasing": ([0, 1, 0], [0, 0, -1], [-GAP, 0, 0]),
    "coronal": ([1, 0, 0], [0, 0, -1], [0, -GAP, 0]),
    "oblique": ([1, 0, 0], list(_rot("x", 20) @ [0, 1, 0]), list(_rot("x", 20) @ [0, 0, GAP])),
    # gantry tilt: the plane is tilted, the table still moves along the patient's z axis
    "gantry_tilt_x": ([1, 0, 0], list(_rot("x", 15) @ [0, 1, 0]), [0, 0, GAP]),
    "gantry_tilt_y": (list(_rot("y", 12) @ [1, 0, 0]), [0, 1, 0], [0, 0, GAP]),
}


def write(folder: Path, name: str) -> list[Path]:
    """A small synthetic series, then its geometry rewritten to ``ORIENTATIONS[name]``."""
    row, col, step = (np.asarray(v, dtype=float) for v in ORIENTATIONS[name])
    info = synth.write_mr_series(folder, n_slices=N, rows=ROWS, cols=COLS, series_description=name)
    origin = np.array([-12.5, 30.0, 7.25])
    for p in info.paths:
        ds = pydicom.dcmread(p)
        z = int(ds.InstanceNumber) - 1
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row, *col)]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in origin + z * step]
        ds.PixelSpacing = [str(SPACING[0]), str(SPACING[1])]
        if "SliceLocation" in ds:
            del ds.SliceLocation
        ds.save_as(p)
    return info.paths


def expected_ras_affine(files: list[Path]) -> np.ndarray:
    dss = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    iop = np.array([float(v) for v in dss[0].ImageOrientationPatient])
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    pos = sorted((np.array([float(v) for v in d.ImagePositionPatient]) for d in dss),
                 key=lambda p: float(p @ normal))
    dr, dc = (float(v) for v in dss[0].PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0] = row * dc
    lps[:3, 1] = col * dr
    lps[:3, 2] = (pos[-1] - pos[0]) / (len(pos) - 1)
    lps[:3, 3] = pos[0]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def pixel_of_first_slice(files: list[Path]) -> np.ndarray:
    """The stored pixels of the slice nearest the start of the normal, (column, row) order."""
    dss = [pydicom.dcmread(p) for p in files]
    iop = np.array([float(v) for v in dss[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    first = min(dss, key=lambda d: float(np.array([float(v) for v in d.ImagePositionPatient]) @ normal))
    return first.pixel_array.T


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_nifti_affine_of_each_orientation(tmp_path: Path, name: str) -> None:
    files = write(tmp_path / name, name)
    vol = load_series(files)
    img = nib.Nifti1Image.from_bytes(vol.to_nifti_bytes())
    assert img.shape == (COLS, ROWS, N)
    np.testing.assert_allclose(img.affine, expected_ras_affine(files), atol=1e-4)
    # and back: reading our NIfTI gives the same geometry (a tilt's shear included)
    np.testing.assert_allclose(load_nifti(vol.to_nifti_bytes()).affine, vol.affine, atol=1e-4)
    # voxel k=0 holds the first slice along the normal, unflipped
    np.testing.assert_array_equal(np.asarray(img.dataobj)[:, :, 0], pixel_of_first_slice(files))


@pytest.mark.parametrize("name", ["sagittal", "axial_feet_first", "gantry_tilt_x", "coronal"])
def test_dcm2nifti_plugin_affine(tmp_path: Path, name: str) -> None:
    files = write(tmp_path / "in", name)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([sys.executable, str(DCM2NIFTI), "--uncompressed", str(tmp_path / "in"), str(out)],
                   check=True, capture_output=True)
    (nii,) = out.glob("*.nii")
    img = nib.load(nii)
    assert img.shape == (COLS, ROWS, N)
    np.testing.assert_allclose(img.affine, expected_ras_affine(files), atol=1e-4)
    # the platform's own conversion agrees with the plugin's
    ours = nib.Nifti1Image.from_bytes(load_series(files).to_nifti_bytes())
    np.testing.assert_allclose(ours.affine, img.affine, atol=1e-4)


def test_cached_volume_follows_a_new_instance(backend, alice, tmp_path: Path) -> None:
    files = write(tmp_path / "s", "sagittal")
    extra = sorted(files, key=lambda p: int(pydicom.dcmread(p).InstanceNumber))[-1]
    lib = backend.library
    for p in files:
        if p != extra:
            t = lib.begin_upload(alice, f"home/alice/uploads/s/{p.name}")
            t.temp.write(p.read_bytes())
            lib.finish_upload(t)
    first = nib.load(backend.dicom.volume(alice, "path:home/alice/uploads/s"))
    assert first.shape == (COLS, ROWS, N - 1)
    again = nib.load(backend.dicom.volume(alice, "path:home/alice/uploads/s"))
    assert again.shape == first.shape
    t = lib.begin_upload(alice, f"home/alice/uploads/s/{extra.name}")
    t.temp.write(extra.read_bytes())
    lib.finish_upload(t)
    for vid in ("path:home/alice/uploads/s", f"series:{pydicom.dcmread(extra).SeriesInstanceUID}"):
        grown = nib.load(backend.dicom.volume(alice, vid))
        assert grown.shape == (COLS, ROWS, N), vid
        np.testing.assert_allclose(grown.affine, expected_ras_affine(files), atol=1e-4)
