"""Value types and errors of the PACS client (:mod:`.pacs`): nodes, progress, results,
the :class:`PacsError` family, and the C-FIND identifier -> JSON conversion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydicom import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from .netutil import StoredInstance

Level = Literal["PATIENT", "STUDY", "SERIES", "IMAGE"]
LEVELS: tuple[str, ...] = ("PATIENT", "STUDY", "SERIES", "IMAGE")

# Keys returned by default at each level when the query does not name them.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"),
    "STUDY": (
        "PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "StudyDescription",
        "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedInstances",
    ),
    "SERIES": (
        "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber",
        "SeriesDescription", "NumberOfSeriesRelatedInstances",
    ),
    "IMAGE": (
        "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
        "InstanceNumber",
    ),
}


# -- errors ------------------------------------------------------------------------------
class PacsError(Exception):
    """Any PACS failure; ``str(exc)`` is a message for a person. ``transient`` ones retry."""

    transient = False

    def __init__(self, message: str, node: PacsNode | None = None) -> None:
        super().__init__(message)
        self.node = node


class PacsUnreachable(PacsError):
    """No TCP connection (wrong host/port, PACS down)."""

    transient = True


class AssociationRejected(PacsError):
    """The PACS answered but refused the association (AE titles, contexts)."""


class PacsTimeout(PacsError):
    """The PACS stopped answering within the ACSE/DIMSE timeout."""

    transient = True


class PacsConnectionLost(PacsError):
    """The association broke off in the middle of an operation."""

    transient = True


class RetrieveCancelled(PacsError):
    """The caller cancelled the retrieve (the association was aborted)."""


class PacsFailureStatus(PacsError):
    """The PACS answered with a failure status."""

    def __init__(self, message: str, node: PacsNode | None = None, status: int = 0) -> None:
        super().__init__(message, node)
        self.status = status


_STATUS_TEXT = {
    0xA701: "out of resources: unable to calculate the number of matches",
    0xA702: "out of resources: unable to perform sub-operations",
    0xA801: "move destination unknown (is our receiver's AE title configured in the PACS?)",
    0xA900: "the query does not match the information model",
}


def status_text(code: int) -> str:
    """A short explanation of a Q/R failure status (PS3.4 C.4)."""
    if code in _STATUS_TEXT:
        return _STATUS_TEXT[code]
    if code & 0xF000 == 0xC000:
        return "unable to process (for example nothing matches the UIDs)"
    if code & 0xF000 == 0xA000:
        return "refused by the PACS"
    return "failure"


# -- value types -------------------------------------------------------------------------
@dataclass(frozen=True)
class PacsNode:
    """A remote DICOM node."""

    name: str
    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        from .ul import check_ae_title

        check_ae_title(self.ae_title)
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"invalid port {self.port!r}")

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"


@dataclass
class Progress:
    """Retrieve progress; ``expected`` is ``None`` until the PACS said how many."""

    received: int = 0
    expected: int | None = None
    failed: int = 0
    warning: int = 0
    state: str = "connecting"  # connecting | retrieving | retrying | done | failed | cancelled
    attempt: int = 1
    message: str = ""


@dataclass
class RetrieveResult:
    received: int
    failed: int
    expected: int | None
    seconds: float
    attempts: int
    instances: list[StoredInstance] = field(default_factory=list)


def to_jsonable(value: Any) -> Any:
    """A pydicom element value as plain JSON data (str, int, float, list, dict, None)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):  # includes pydicom's IS
        return int(value)
    if isinstance(value, float):  # includes DSfloat
        return float(value)
    if isinstance(value, str):  # includes UID
        return str(value)
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, MultiValue | list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return None
    if hasattr(value, "__iter__") and not isinstance(value, str):  # Sequence of datasets
        return [identifier_to_dict(item) for item in value]
    return str(value)


def identifier_to_dict(ds: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.keyword:
            out[elem.keyword] = to_jsonable(elem.value) if elem.value != "" else None
    return out
