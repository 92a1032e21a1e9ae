"""Series -> volume: slice order, geometry, rescale, multi-frame, RLE, NIfTI round trip, ITK."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from chris_jupyter.dicom import synth
from chris_jupyter.dicom.volume import Volume, VolumeError, load_nifti, load_series, to_itk


def _check(vol: Volume, info) -> None:
    assert np.array_equal(vol.data, info.phantom.volume())
    assert np.allclose(vol.spacing, info.spacing, atol=1e-4)
    assert np.allclose(vol.origin, info.origin, atol=1e-4)
    assert np.allclose(vol.direction, info.direction, atol=1e-5)


@pytest.mark.parametrize("oblique", [False, True, -30.0])
def test_ct_series_geometry_and_values(tmp_path, oblique):
    info = synth.write_ct_series(tmp_path, n_slices=20, rows=40, cols=32, spacing=(0.8, 0.6, 2.5),
                                 oblique=oblique)
    vol = load_series(reversed(info.paths))
    _check(vol, info)
    assert vol.data.dtype == np.int16
    # Known structures in HU, at known voxels.
    cz, cy, cx = info.phantom.cube
    assert (vol.data[cz, cy, cx] == 1000).all()
    assert vol.data[info.phantom.sphere_center] == 300
    assert vol.data[0, 0, 0] == -1000
    # The affine maps each voxel to the position DICOM gives for it.
    ds = pydicom.dcmread(vol.metadata["files"][7])
    assert np.allclose(vol.world(7, 0, 0), [float(v) for v in ds.ImagePositionPatient], atol=1e-4)
    r = np.array([float(v) for v in ds.ImageOrientationPatient[:3]])
    c = np.array([float(v) for v in ds.ImageOrientationPatient[3:]])
    expected = np.array([float(v) for v in ds.ImagePositionPatient]) + 3 * 0.8 * r + 5 * 0.6 * c
    assert np.allclose(vol.world(7, 5, 3), expected, atol=1e-4)


def test_order_comes_from_geometry_not_names(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=8, rows=16, cols=16, shuffle_names=False)
    # Swap the file names of two slices: the names now lie about the order.
    a, b = info.paths[1], info.paths[5]
    shutil.move(a, tmp_path / "tmp.dcm")
    shutil.move(b, a)
    shutil.move(tmp_path / "tmp.dcm", b)
    vol = load_series(sorted(tmp_path.iterdir()))
    assert np.array_equal(vol.data, info.phantom.volume())


def test_folder_argument_skips_non_dicom(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=4, rows=16, cols=16)
    (tmp_path / "notes.txt").write_text("hello")
    _check(load_series(tmp_path), info)


def test_mr_series_unsigned_without_rescale(tmp_path):
    info = synth.write_mr_series(tmp_path, n_slices=6, rows=16, cols=16)
    vol = load_series(info.paths)
    assert vol.data.dtype == np.uint16
    _check(vol, info)


def test_rle_lossless(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=5, rows=32, cols=32, transfer_syntax="rle")
    assert pydicom.dcmread(info.paths[0]).file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    _check(load_series(info.paths), info)


@pytest.mark.parametrize("enhanced", [True, False])
def test_multiframe(tmp_path, enhanced):
    info = synth.write_multiframe(tmp_path / "mf.dcm", n_frames=10, rows=24, cols=20,
                                  enhanced=enhanced, oblique=True)
    _check(load_series(info.paths[0]), info)


def test_per_slice_rescale_gives_float(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=3, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[0])
    ds.RescaleSlope = "0.5"
    ds.save_as(info.paths[0])
    vol = load_series(info.paths)
    assert vol.data.dtype == np.float32
    z = info.sop_uids.index(ds.SOPInstanceUID)
    stored = info.phantom.slice_values(z).astype(float) + 1024
    assert np.allclose(vol.data[z], stored * 0.5 - 1024)


def test_pydicom_files():
    ct = get_testdata_file("CT_small.dcm", download=False)
    vol = load_series([ct])
    ds = pydicom.dcmread(ct)
    assert vol.shape == (1, 128, 128)
    assert np.array_equal(vol.data[0], ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    dose = get_testdata_file("rtdose.dcm", download=False)
    vol = load_series([dose])
    ds = pydicom.dcmread(dose)
    assert vol.shape == (15, 10, 10) and vol.spacing[2] == pytest.approx(5.0)
    assert np.allclose(vol.data.max(), ds.pixel_array.max() * float(ds.DoseGridScaling))


def test_mixed_series_is_an_error(tmp_path):
    a = synth.write_ct_series(tmp_path / "a", n_slices=2, rows=8, cols=8)
    b = synth.write_ct_series(tmp_path / "b", n_slices=2, rows=8, cols=8)
    with pytest.raises(VolumeError, match="2 different series"):
        load_series(a.paths + b.paths)


@pytest.mark.parametrize("tag", ["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"])
def test_missing_geometry_is_an_error(tmp_path, tag):
    info = synth.write_ct_series(tmp_path, n_slices=3, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[1])
    delattr(ds, tag)
    ds.save_as(info.paths[1])
    with pytest.raises(VolumeError, match=tag):
        load_series(info.paths)


def test_duplicate_and_irregular_positions(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=4, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[3])
    ds.ImagePositionPatient = pydicom.dcmread(info.paths[2]).ImagePositionPatient
    ds.save_as(tmp_path / "dup.dcm")
    with pytest.raises(VolumeError, match="share one position"):
        load_series(info.paths[:3] + [tmp_path / "dup.dcm"])
    with pytest.raises(VolumeError, match="not uniform"):
        load_series([info.paths[0], info.paths[1], info.paths[3]])
    vol = load_series([info.paths[0], info.paths[1], info.paths[3]], allow_irregular=True)
    assert vol.shape[0] == 3


def test_nifti_round_trip(tmp_path):
    info = synth.write_ct_series(tmp_path / "s", n_slices=6, rows=12, cols=10, oblique=True,
                                 spacing=(0.9, 0.8, 3.0))
    vol = load_series(info.paths)
    path = vol.to_nifti(tmp_path / "v.nii")
    img = nib.load(path)
    assert img.header["sform_code"] == 1 and img.shape == (10, 12, 6)
    # nibabel's RAS affine is the LPS affine with x and y negated.
    assert np.allclose(img.affine, np.diag([-1, -1, 1, 1]) @ vol.affine, atol=1e-4)
    assert nib.aff2axcodes(img.affine) == ("L", "P", "S")
    for back in (load_nifti(path), load_nifti(vol.to_nifti_bytes())):
        assert back.data.dtype == vol.data.dtype
        assert np.array_equal(back.data, vol.data)
        assert np.allclose(back.affine, vol.affine, atol=1e-4)
        assert np.allclose(back.direction, vol.direction, atol=1e-5)
    assert path.read_bytes() == vol.to_nifti_bytes()
    with pytest.raises(ValueError):
        vol.to_nifti(tmp_path / "v.nii.gz")


def test_to_itk(tmp_path):
    import itk  # itk-core, in the test extra
    info = synth.write_ct_series(tmp_path, n_slices=5, rows=12, cols=10, oblique=True)
    vol = load_series(info.paths)
    image = to_itk(vol)
    assert tuple(image.GetLargestPossibleRegion().GetSize()) == (10, 12, 5)
    assert np.allclose(tuple(image.GetSpacing()), vol.spacing)
    assert np.allclose(tuple(image.GetOrigin()), vol.origin)
    assert np.allclose(itk.array_from_matrix(image.GetDirection()), vol.direction)
    assert np.array_equal(itk.array_view_from_image(image), vol.data)
    # ITK maps index -> LPS point exactly as our affine does.
    point = image.TransformIndexToPhysicalPoint([3, 4, 2])
    assert np.allclose(tuple(point), vol.world(2, 4, 3), atol=1e-4)


@pytest.mark.parametrize("name", ["MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm"])
def test_compressed_pydicom_files_match_uncompressed(name):
    ref = load_series([get_testdata_file("MR_small.dcm", download=False)])
    vol = load_series([get_testdata_file(name, download=False)])
    assert np.array_equal(vol.data, ref.data)
    assert np.allclose(vol.affine, ref.affine)


def test_jpeg2000_lossless_series(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=4, rows=32, cols=32, transfer_syntax="j2k")
    assert pydicom.dcmread(info.paths[0]).file_meta.TransferSyntaxUID == pydicom.uid.JPEG2000Lossless
    _check(load_series(info.paths), info)


def test_2d_image_without_geometry():
    path = get_testdata_file("JPGExtended.dcm", download=False)
    with pytest.raises(VolumeError, match="ImageOrientationPatient"):
        load_series([path])
    vol = load_series([path], allow_missing_geometry=True)
    assert vol.shape == (1, 1024, 256) and np.allclose(vol.direction, np.eye(3))
    assert vol.data.max() > 0


def test_colour_is_a_clear_error():
    with pytest.raises(VolumeError, match="colour"):
        load_series([get_testdata_file("SC_rgb_jpeg_dcmtk.dcm", download=False)])


def test_to_itk_without_itk_says_how_to_get_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "itk", None)  # makes `import itk` raise ImportError
    vol = Volume(np.zeros((2, 3, 4), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    with pytest.raises(ImportError, match="pip install itk"):
        to_itk(vol)


def test_nifti_bytes_are_uncompressed_nifti1():
    vol = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), (0.5, 0.6, 2.0), (1.0, 2.0, 3.0))
    data = vol.to_nifti_bytes()
    assert data[344:348] == b"n+1\0"  # single-file NIfTI-1 magic, not gzip
    back = load_nifti(data)
    assert back.data[1, 2, 3] == 23 and back.spacing == pytest.approx((0.5, 0.6, 2.0))
    assert back.origin == pytest.approx((1.0, 2.0, 3.0))
