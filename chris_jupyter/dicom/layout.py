"""Where a DICOM instance lives in the library: the ChRIS PACS folder rule.

::

    SERVICES/PACS/<pacs>/
      <PatientID>-<PatientName>-<PatientBirthDate>/
        <StudyDescription>-<AccessionNumber>-<StudyDate>/
          <SeriesNumber:05>-<SeriesDescription>-<hash7(SeriesInstanceUID)>/
            <InstanceNumber:04>-<SOPInstanceUID>.dcm

Every component is built from tag values and passes through
:func:`chris_jupyter.paths.safe_component`, so a hostile tag cannot escape the folder.

``hash7(uid)`` is the first 7 hexadecimal digits of the **MD5** digest of the UID's ASCII
bytes. It keeps two series that share SeriesNumber and SeriesDescription apart while the folder
name stays short. Missing numbers print as 0 (``00000``/``0000``); missing text prints as
``unknown``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import paths


def hash7(uid: str) -> str:
    """First 7 hex digits of MD5(uid) — the series-folder suffix."""
    return hashlib.md5(uid.strip().encode("ascii", "replace"), usedforsecurity=False).hexdigest()[:7]


def _get(header: Any, keyword: str) -> Any:
    value = getattr(header, keyword, None)
    if value is None and hasattr(header, "get"):
        value = header.get(keyword)
    return value


def _text(header: Any, keyword: str) -> str:
    value = _get(header, keyword)
    return "" if value is None else str(value).strip()


def _number(header: Any, keyword: str) -> int:
    value = _get(header, keyword)
    try:
        return int(float(str(value))) if value not in (None, "") else 0
    except ValueError:
        return 0


def _component(*parts: str) -> str:
    # Each tag value is made safe on its own, then joined with '-'. An empty value stays empty
    # (e.g. no accession number: 'CT CHEST--20240115'), matching the original's folders.
    return "-".join(paths.safe_component(p, fallback="") if p else "" for p in parts)


def patient_dir(header: Any) -> str:
    return paths.safe_component(
        _component(_text(header, "PatientID"), _text(header, "PatientName"), _text(header, "PatientBirthDate"))
    )


def study_dir(header: Any) -> str:
    return paths.safe_component(
        _component(
            _text(header, "StudyDescription"), _text(header, "AccessionNumber"), _text(header, "StudyDate")
        )
    )


def series_dir(header: Any) -> str:
    uid = _text(header, "SeriesInstanceUID")
    return paths.safe_component(
        _component(
            f"{_number(header, 'SeriesNumber'):05d}", _text(header, "SeriesDescription"), hash7(uid)
        )
    )


def instance_name(header: Any) -> str:
    sop = _text(header, "SOPInstanceUID")
    return paths.safe_component(f"{_number(header, 'InstanceNumber'):04d}-{sop}", max_bytes=200) + ".dcm"


def series_path(pacs: str, header: Any) -> str:
    """Library folder of the series of ``header`` (a :class:`~.headers.DicomHeader` or Dataset)."""
    return paths.join(
        paths.PACS, paths.safe_component(pacs), patient_dir(header), study_dir(header), series_dir(header)
    )


def instance_path(pacs: str, header: Any) -> str:
    """Full library path of the instance file of ``header`` received from ``pacs``."""
    return paths.join(series_path(pacs, header), instance_name(header))
