"""A NIfTI volume as a DICOM series with the same geometry (one file per slice).

The geometry comes from the NIfTI affine alone, so any orientation is exact: NIfTI maps voxel
``(i, j, k)`` to RAS millimetres, DICOM wants LPS, so the first two rows of the affine change
sign. Slice ``k`` is the plane ``data[:, :, k]``; its columns follow ``i`` and its rows ``j``, so
ImageOrientationPatient is (direction of ``i``, direction of ``j``), PixelSpacing is (spacing
of ``j``, spacing of ``i``) and ImagePositionPatient is where voxel ``(0, 0, k)`` is.

Values are stored as unsigned 16-bit with RescaleSlope/RescaleIntercept, so a float volume
keeps its values to 1/65535 of its range and an integer one up to 16 bits keeps them exactly.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SOP_CLASSES = {"MR": "1.2.840.10008.5.1.4.1.1.4", "CT": "1.2.840.10008.5.1.4.1.1.2"}
_LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class WrittenSeries:
    """What :func:`write_series_from_nifti` wrote."""

    paths: list[Path]
    study_uid: str
    series_uid: str


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters)."""
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text


def write_series_from_nifti(
    nifti: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    modality: str = "MR",
    patient_id: str = "ANON",
    patient_name: str = "Anonymous",
    study_description: str = "",
    series_description: str = "",
    manufacturer: str = "",
    institution: str = "",
    study_date: str | None = None,
) -> WrittenSeries:
    """Write the 3-D NIfTI file ``nifti`` as a DICOM series into ``out_dir`` (created).

    Raises ``ValueError`` for a volume that is not 3-D (or 4-D with one volume) or an unknown
    modality.
    """
    import nibabel as nib

    if modality not in SOP_CLASSES:
        raise ValueError(f"modality must be one of {', '.join(SOP_CLASSES)}, not {modality!r}")
    image = nib.load(str(nifti))
    data = np.asanyarray(image.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{Path(nifti).name}: a 3-D volume is needed, not shape {data.shape}")
    affine = np.asarray(image.affine, dtype=float)
    lin = _LPS @ affine[:3, :3]
    step_i, step_j, step_k = (float(np.linalg.norm(lin[:, n])) for n in range(3))
    dir_i, dir_j = lin[:, 0] / step_i, lin[:, 1] / step_j

    low, high = float(data.min()), float(data.max())
    integral = np.issubdtype(data.dtype, np.integer) and high - low <= 65535
    slope = 1.0 if integral or high == low else (high - low) / 65535.0
    lo, hi = np.percentile(data[data > low], [1, 99]) if (data > low).any() else (low, high)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    date = study_date or dt.date.today().strftime("%Y%m%d")
    base = Dataset()
    base.SpecificCharacterSet = "ISO_IR 100"
    base.ImageType = ["DERIVED", "SECONDARY"]
    base.SOPClassUID = SOP_CLASSES[modality]
    base.StudyDate = base.SeriesDate = date
    base.StudyTime = base.SeriesTime = "120000"
    base.Modality = modality
    base.Manufacturer = manufacturer
    base.InstitutionName = institution
    base.StudyDescription = study_description
    base.SeriesDescription = series_description
    base.PatientName = patient_name
    base.PatientID = patient_id
    base.StudyInstanceUID, base.SeriesInstanceUID = study_uid, series_uid
    base.FrameOfReferenceUID = frame_uid
    base.StudyID, base.SeriesNumber, base.AccessionNumber = "1", 1, ""
    base.SamplesPerPixel = 1
    base.PhotometricInterpretation = "MONOCHROME2"
    base.Rows, base.Columns = int(data.shape[1]), int(data.shape[0])
    base.BitsAllocated = base.BitsStored = 16
    base.HighBit = 15
    base.PixelRepresentation = 0
    base.PixelSpacing = [_ds(step_j), _ds(step_i)]
    base.SliceThickness = _ds(step_k)
    base.ImageOrientationPatient = [_ds(v) for v in (*dir_i, *dir_j)]
    base.RescaleIntercept, base.RescaleSlope = _ds(low), _ds(slope)
    base.WindowCenter, base.WindowWidth = _ds((lo + hi) / 2), _ds(max(hi - lo, 1.0))
    normal = np.cross(dir_i, dir_j)
    written: list[Path] = []
    for k in range(data.shape[2]):
        ds = Dataset()
        ds.update(base)
        sop = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = base.SOPClassUID
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.SOPInstanceUID = sop
        ds.InstanceNumber = k + 1
        position = (_LPS @ (affine @ np.array([0.0, 0.0, float(k), 1.0]))[:3])
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.SliceLocation = _ds(float(np.dot(position, normal)))
        stored = np.rint((data[:, :, k].T.astype(np.float64) - low) / slope).astype(np.uint16)
        ds.PixelData = np.ascontiguousarray(stored).tobytes()
        ds["PixelData"].VR = "OW"
        path = out / f"{k + 1:04d}.dcm"
        tmp = path.with_suffix(".part")
        ds.save_as(tmp, enforce_file_format=True)
        tmp.replace(path)  # never a half-written slice under a .dcm name
        written.append(path)
    return WrittenSeries(written, study_uid, series_uid)
