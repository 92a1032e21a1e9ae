"""A DICOM series as a 3D volume with its geometry (:class:`~chris_jupyter.nifti.Volume`,
defined with its NIfTI and ITK conversion in :mod:`chris_jupyter.nifti`).

The volume conventions (index order, LPS geometry, the NIfTI RAS flip) are in
:mod:`chris_jupyter.nifti`.

Slices are ordered by the projection of ImagePositionPatient on the slice normal
(ImageOrientationPatient row × column), never by file name or InstanceNumber.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from ..nifti import (  # noqa: F401  (Volume and its NIfTI / ITK forms, re-exported)
    LPS_TO_RAS,
    MODALITY_WINDOWS,
    Volume,
    VolumeError,
    describe,
    display_window,
    load_nifti,
    to_itk,
)

# --- DICOM series -----------------------------------------------------------------------------


@dataclass
class _Frame:
    position: np.ndarray
    row: np.ndarray
    col: np.ndarray
    pixel_spacing: tuple[float, float]
    slope: float
    intercept: float
    source: int  # index into the list of pixel arrays
    frame: int | None  # frame inside a multi-frame file


def _floats(value: Any, n: int, what: str, where: str) -> np.ndarray:
    try:
        arr = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError) as exc:
        raise VolumeError(f"{what} is missing or not numeric in {where}") from exc
    if arr.shape != (n,):
        raise VolumeError(f"{what} must have {n} values in {where}, got {len(arr)}")
    return arr


def _item(ds: Dataset | None, seq: str) -> Dataset | None:
    """First item of ``seq`` inside functional-group item ``ds`` (per-frame or shared)."""
    if ds is None or seq not in ds or not ds[seq].value:
        return None
    return ds[seq].value[0]


def _geometry(ds: Dataset, where: str, per: Dataset | None, shared: Dataset | None, key: str) -> Any:
    """Look a functional-group attribute up per frame, then shared, then at the top level."""
    seq, attr = {
        "position": ("PlanePositionSequence", "ImagePositionPatient"),
        "orientation": ("PlaneOrientationSequence", "ImageOrientationPatient"),
        "spacing": ("PixelMeasuresSequence", "PixelSpacing"),
        "thickness": ("PixelMeasuresSequence", "SpacingBetweenSlices"),
        "slope": ("PixelValueTransformationSequence", "RescaleSlope"),
        "intercept": ("PixelValueTransformationSequence", "RescaleIntercept"),
    }[key]
    for group in (per, shared):
        item = _item(group, seq)
        if item is not None and attr in item:
            return item[attr].value
    return ds.get(attr)


def _frames_of(ds: Dataset, source: int, where: str, default_geometry: bool = False) -> list[_Frame]:
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_seq = ds.get("PerFrameFunctionalGroupsSequence")
    dose_scale = float(ds.DoseGridScaling) if "DoseGridScaling" in ds else None
    frames: list[_Frame] = []
    legacy_offsets: np.ndarray | None = None
    if n_frames > 1 and not per_seq:
        # Legacy multi-frame: one position, frames stacked along the normal.
        if "GridFrameOffsetVector" in ds:
            legacy_offsets = np.array([float(v) for v in ds.GridFrameOffsetVector])
        else:
            step = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or (1.0 if default_geometry else None)
            if not step:
                raise VolumeError(f"multi-frame file without per-frame positions or slice spacing: {where}")
            legacy_offsets = np.arange(n_frames) * float(step)
    for f in range(n_frames):
        per = per_seq[f] if per_seq else None
        raw_iop = _geometry(ds, where, per, shared, "orientation")
        raw_pos = _geometry(ds, where, per, shared, "position")
        raw_ps = _geometry(ds, where, per, shared, "spacing")
        if default_geometry:  # a plain 2D image (CR, DX, SC…): identity geometry where absent
            raw_iop = raw_iop or [1, 0, 0, 0, 1, 0]
            raw_pos = raw_pos or [0, 0, 0]
            raw_ps = raw_ps or ds.get("ImagerPixelSpacing") or [1, 1]
        iop = _floats(raw_iop, 6, "ImageOrientationPatient", where)
        pos = _floats(raw_pos, 3, "ImagePositionPatient", where)
        ps = _floats(raw_ps, 2, "PixelSpacing", where)
        row, col = iop[:3], iop[3:]
        if legacy_offsets is not None:
            pos = pos + legacy_offsets[f] * np.cross(row, col)
        slope = _geometry(ds, where, per, shared, "slope")
        intercept = _geometry(ds, where, per, shared, "intercept")
        slope_f = float(slope) if slope not in (None, "") else 1.0
        if dose_scale is not None:
            slope_f *= dose_scale
        frames.append(
            _Frame(pos, row, col, (float(ps[0]), float(ps[1])), slope_f,
                   float(intercept) if intercept not in (None, "") else 0.0, source,
                   f if n_frames > 1 else None)
        )
    return frames


def _read(paths: Sequence[Path]) -> list[Dataset]:
    out = []
    for p in paths:
        try:
            out.append(pydicom.dcmread(p))
        except Exception as exc:
            raise VolumeError(f"cannot read {p}: {exc}") from exc
    return out


def _expand(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        p = Path(paths)
        if p.is_dir():
            from .headers import read_header

            files = sorted(f for f in p.iterdir() if f.is_file())
            return [f for f in files if read_header(f).indexable]
        return [p]
    return [Path(p) for p in paths]


def load_series(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    allow_irregular: bool = False,
    allow_missing_geometry: bool = False,
) -> Volume:
    """Load the files of one series (or one multi-frame file) as a :class:`Volume`.

    Parameters
    ----------
    paths
        The files, in any order; or one folder holding only this series.
    allow_irregular
        Accept unevenly spaced slices (the mean spacing is used); by default that is an error.
    allow_missing_geometry
        For *one* file only (a 2D image such as CR/DX/secondary capture, or a multi-frame
        file): where ImageOrientationPatient / ImagePositionPatient / PixelSpacing are absent,
        use the identity orientation, the origin and ImagerPixelSpacing (or 1 mm). Several
        files without geometry are always an error, since their order would be a guess.

    Returns
    -------
    Volume
        Rescaled values (RescaleSlope/Intercept, per slice or per frame): int16 when they fit,
        float32 otherwise. ``metadata`` holds the series' key tags and the sorted source files.

    Raises
    ------
    VolumeError
        For files of several series, missing or mixed geometry, duplicate positions, colour
        images, or different image sizes.
    """
    files = _expand(paths)
    if not files:
        raise VolumeError("no DICOM files given")
    datasets = _read(files)
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(series) > 1:
        raise VolumeError(f"the files belong to {len(series)} different series; load one series at a time")
    if any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in datasets) and len(datasets) > 1:
        raise VolumeError("several files of which some are multi-frame: load one multi-frame file at a time")
    first = datasets[0]
    if int(first.get("SamplesPerPixel", 1)) != 1:
        raise VolumeError("colour images (SamplesPerPixel > 1) cannot be loaded as a volume")
    if "PixelData" not in first and "FloatPixelData" not in first:
        raise VolumeError(f"{files[0]} has no pixel data (SOP class {first.get('SOPClassUID', '?')})")
    shape = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(shape) > 1:
        raise VolumeError(f"slices have different sizes: {sorted(shape)}")
    default_geometry = allow_missing_geometry and len(datasets) == 1
    frames = [fr for i, ds in enumerate(datasets) for fr in _frames_of(ds, i, str(files[i]), default_geometry)]
    row, col = frames[0].row, frames[0].col
    for fr in frames:
        if not (np.allclose(fr.row, row, atol=1e-4) and np.allclose(fr.col, col, atol=1e-4)):
            raise VolumeError("slices have different orientations (ImageOrientationPatient)")
        if not np.allclose(fr.pixel_spacing, frames[0].pixel_spacing, rtol=1e-4):
            raise VolumeError("slices have different PixelSpacing")
    normal = np.cross(row, col)
    frames.sort(key=lambda fr: float(np.dot(fr.position, normal)))
    dist = np.array([float(np.dot(fr.position, normal)) for fr in frames])
    dz = _slice_spacing(dist, first, allow_irregular)
    data = _stack(datasets, frames)
    row_spacing, col_spacing = frames[0].pixel_spacing
    slice_dir = normal
    if len(frames) > 1:
        # Gantry tilt: the slices are tilted but the table steps along the scanner's axis, so
        # consecutive positions move along a direction that is not the normal. The grid's third
        # axis is that step (a sheared affine), never the normal with the normal's distance.
        step = (frames[-1].position - frames[0].position) / (len(frames) - 1)
        unit = step / np.linalg.norm(step)
        if np.linalg.norm(np.cross(unit, normal)) > 1e-4:
            slice_dir, dz = unit, float(np.linalg.norm(step))
    return Volume(
        data=data,
        spacing=(col_spacing, row_spacing, dz),
        origin=tuple(float(v) for v in frames[0].position),
        direction=np.column_stack([row, col, slice_dir]),
        metadata=_metadata(first, [str(files[fr.source]) for fr in frames]),
    )


def _slice_spacing(dist: np.ndarray, first: Dataset, allow_irregular: bool) -> float:
    if len(dist) == 1:
        return float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    steps = np.diff(dist)
    if np.any(steps < 1e-4):
        raise VolumeError(
            "two slices share one position (several echoes, phases or time points in one series?)"
        )
    mean = float((dist[-1] - dist[0]) / (len(dist) - 1))
    if not allow_irregular and np.max(np.abs(steps - mean)) > max(0.01, 0.01 * mean):
        raise VolumeError(
            f"slice spacing is not uniform ({steps.min():.3f}..{steps.max():.3f} mm); "
            "pass allow_irregular=True to accept it"
        )
    return mean


def _stack(datasets: list[Dataset], frames: list[_Frame]) -> np.ndarray:
    arrays: dict[int, np.ndarray] = {}
    raws: list[np.ndarray] = []
    for fr in frames:
        if fr.source not in arrays:
            try:
                arrays[fr.source] = datasets[fr.source].pixel_array
            except Exception as exc:
                raise VolumeError(f"cannot decode pixel data: {exc}") from exc
        arr = arrays[fr.source]
        raws.append(arr[fr.frame] if fr.frame is not None else arr)
    if all(fr.slope == 1.0 and fr.intercept == 0.0 for fr in frames):
        return np.stack(raws)
    # Pick the output type from each slice's range, then rescale slice by slice into it
    # (no whole-volume float64 temporary: 200 slices of 512x512 would be 400 MB).
    integral = all(fr.slope == round(fr.slope) and fr.intercept == round(fr.intercept) for fr in frames)
    dtype: type = np.float32
    if integral and raws[0].dtype.kind in "iu":
        ends = [v * fr.slope + fr.intercept for r, fr in zip(raws, frames, strict=True)
                for v in (float(r.min()), float(r.max()))]
        lo, hi = min(ends), max(ends)
        for candidate in (np.int16, np.int32):
            if np.iinfo(candidate).min <= lo and hi <= np.iinfo(candidate).max:
                dtype = candidate
                break
    out = np.empty((len(raws), *raws[0].shape), dtype=dtype)
    for k, (r, fr) in enumerate(zip(raws, frames, strict=True)):
        if dtype is np.float32:
            out[k] = r * fr.slope + fr.intercept
        else:
            out[k] = r.astype(np.int64 if dtype is np.int32 else np.int32) * int(fr.slope) + int(fr.intercept)
    return out


def _first_value(value: Any) -> str:
    """The first value of a tag that may be multi-valued (WindowCenter "40\\400")."""
    if value is None or value == "":
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return str(value[0]) if len(value) else ""
    return str(value)


def _metadata(ds: Dataset, files: list[str]) -> dict[str, Any]:
    keys = ("PatientID", "PatientName", "StudyDate", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
            "SeriesDescription", "StudyDescription", "FrameOfReferenceUID")
    meta = {k: str(ds.get(k, "")) for k in keys}
    for k in ("WindowCenter", "WindowWidth"):
        meta[k] = _first_value(ds.get(k))
    meta["files"] = files
    return meta

