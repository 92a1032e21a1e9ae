"""The DICOM reference plugins on a synthetic CT series with known geometry."""

from __future__ import annotations

import struct
import zlib

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from chris_jupyter.compute import states as st

ROWS, COLS, SLICES = 32, 40, 12
ORIGIN = (-20.0, -30.0, 10.0)
SPACING = (0.8, 0.7)  # row spacing, column spacing
STEP = 2.5


def pixels(k: int) -> np.ndarray:
    r, c = np.mgrid[0:ROWS, 0:COLS]
    return (k * 100 + r * 2 + c).astype(np.uint16)


def write_series(folder, uid=None):
    folder.mkdir(parents=True, exist_ok=True)
    uid = uid or generate_uid()
    study = generate_uid()
    order = [5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6]  # files not in slice order
    for n, k in enumerate(order):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, uid
        ds.Modality, ds.SeriesNumber, ds.SeriesDescription = "CT", 3, "Chest axial"
        ds.PatientID, ds.PatientName = "P1", "Test^Patient"
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [ORIGIN[0], ORIGIN[1], ORIGIN[2] + STEP * k]
        ds.PixelSpacing = list(SPACING)
        ds.SliceThickness = STEP
        ds.Rows, ds.Columns = ROWS, COLS
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = pixels(k).tobytes()
        ds.save_as(folder / f"IM{n:04d}.dcm", enforce_file_format=True)
    (folder / "notes.txt").write_text("not DICOM")


def png_size(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, depth, color = struct.unpack(">IIBB", data[16:26])
    return w, h, color


def check_nifti(out):
    (nii,) = sorted(out.glob("*.nii.gz"))
    assert nii.name == "003_Chest_axial.nii.gz"
    img = nib.load(nii)
    assert img.shape == (COLS, ROWS, SLICES)
    data = np.asarray(img.dataobj)
    for k in range(SLICES):
        assert np.array_equal(data[:, :, k], pixels(k).T.astype(np.int32) - 1024)
    want = np.array([[-SPACING[1], 0, 0, -ORIGIN[0]],
                     [0, -SPACING[0], 0, -ORIGIN[1]],
                     [0, 0, STEP, ORIGIN[2]],
                     [0, 0, 0, 1]])
    assert np.allclose(img.affine, want)
    assert (out / "003_Chest_axial.json").exists()


def check_pngs(out):
    files = sorted(out.rglob("*.png"))
    assert len(files) == SLICES
    assert png_size(files[0].read_bytes()) == (COLS, ROWS, 0)
    raw = files[0].read_bytes()
    idat = raw[raw.index(b"IDAT") + 4:]
    assert zlib.decompressobj().decompress(idat)[:1] == b"\x00"


@pytest.fixture
def series(data_root):
    write_series(data_root / "home/alice/uploads/ct")
    return "home/alice/uploads/ct"


def _run(c, series):
    root = c.run_plugin("alice", "pl-dircopy", {"dir": series})
    nii = c.run_plugin("alice", "pl-dcm2nifti", {}, previous_id=root)
    png = c.run_plugin("alice", "pl-dcm2png", {}, previous_id=root)
    for iid in (nii, png):
        assert c.wait_for(iid, timeout=180) == st.SUCCESS, c.get(iid).error + c.get(iid).logs
    return nii, png


def test_dicom_plugins_local(make_coordinator, local_runner, local_plugins, series, data_root):
    c = make_coordinator(local_runner)
    nii, png = _run(c, series)
    check_nifti(data_root / c.get(nii).output_path)
    check_pngs(data_root / c.get(png).output_path)


@pytest.mark.docker
def test_dicom_plugins_docker(cdb, make_coordinator, docker_runner, docker_plugins, plugin_image,
                              dclient, series, data_root):
    from chris_jupyter.plugins.registry import PluginRegistry

    reg = PluginRegistry(cdb)
    reg.register_image(plugin_image("pl-dcm2nifti"), client=dclient)
    reg.register_image(plugin_image("pl-dcm2png"), client=dclient)
    c = make_coordinator(docker_runner)
    nii, png = _run(c, series)
    check_nifti(data_root / c.get(nii).output_path)
    check_pngs(data_root / c.get(png).output_path)
