"""NIfTI -> DICOM series: the series read back (our loader and dcmtk's) puts every voxel's value
at the same place in the patient as the NIfTI did, for oblique, left-handed and float volumes."""

from __future__ import annotations

import subprocess

import nibabel as nib
import numpy as np
import pydicom
import pytest

from chris_jupyter.dicom.from_nifti import write_series_from_nifti
from chris_jupyter.dicom.volume import load_series


def _rotation(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _nifti(tmp_path, data: np.ndarray, linear: np.ndarray, origin) -> object:
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = linear, origin
    path = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return path, affine


@pytest.mark.parametrize("case", ["oblique-int", "left-handed-float"])
def test_every_voxel_lands_where_the_nifti_put_it(tmp_path, case) -> None:
    rng = np.random.default_rng(7)
    if case == "oblique-int":
        data = rng.integers(0, 4000, size=(12, 10, 7)).astype(np.int16)
        linear = _rotation(20) @ np.diag([0.8, 0.9, 2.5])
    else:  # the usual radiological NIfTI: x flipped (LAS), float values
        data = rng.normal(100, 30, size=(9, 11, 6)).astype(np.float32)
        linear = np.diag([-1.2, 1.0, 3.0])
    path, affine = _nifti(tmp_path, data, linear, (-40.0, 12.5, -30.0))
    written = write_series_from_nifti(path, tmp_path / "series", patient_id="P1", series_description="T1")
    assert len(written.paths) == data.shape[2] and not list((tmp_path / "series").glob("*.part"))

    vol = load_series(tmp_path / "series")
    to_index = np.linalg.inv(vol.to_ras_affine())
    tolerance = 0 if case == "oblique-int" else (data.max() - data.min()) / 65535
    for i, j, k in [(0, 0, 0), (11 if case == "oblique-int" else 8, 3, 5), (4, 9, 2), (2, 5, 1)]:
        world = affine @ np.array([i, j, k, 1.0])
        x, y, z = np.rint((to_index @ world)[:3]).astype(int)
        assert abs(float(vol.data[z, y, x]) - float(data[i, j, k])) <= tolerance + 1e-3, (i, j, k)
    np.testing.assert_allclose(sorted(np.abs(np.linalg.eigvals(vol.to_ras_affine()[:3, :3] @
                                                                 vol.to_ras_affine()[:3, :3].T)) ** 0.5),
                               sorted(np.abs(np.diag(linear)) if case != "oblique-int" else [0.8, 0.9, 2.5]),
                               rtol=1e-5)
    ds = pydicom.dcmread(written.paths[0])
    assert ds.PatientID == "P1" and ds.SeriesDescription == "T1" and ds.Modality == "MR"


@pytest.mark.orthanc  # dcmtk: installed by scripts/install-deps --test; missing, the run fails
def test_dcmtk_reads_the_written_files(tmp_path) -> None:
    path, _ = _nifti(tmp_path, np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3), np.eye(3), (0, 0, 0))
    written = write_series_from_nifti(path, tmp_path / "series")
    out = subprocess.run(["dcmdump", "-q", str(written.paths[1])], capture_output=True, text=True, check=True)
    assert "(0020,0032) DS [0\\0\\1]" in out.stdout and "(0028,0010) US 5" in out.stdout


def test_not_a_volume_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4), np.uint8), np.eye(4)), path)
    with pytest.raises(ValueError, match="a 3-D volume is needed"):
        write_series_from_nifti(path, tmp_path / "out")
    with pytest.raises(ValueError, match="modality must be one of"):
        write_series_from_nifti(path, tmp_path / "out", modality="XA")
