"""A 3-D volume with its patient geometry, and its NIfTI-1 and ITK forms (no DICOM here).

A foundation module (NumPy, and nibabel / itk when asked for): the server builds volumes from
DICOM series (:mod:`chris_jupyter.dicom.volume`), the Python client and the viewer read and send
them as NIfTI, and neither side imports the other for it.

Conventions
-----------
* ``Volume.data`` is indexed ``(z, y, x)`` (slice, row, column), as NumPy and ITK's Python
  bindings expect.
* ``spacing`` is ``(x, y, z)`` in mm; ``origin`` is the centre of voxel ``(0, 0, 0)``; the
  columns of ``direction`` are the directions of increasing x (along a row), y (down the rows)
  and z (the slice normal; with a gantry tilt, the direction from one slice's position to the
  next, which is not orthogonal to the other two). All three are in DICOM's patient coordinate system **LPS** (+x to
  the patient's left, +y posterior, +z superior), which ITK uses too.
* NIfTI (and nibabel) use **RAS** (+x to the patient's right, +y anterior, +z superior), so
  going from LPS to RAS negates the first two world axes: the NIfTI affine is
  ``diag(-1, -1, 1, 1) @ affine_lps`` and :func:`load_nifti` applies the same flip back. The
  voxel grid is never reordered or flipped, only the affine changes (NIfTI voxel ``(i, j, k)``
  is our ``data[k, j, i]``), so a ``Volume -> NIfTI -> Volume`` round trip gives back the same
  array and dtype and the same geometry (to the float32 precision of the NIfTI header).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class VolumeError(ValueError):
    """The files do not form one volume; the message says why."""


@dataclass
class Volume:
    """A 3D image on a regular grid in patient space."""

    data: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix from voxel index ``(x, y, z, 1)`` to LPS millimetres."""
        aff = np.eye(4)
        aff[:3, :3] = np.asarray(self.direction, dtype=float) * np.asarray(self.spacing, dtype=float)
        aff[:3, 3] = self.origin
        return aff

    def to_ras_affine(self) -> np.ndarray:
        """The same mapping into RAS millimetres (what NIfTI and nibabel use)."""
        return LPS_TO_RAS @ self.affine

    def world(self, z: float, y: float, x: float) -> np.ndarray:
        """LPS position (mm) of voxel ``(z, y, x)``."""
        return (self.affine @ np.array([x, y, z, 1.0]))[:3]

    def _nifti(self) -> Any:
        import nibabel as nib

        # (z, y, x) C order is exactly NIfTI's (x, y, z) Fortran order: the transposed view is
        # written without a copy.
        img = nib.Nifti1Image(self.data.transpose(2, 1, 0), self.to_ras_affine())
        img.header.set_xyzt_units("mm")
        # Scanner-anatomical coordinates in both forms, so every reader picks the same affine.
        img.set_sform(self.to_ras_affine(), code=1)
        img.set_qform(self.to_ras_affine(), code=1)
        descrip = describe(self.metadata)
        if descrip:  # what the viewer writes in its corner: "CT | Doe^Jane | 20240101 | Head | Axial"
            img.header["descrip"] = descrip.encode("utf-8")[:79].decode("utf-8", "ignore")
        window = display_window(self.metadata)
        if window is not None:  # the first window a viewer shows (NIfTI's display range)
            width, center = window
            img.header["cal_min"], img.header["cal_max"] = center - width / 2, center + width / 2
        return img

    def to_nifti(self, path: str | os.PathLike[str]) -> Path:
        """Write an uncompressed NIfTI-1 file (``.nii``); returns its path."""
        path = Path(path)
        if path.suffix == ".gz":
            raise ValueError("write an uncompressed .nii (gzip it afterwards if you must)")
        self._nifti().to_filename(str(path))
        return path

    def to_nifti_bytes(self) -> bytes:
        """The content of an uncompressed single-file NIfTI-1 (``.nii``)."""
        return self._nifti().to_bytes()


def load_nifti(source: str | os.PathLike[str] | bytes) -> Volume:
    """Read a NIfTI-1/2 file (or the bytes of a ``.nii``) into a :class:`Volume`."""
    import nibabel as nib

    if isinstance(source, bytes | bytearray):
        img = nib.Nifti1Image.from_bytes(bytes(source))
    else:
        img = nib.load(os.fspath(source))
    data = np.asanyarray(img.dataobj)
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., np.newaxis]
    if data.ndim != 3:
        raise VolumeError(f"expected a 3D image, got shape {data.shape}")
    lps = LPS_TO_RAS @ np.asarray(img.affine, dtype=float)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    return Volume(
        data=np.ascontiguousarray(data.transpose(2, 1, 0)),
        spacing=tuple(float(s) for s in spacing),
        origin=tuple(float(v) for v in lps[:3, 3]),
        direction=direction,
    )


def to_itk(volume: Volume) -> Any:
    """An ``itk.Image`` with the same voxels and LPS geometry (needs the optional ``itk``)."""
    try:
        import itk
    except ImportError as exc:
        raise ImportError(
            "to_itk needs ITK's Python package, which chris_jupyter installs only for its tests: "
            "pip install itk-core (or the full itk)"
        ) from exc
    image = itk.image_from_array(np.ascontiguousarray(volume.data))
    image.SetSpacing([float(s) for s in volume.spacing])
    image.SetOrigin([float(v) for v in volume.origin])
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(volume.direction, dtype=np.float64)))
    return image


#: The window (width, centre) shown first when a series has no WindowWidth/WindowCenter.
MODALITY_WINDOWS: dict[str, tuple[float, float]] = {"CT": (400.0, 40.0)}


def display_window(meta: dict[str, Any]) -> tuple[float, float] | None:
    """(width, centre) to show a series with first: its own WindowWidth/WindowCenter (the first
    of several), else the modality's preset, else None (the viewer picks one from the data)."""
    try:
        width, center = float(meta["WindowWidth"]), float(meta["WindowCenter"])
        if width > 0:
            return width, center
    except (KeyError, TypeError, ValueError):
        pass
    return MODALITY_WINDOWS.get(str(meta.get("Modality", "")).upper())


def describe(meta: dict[str, Any]) -> str:
    """One line naming the series: modality, patient, date, study and series descriptions."""
    keys = ("Modality", "PatientName", "StudyDate", "StudyDescription", "SeriesDescription")
    return " | ".join(str(meta.get(k, "")).strip() for k in keys) if meta.get("Modality") else ""
