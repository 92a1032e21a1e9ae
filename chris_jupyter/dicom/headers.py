"""Read the key tags of one DICOM file, fast and without ever raising.

Indexing walks many thousands of files, so :func:`read_header` parses only the header
(``stop_before_pixels=True``, ``specific_tags``) and turns every failure into a typed
:class:`NotIndexable` result that the caller can report.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

#: Tags copied into :class:`DicomHeader`, in DICOM keyword spelling.
HEADER_KEYWORDS: tuple[str, ...] = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyDate",
    "AccessionNumber",
    "StudyDescription",
    "StudyInstanceUID",
    "Modality",
    "ProtocolName",
    "SeriesDescription",
    "SeriesNumber",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "SOPClassUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "NumberOfFrames",
)
_INT_KEYWORDS = frozenset({"SeriesNumber", "InstanceNumber", "Rows", "Columns", "NumberOfFrames"})
_REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
# Tags are read in file order; SpecificCharacterSet decides how names are decoded.
_SPECIFIC_TAGS = [Tag("SpecificCharacterSet")] + [Tag(k) for k in HEADER_KEYWORDS]


@dataclass(frozen=True, slots=True)
class DicomHeader:
    """The key tags of one instance. Attribute names are the DICOM keywords.

    Text values are ``str`` ('' when absent); numbers are ``int`` or ``None`` when absent.
    Dates stay in DICOM form (``YYYYMMDD``).
    """

    PatientID: str = ""
    PatientName: str = ""
    PatientBirthDate: str = ""
    PatientSex: str = ""
    PatientAge: str = ""
    StudyDate: str = ""
    AccessionNumber: str = ""
    StudyDescription: str = ""
    StudyInstanceUID: str = ""
    Modality: str = ""
    ProtocolName: str = ""
    SeriesDescription: str = ""
    SeriesNumber: int | None = None
    SeriesInstanceUID: str = ""
    SOPInstanceUID: str = ""
    SOPClassUID: str = ""
    InstanceNumber: int | None = None
    Rows: int | None = None
    Columns: int | None = None
    NumberOfFrames: int | None = None
    TransferSyntaxUID: str = ""

    indexable = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class NotIndexable:
    """A file that cannot be indexed; ``reason`` says why in words a user understands."""

    path: str
    reason: str

    indexable = False


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def header_from_dataset(ds: Dataset) -> DicomHeader | str:
    """Build a :class:`DicomHeader` from a dataset; return a reason string if it is not indexable."""
    values: dict[str, Any] = {}
    for keyword in HEADER_KEYWORDS:
        raw = ds.get(keyword)
        values[keyword] = _int(raw) if keyword in _INT_KEYWORDS else _text(raw)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        if not values["SOPInstanceUID"]:
            values["SOPInstanceUID"] = _text(meta.get("MediaStorageSOPInstanceUID"))
        if not values["SOPClassUID"]:
            values["SOPClassUID"] = _text(meta.get("MediaStorageSOPClassUID"))
        values["TransferSyntaxUID"] = _text(meta.get("TransferSyntaxUID"))
    missing = [k for k in _REQUIRED_UIDS if not values[k]]
    if missing:
        return "missing " + ", ".join(missing)
    return DicomHeader(**values)


def read_header(path: str | os.PathLike[str]) -> DicomHeader | NotIndexable:
    """Read the key tags of one file.

    Parameters
    ----------
    path
        A file on disk.

    Returns
    -------
    DicomHeader | NotIndexable
        ``NotIndexable`` (never an exception) for a missing, unreadable, non-DICOM, corrupt or
        truncated file, or one without the Study/Series/SOP Instance UIDs.
    """
    spath = os.fspath(path)
    try:
        ds = pydicom.dcmread(spath, stop_before_pixels=True, specific_tags=_SPECIFIC_TAGS)
    except InvalidDicomError:
        return NotIndexable(spath, "not a DICOM file (no DICM preamble)")
    except FileNotFoundError:
        return NotIndexable(spath, "file not found")
    except IsADirectoryError:
        return NotIndexable(spath, "is a directory")
    except PermissionError:
        return NotIndexable(spath, "permission denied")
    except EOFError:
        return NotIndexable(spath, "truncated DICOM file")
    except Exception as exc:  # noqa: BLE001 - any parser failure means "corrupt"
        return NotIndexable(spath, f"corrupt DICOM file: {type(exc).__name__}: {exc}"[:300])
    try:
        result = header_from_dataset(ds)
    except Exception as exc:  # noqa: BLE001 - a value that does not decode
        return NotIndexable(spath, f"corrupt DICOM header: {type(exc).__name__}: {exc}"[:300])
    if isinstance(result, str):
        return NotIndexable(spath, result)
    return result
