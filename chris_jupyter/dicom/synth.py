"""Synthetic DICOM data for tests, benchmarks and notebooks.

No package ships a realistic CT volume, so this module writes series with real scanner geometry
(ImagePositionPatient / ImageOrientationPatient / PixelSpacing, optionally oblique) and a phantom
whose structures sit at known voxel coordinates, so a loader or a viewer test can check exact
values:

* air (-1000 HU) outside an elliptic *body* of soft tissue (40 HU);
* a bone *cube* (1000 HU) — :attr:`Phantom.cube` gives its voxel bounds;
* a contrast *sphere* (300 HU) — :attr:`Phantom.sphere_center` / :attr:`Phantom.sphere_radius`
  in voxel units (a sphere on the voxel grid; an ellipsoid in millimetres when spacing is
  anisotropic).

Voxel ``(z, y, x)`` is column ``x``, row ``y`` of the slice with InstanceNumber ``z + 1``, whose
position is ``origin + z * spacing_z * normal``. CT pixels are stored as int16 with
RescaleIntercept -1024 (stored = HU + 1024). File names are random by default
(``shuffle_names``) so that nothing may rely on them for slice order.

Broken files (garbage, a fake preamble, a missing tag, a truncated copy) are in
:mod:`chris_jupyter.dicom.synth_broken`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"

TRANSFER_SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
    "rle": RLELossless,
    "j2k": JPEG2000Lossless,  # encoding needs pylibjpeg-openjpeg
}

CT_VALUES = {"air": -1000, "body": 40, "cube": 1000, "sphere": 300}
MR_VALUES = {"air": 0, "body": 400, "cube": 1200, "sphere": 800}


@dataclass(frozen=True)
class Phantom:
    """Where the phantom's structures are, in voxel indices of the (z, y, x) volume."""

    shape: tuple[int, int, int]
    cube: tuple[slice, slice, slice]
    sphere_center: tuple[int, int, int]
    sphere_radius: float
    values: dict[str, int]

    def slice_values(self, z: int) -> np.ndarray:
        """The true values (HU for CT) of slice ``z`` as int16, shape (rows, cols)."""
        _, rows, cols = self.shape
        yy, xx = np.ogrid[:rows, :cols]
        cy, cx = (rows - 1) / 2, (cols - 1) / 2
        body = ((yy - cy) / (0.3 * rows)) ** 2 + ((xx - cx) / (0.42 * cols)) ** 2 <= 1.0
        out = np.full((rows, cols), self.values["air"], dtype=np.int16)
        out[body] = self.values["body"]
        zc, yc, xc = self.sphere_center
        dz2 = (z - zc) ** 2
        r2 = self.sphere_radius**2 - dz2
        if r2 >= 0:
            out[(yy - yc) ** 2 + (xx - xc) ** 2 <= r2] = self.values["sphere"]
        zs, ys, xs = self.cube
        if zs.start <= z < zs.stop:
            out[ys, xs] = self.values["cube"]
        return out

    def volume(self) -> np.ndarray:
        """The whole true volume, (z, y, x) int16."""
        return np.stack([self.slice_values(z) for z in range(self.shape[0])])


def make_phantom(shape: tuple[int, int, int], values: dict[str, int]) -> Phantom:
    n, rows, cols = shape
    cz0, cz1 = n // 4, n // 4 + max(1, n // 8)
    cy0, cx0 = int(rows * 0.36), int(cols * 0.28)
    cube = (slice(cz0, cz1), slice(cy0, cy0 + max(1, rows // 10)), slice(cx0, cx0 + max(1, cols // 10)))
    center = (n // 2, int(rows * 0.55), int(cols * 0.62))
    radius = max(1.0, 0.12 * min(n, rows, cols))
    return Phantom(shape, cube, center, radius, dict(values))


@dataclass
class SeriesInfo:
    """What a generator wrote. ``paths`` and ``sop_uids`` are in slice (z) order."""

    paths: list[Path]
    patient_id: str
    study_uid: str
    series_uid: str
    sop_uids: list[str]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    phantom: Phantom
    modality: str
    extra: dict = field(default_factory=dict)


def orientation(oblique: bool | float = False) -> np.ndarray:
    """3x3 matrix whose columns are the row direction, column direction and slice normal (LPS).

    ``oblique=True`` tilts the slices by 15 degrees about the patient's x axis; a number gives
    the tilt in degrees.
    """
    angle = np.deg2rad(15.0 if oblique is True else float(oblique or 0.0))
    row = np.array([1.0, 0.0, 0.0])
    col = np.array([0.0, np.cos(angle), np.sin(angle)])
    return np.column_stack([row, col, np.cross(row, col)])


def _fmt(values) -> list[str]:
    return [f"{float(v):.6f}".rstrip("0").rstrip(".") if v else "0" for v in values]


def _base_dataset(
    *,
    modality: str,
    sop_class: str,
    patient_id: str,
    patient_name: str,
    birth_date: str,
    study_uid: str,
    study_date: str,
    study_description: str,
    accession: str,
    series_uid: str,
    series_number: int,
    series_description: str,
    rows: int,
    cols: int,
    transfer_syntax: str,
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.10.1000.1"
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class
    ds.StudyDate = study_date
    ds.SeriesDate = study_date
    ds.StudyTime = "101500"
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = "chris_jupyter synth"
    ds.InstitutionName = "Synthetic General Hospital"
    ds.ReferringPhysicianName = "Referrer^Rita"
    ds.StudyDescription = study_description
    ds.SeriesDescription = series_description
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = "O"
    ds.PatientAge = "042Y"
    ds.ProtocolName = f"{modality} synthetic protocol"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.FrameOfReferenceUID = generate_uid()
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


def _write(ds: Dataset, path: Path, pixels: np.ndarray, transfer_syntax: str) -> None:
    if transfer_syntax in (RLELossless, JPEG2000Lossless):
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        plugin = "pydicom" if transfer_syntax == RLELossless else "pylibjpeg"
        ds.compress(transfer_syntax, pixels, encoding_plugin=plugin)
    else:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        ds.PixelData = pixels.tobytes()
        ds["PixelData"].VR = "OW"
    ds.save_as(path, enforce_file_format=True)


def _series(
    out_dir: str | os.PathLike[str],
    *,
    modality: str,
    n_slices: int,
    rows: int,
    cols: int,
    spacing: tuple[float, float, float],
    oblique: bool | float,
    patient_id: str,
    patient_name: str,
    birth_date: str,
    study_uid: str | None,
    study_date: str,
    study_description: str,
    accession: str,
    series_uid: str | None,
    series_number: int,
    series_description: str,
    transfer_syntax: str,
    shuffle_names: bool,
) -> SeriesInfo:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ts = TRANSFER_SYNTAXES.get(transfer_syntax, transfer_syntax)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    is_ct = modality == "CT"
    values = CT_VALUES if is_ct else MR_VALUES
    phantom = make_phantom((n_slices, rows, cols), values)
    sx, sy, sz = (float(s) for s in spacing)
    direction = orientation(oblique)
    row_dir, col_dir, normal = direction[:, 0], direction[:, 1], direction[:, 2]
    # Centre the volume on the scanner's isocentre.
    origin = -(row_dir * sx * (cols - 1) + col_dir * sy * (rows - 1) + normal * sz * (n_slices - 1)) / 2
    ds = _base_dataset(
        modality=modality,
        sop_class=CT_IMAGE_STORAGE if is_ct else MR_IMAGE_STORAGE,
        patient_id=patient_id,
        patient_name=patient_name,
        birth_date=birth_date,
        study_uid=study_uid,
        study_date=study_date,
        study_description=study_description,
        accession=accession,
        series_uid=series_uid,
        series_number=series_number,
        series_description=series_description,
        rows=rows,
        cols=cols,
        transfer_syntax=ts,
    )
    ds.PixelSpacing = _fmt([sy, sx])
    ds.SliceThickness = _fmt([sz])[0]
    ds.ImageOrientationPatient = _fmt(list(row_dir) + list(col_dir))
    if is_ct:
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.KVP = "120"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
    else:
        ds.PixelRepresentation = 0
        ds.MagneticFieldStrength = "3"
        ds.EchoTime = "4.2"
        ds.RepetitionTime = "2300"
    paths: list[Path] = []
    sops: list[str] = []
    for z in range(n_slices):
        sop = generate_uid()
        pos = origin + normal * sz * z
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.InstanceNumber = z + 1
        ds.ImagePositionPatient = _fmt(pos)
        ds.SliceLocation = _fmt([float(np.dot(pos, normal))])[0]
        true = phantom.slice_values(z)
        stored = (true.astype(np.int32) + 1024).astype(np.int16) if is_ct else true.astype(np.uint16)
        name = f"{secrets.token_hex(8)}.dcm" if shuffle_names else f"{z + 1:04d}.dcm"
        path = out / name
        _write(ds, path, stored, ts)
        paths.append(path)
        sops.append(sop)
    return SeriesInfo(
        paths=paths,
        patient_id=patient_id,
        study_uid=study_uid,
        series_uid=series_uid,
        sop_uids=sops,
        spacing=(sx, sy, sz),
        origin=tuple(float(v) for v in origin),
        direction=direction,
        phantom=phantom,
        modality=modality,
    )


def write_ct_series(
    out_dir: str | os.PathLike[str],
    *,
    n_slices: int = 64,
    rows: int = 512,
    cols: int = 512,
    spacing: tuple[float, float, float] = (0.7, 0.7, 1.25),
    oblique: bool | float = False,
    patient_id: str = "SYN0001",
    patient_name: str = "Synthetic^Patient",
    birth_date: str = "19800101",
    study_uid: str | None = None,
    study_date: str = "20240115",
    study_description: str = "CT CHEST",
    accession: str = "ACC0001",
    series_uid: str | None = None,
    series_number: int = 2,
    series_description: str = "Axial 1.25mm",
    transfer_syntax: str = "explicit",
    shuffle_names: bool = True,
) -> SeriesInfo:
    """Write a CT series (one file per slice) of the phantom into ``out_dir``.

    Parameters
    ----------
    spacing
        ``(x, y, z)`` in mm: column spacing, row spacing, distance between slices.
    oblique
        Tilt the slice plane (``True`` = 15 degrees, or a number of degrees).
    transfer_syntax
        ``"explicit"`` (Explicit VR Little Endian), ``"implicit"``, ``"rle"`` (RLE Lossless),
        ``"j2k"`` (JPEG 2000 Lossless, needs pylibjpeg-openjpeg), or one of these UIDs.
    shuffle_names
        Random file names, so slice order must come from the geometry.
    """
    return _series(out_dir, modality="CT", **_kw(locals()))


def write_mr_series(
    out_dir: str | os.PathLike[str],
    *,
    n_slices: int = 24,
    rows: int = 256,
    cols: int = 256,
    spacing: tuple[float, float, float] = (0.9, 0.9, 4.0),
    oblique: bool | float = False,
    patient_id: str = "SYN0001",
    patient_name: str = "Synthetic^Patient",
    birth_date: str = "19800101",
    study_uid: str | None = None,
    study_date: str = "20240115",
    study_description: str = "MR BRAIN",
    accession: str = "ACC0002",
    series_uid: str | None = None,
    series_number: int = 3,
    series_description: str = "T1 axial",
    transfer_syntax: str = "explicit",
    shuffle_names: bool = True,
) -> SeriesInfo:
    """Write an MR series (uint16, no rescale) of the phantom; see :func:`write_ct_series`."""
    return _series(out_dir, modality="MR", **_kw(locals()))


def _kw(local: dict) -> dict:
    return {k: v for k, v in local.items() if k != "out_dir"}


def write_multiframe(
    path: str | os.PathLike[str],
    *,
    n_frames: int = 16,
    rows: int = 128,
    cols: int = 128,
    spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
    oblique: bool | float = False,
    enhanced: bool = True,
    reverse_frames: bool = True,
    patient_id: str = "SYN0001",
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> SeriesInfo:
    """Write one multi-frame CT file.

    ``enhanced=True`` writes an Enhanced CT image with per-frame PlanePositionSequence and
    shared orientation / pixel measures / rescale functional groups; with ``reverse_frames`` the
    frames are stored from the top down, so a loader has to sort them by position.
    ``enhanced=False`` writes the legacy form: one ImagePositionPatient for the first frame and
    SpacingBetweenSlices along the normal.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    phantom = make_phantom((n_frames, rows, cols), CT_VALUES)
    sx, sy, sz = (float(s) for s in spacing)
    direction = orientation(oblique)
    row_dir, col_dir, normal = direction[:, 0], direction[:, 1], direction[:, 2]
    origin = -(row_dir * sx * (cols - 1) + col_dir * sy * (rows - 1) + normal * sz * (n_frames - 1)) / 2
    ds = _base_dataset(
        modality="CT",
        sop_class=ENHANCED_CT_IMAGE_STORAGE if enhanced else CT_IMAGE_STORAGE,
        patient_id=patient_id,
        patient_name="Synthetic^Patient",
        birth_date="19800101",
        study_uid=study_uid,
        study_date="20240115",
        study_description="CT MULTIFRAME",
        accession="ACC0003",
        series_uid=series_uid,
        series_number=5,
        series_description="Enhanced CT" if enhanced else "Legacy multiframe",
        rows=rows,
        cols=cols,
        transfer_syntax=ExplicitVRLittleEndian,
    )
    sop = generate_uid()
    ds.SOPInstanceUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.InstanceNumber = 1
    ds.NumberOfFrames = n_frames
    ds.PixelRepresentation = 1
    order = list(range(n_frames))[::-1] if (enhanced and reverse_frames) else list(range(n_frames))
    iop = _fmt(list(row_dir) + list(col_dir))
    if enhanced:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
        shared = Dataset()
        pm = Dataset()
        pm.PixelSpacing = _fmt([sy, sx])
        pm.SliceThickness = _fmt([sz])[0]
        pm.SpacingBetweenSlices = _fmt([sz])[0]
        po = Dataset()
        po.ImageOrientationPatient = iop
        pvt = Dataset()
        pvt.RescaleIntercept = "-1024"
        pvt.RescaleSlope = "1"
        pvt.RescaleType = "HU"
        shared.PixelMeasuresSequence = Sequence([pm])
        shared.PlaneOrientationSequence = Sequence([po])
        shared.PixelValueTransformationSequence = Sequence([pvt])
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
        per_frame = []
        for z in order:
            item = Dataset()
            pp = Dataset()
            pp.ImagePositionPatient = _fmt(origin + normal * sz * z)
            item.PlanePositionSequence = Sequence([pp])
            fc = Dataset()
            fc.InStackPositionNumber = z + 1
            item.FrameContentSequence = Sequence([fc])
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    else:
        ds.ImagePositionPatient = _fmt(origin)
        ds.ImageOrientationPatient = iop
        ds.PixelSpacing = _fmt([sy, sx])
        ds.SliceThickness = _fmt([sz])[0]
        ds.SpacingBetweenSlices = _fmt([sz])[0]
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
    frames = np.stack([phantom.slice_values(z) for z in order]).astype(np.int32) + 1024
    _write(ds, path, frames.astype(np.int16), ExplicitVRLittleEndian)
    return SeriesInfo(
        paths=[path],
        patient_id=patient_id,
        study_uid=study_uid,
        series_uid=series_uid,
        sop_uids=[sop],
        spacing=(sx, sy, sz),
        origin=tuple(float(v) for v in origin),
        direction=direction,
        phantom=phantom,
        modality="CT",
        extra={"frame_order": order},
    )
