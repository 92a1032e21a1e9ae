"""Search the DICOM index; results are grouped by study.

Text matching follows DICOM C-FIND conventions where it makes sense: ``*`` matches any run of
characters and ``?`` one character; without a wildcard the match is exact. Patient name and ID
match case-insensitively; descriptions match when they *contain* the text (case-insensitive).

Visibility is decided by the caller (the permission module): ``visible_prefixes`` lists the
library folders the user may read; a study is shown when at least one of its instances lies
below one of them, and its series and counts only include those instances. ``None`` means no
restriction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from ..db.models.dicom import DicomInstance, DicomPatient, DicomSeries, DicomStudy
from ..db.query import at_or_below, contains_ci, wildcard

MAX_LIMIT = 1000


@dataclass
class SeriesHit:
    series_uid: str
    series_number: int | None
    series_description: str
    modality: str
    protocol_name: str
    folder: str
    pacs: str | None
    num_instances: int


@dataclass
class StudyHit:
    study_uid: str
    study_date: str
    study_description: str
    accession_number: str
    pacs: str | None
    patient_id: str
    patient_name: str
    patient_birth_date: str
    patient_sex: str
    patient_age: str
    num_series: int
    num_instances: int
    modalities: list[str]
    series: list[SeriesHit] = field(default_factory=list)


@dataclass
class SearchResult:
    total: int
    limit: int
    offset: int
    studies: list[StudyHit]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return asdict(self)


def _date(value: str | dt.date | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    text = str(value).strip().replace("-", "").replace(".", "").replace("/", "")
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"not a date (use YYYYMMDD or YYYY-MM-DD): {value!r}")
    return text


def parse_date_range(value: str) -> tuple[str | None, str | None]:
    """A DICOM date or range (``20240101``, ``20240101-20240131``, ``20240101-``, ``-20240131``)."""
    value = value.strip()
    if "-" in value and len(value.replace("-", "")) in (8, 16) and value.count("-") == 1:
        lo, hi = value.split("-")
        return _date(lo or None), _date(hi or None)
    day = _date(value)
    return day, day


def _visible(prefixes: list[str] | None) -> Any:
    if prefixes is None:
        return None
    if not prefixes:
        return DicomInstance.path.is_(None)  # never true (``false()`` would drop the join terms)
    return or_(*[at_or_below(DicomInstance.path, p) for p in prefixes])


def search_studies(
    db: Any,
    *,
    patient_id: str | None = None,
    patient_name: str | None = None,
    study_date: str | None = None,
    date_from: str | dt.date | None = None,
    date_to: str | dt.date | None = None,
    modality: str | list[str] | None = None,
    description: str | None = None,
    study_description: str | None = None,
    series_description: str | None = None,
    accession: str | None = None,
    uid: str | None = None,
    pacs: str | None = None,
    visible_prefixes: list[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> SearchResult:
    """Find studies; every given criterion must hold.

    Parameters
    ----------
    patient_id, patient_name, accession
        DICOM wildcard patterns (``*``, ``?``), case-insensitive.
    study_date
        A DICOM date or range (``20240101-20240131``); or use ``date_from`` / ``date_to``
        (inclusive; ``YYYYMMDD``, ``YYYY-MM-DD`` or :class:`datetime.date`).
    modality
        One modality or a list (``"CT"``, ``["CT", "MR"]``); a study matches if one of its
        series has it.
    description
        Text contained in the study description or in a series description.
    study_description, series_description
        Text contained in that description only.
    uid
        A StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID.
    pacs
        Only data that came from this PACS.
    visible_prefixes
        Library folders the user may read (``None``: everything).
    limit, offset
        Page of studies (newest study date first); ``total`` counts all matches.
    """
    limit = max(0, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    conds: list[Any] = []
    series_conds: list[Any] = []
    if patient_id:
        conds.append(wildcard(DicomPatient.patient_id, patient_id))
    if patient_name:
        conds.append(wildcard(DicomPatient.patient_name, patient_name))
    if accession:
        conds.append(wildcard(DicomStudy.accession_number, accession))
    lo, hi = parse_date_range(study_date) if study_date else (None, None)
    lo, hi = _date(date_from) or lo, _date(date_to) or hi
    if lo:
        conds.append(DicomStudy.study_date >= lo)
    if hi:
        conds.append(DicomStudy.study_date <= hi)
    if study_description:
        conds.append(contains_ci(DicomStudy.study_description, study_description))
    if pacs is not None:
        conds.append(func.coalesce(DicomStudy.pacs, "") == pacs)
    if modality:
        mods = [modality] if isinstance(modality, str) else list(modality)
        series_conds.append(func.upper(DicomSeries.modality).in_([m.upper() for m in mods]))
    if series_description:
        series_conds.append(contains_ci(DicomSeries.series_description, series_description))
    in_study = DicomSeries.study_pk == DicomStudy.id
    if series_conds:
        conds.append(exists().where(in_study, *series_conds))
    if description:
        conds.append(
            or_(
                contains_ci(DicomStudy.study_description, description),
                exists().where(in_study, contains_ci(DicomSeries.series_description, description)),
            )
        )
    if uid:
        uid = uid.strip()
        conds.append(
            or_(
                DicomStudy.study_uid == uid,
                exists().where(in_study, DicomSeries.series_uid == uid),
                exists().where(in_study, DicomInstance.series_pk == DicomSeries.id,
                               DicomInstance.sop_instance_uid == uid),
            )
        )
    visible = _visible(visible_prefixes)
    if visible is not None:
        conds.append(exists().where(in_study, DicomInstance.series_pk == DicomSeries.id, visible))

    base = select(DicomStudy.id).join(DicomPatient, DicomStudy.patient_pk == DicomPatient.id).where(*conds)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
        ids = list(
            s.scalars(base.order_by(DicomStudy.study_date.desc(), DicomStudy.id.desc()).limit(limit).offset(offset))
        )
        studies = _load_studies(s, ids, visible)
    return SearchResult(total=total, limit=limit, offset=offset, studies=studies)


def _load_studies(s: Any, ids: list[int], visible: Any) -> list[StudyHit]:
    if not ids:
        return []
    rows = s.execute(
        select(DicomStudy, DicomPatient).join(DicomPatient, DicomStudy.patient_pk == DicomPatient.id)
        .where(DicomStudy.id.in_(ids))
    ).all()
    series_rows = s.scalars(
        select(DicomSeries).where(DicomSeries.study_pk.in_(ids))
        .order_by(DicomSeries.series_number, DicomSeries.id)
    ).all()
    counts: dict[int, int] | None = None
    if visible is not None:
        counts = dict(
            s.execute(
                select(DicomInstance.series_pk, func.count())
                .join(DicomSeries, DicomInstance.series_pk == DicomSeries.id)
                .where(DicomSeries.study_pk.in_(ids), visible)
                .group_by(DicomInstance.series_pk)
            ).all()
        )
    by_study: dict[int, list[SeriesHit]] = {i: [] for i in ids}
    for se in series_rows:
        n = se.num_instances if counts is None else counts.get(se.id, 0)
        if n == 0 and counts is not None:
            continue
        by_study[se.study_pk].append(
            SeriesHit(se.series_uid, se.series_number, se.series_description, se.modality,
                      se.protocol_name, se.folder, se.pacs, n)
        )
    hits: dict[int, StudyHit] = {}
    for st, pa in rows:
        series = by_study[st.id]
        hits[st.id] = StudyHit(
            study_uid=st.study_uid, study_date=st.study_date, study_description=st.study_description,
            accession_number=st.accession_number, pacs=st.pacs, patient_id=pa.patient_id,
            patient_name=pa.patient_name, patient_birth_date=pa.birth_date, patient_sex=pa.sex,
            patient_age=st.patient_age, num_series=len(series),
            num_instances=sum(x.num_instances for x in series),
            modalities=sorted({x.modality for x in series if x.modality}), series=series,
        )
    return [hits[i] for i in ids]


def series_instances(
    db: Any, series_uid: str, *, pacs: str | None = None, visible_prefixes: list[str] | None = None
) -> list[dict[str, Any]]:
    """The instances of one series (library path, SOP UID, number), in InstanceNumber order.

    ``pacs`` picks the series of that PACS when the same series was pulled from several; by
    default every copy is listed.
    """
    conds: list[Any] = [DicomSeries.series_uid == series_uid]
    if pacs is not None:
        conds.append(func.coalesce(DicomSeries.pacs, "") == pacs)
    visible = _visible(visible_prefixes)
    if visible is not None:
        conds.append(visible)
    stmt = (
        select(DicomInstance.path, DicomInstance.sop_instance_uid, DicomInstance.instance_number,
               DicomInstance.number_of_frames, DicomSeries.pacs)
        .join(DicomSeries, DicomInstance.series_pk == DicomSeries.id)
        .where(and_(*conds))
        .order_by(DicomInstance.instance_number, DicomInstance.path)
    )
    with db.session() as s:
        return [
            {"path": p, "sop_instance_uid": sop, "instance_number": n, "number_of_frames": f, "pacs": pc}
            for p, sop, n, f, pc in s.execute(stmt).all()
        ]
