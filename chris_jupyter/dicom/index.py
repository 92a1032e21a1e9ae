"""Index DICOM files of the library into the ``dicom_*`` tables, in batches.

The original ChRIS registered each received instance with its own HTTP request and DB
transaction, which made PACS registration CPU-bound. Here a batch of files costs a handful of
statements: headers are read in a thread pool, existing rows are looked up with one ``IN``
query per level, new rows go in with multi-row ``INSERT … RETURNING``, and the counters are
recomputed with one ``UPDATE`` per level.

Indexing is idempotent: an instance is unique by SOPInstanceUID, so indexing the same files
again only counts duplicates. A library path that now holds a different instance replaces the
old row.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from .. import paths as lpaths
from ..db.models.dicom import DicomInstance, DicomPatient, DicomSeries, DicomStudy
from ..db.query import at_or_below
from .headers import DicomHeader, NotIndexable, read_header

_IN_CHUNK = 500  # bound parameters per IN (...) list
_ATTEMPTS = 5


@dataclass
class IndexReport:
    """What one :func:`index_files` call did."""

    indexed: int = 0
    duplicates: int = 0
    replaced: int = 0
    not_dicom: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return self.indexed + self.duplicates + len(self.not_dicom)

    def to_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "duplicates": self.duplicates,
            "replaced": self.replaced,
            "not_dicom": [{"path": p, "reason": r} for p, r in self.not_dicom],
            "seconds": round(self.seconds, 3),
        }


def _chunks(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(iterable)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def index_files(
    db: Any,
    items: Iterable[tuple[str, str | os.PathLike[str]]],
    *,
    pacs: str | None = None,
    owner: int | None = None,
    batch_size: int = 500,
    workers: int | None = None,
) -> IndexReport:
    """Read the headers of files and add them to the index.

    Parameters
    ----------
    db
        A :class:`chris_jupyter.db.Database`.
    items
        ``(library_path, disk_path)`` pairs; library paths must already be normalised.
    pacs
        Name of the PACS the files came from (``None`` for uploads and plugin outputs).
    owner
        ``users.id`` of the owner of the files, stored on each instance.
    batch_size
        Files per DB transaction.
    workers
        Threads reading headers (default: ``min(4, cpu_count)``; 1 reads serially).

    Returns
    -------
    IndexReport
        Counts of indexed, duplicate and replaced instances and the files that are not
        indexable, with the reason.
    """
    t0 = time.perf_counter()
    report = IndexReport()
    workers = workers or min(4, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="dicom-index") if workers > 1 else None
    try:
        for batch in _chunks(items, batch_size):
            disk = [d for _, d in batch]
            heads = list(pool.map(read_header, disk)) if pool else [read_header(d) for d in disk]
            good: list[tuple[str, DicomHeader]] = []
            for (lib, _), head in zip(batch, heads, strict=True):
                if isinstance(head, NotIndexable):
                    report.not_dicom.append((lib, head.reason))
                else:
                    good.append((lib, head))
            if good:
                _write_with_retry(db, good, pacs, owner, report)
    finally:
        if pool:
            pool.shutdown()
    report.seconds = time.perf_counter() - t0
    return report


def walk_items(disk_dir: str | os.PathLike[str], library_dir: str) -> Iterator[tuple[str, str]]:
    """``(library_path, disk_path)`` of every regular file below a folder, for :func:`index_files`.

    ``library_dir`` is the library path of ``disk_dir``. Symbolic links are not followed, and
    names that are not valid library names are skipped.
    """
    root = os.fspath(disk_dir)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        base = library_dir if rel == "." else lpaths.join(library_dir, rel.replace(os.sep, "/"))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            try:
                yield lpaths.normalize(lpaths.join(base, name)), full
            except lpaths.InvalidPath:
                continue


def index_headers(
    db: Any,
    items: Sequence[tuple[str, DicomHeader]],
    *,
    pacs: str | None = None,
    owner: int | None = None,
) -> IndexReport:
    """Index headers the caller already holds (e.g. a C-STORE receiver that parsed them)."""
    report = IndexReport()
    t0 = time.perf_counter()
    for batch in _chunks(items, 500):
        _write_with_retry(db, batch, pacs, owner, report)
    report.seconds = time.perf_counter() - t0
    return report


def _write_with_retry(db: Any, good: list, pacs: str | None, owner: int | None, report: IndexReport) -> None:
    # A concurrent indexer may insert the same patient/study/series between our SELECT and our
    # INSERT; the unique indexes then reject ours and the batch is simply redone. Rows are
    # written in key order, so writers should not deadlock; if the DB still reports one (or
    # SQLite stays locked past its timeout), the batch is redone too.
    for attempt in range(_ATTEMPTS):
        part = IndexReport()
        try:
            with db.session() as s:
                _write_batch(s, good, pacs, owner, part)
        except (IntegrityError, OperationalError):
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
            continue
        report.indexed += part.indexed
        report.duplicates += part.duplicates
        report.replaced += part.replaced
        return


def _insert(session: Session, model: type) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        return insert(model)
    return dialect_insert(model)


def _fit(model: type, row: dict[str, Any]) -> dict[str, Any]:
    """Cut text to the column's length and drop NUL bytes (PostgreSQL rejects both)."""
    cols = model.__table__.columns
    for key, value in row.items():
        if isinstance(value, str):
            if "\x00" in value:
                value = value.replace("\x00", "")
            length = cols[key].type.length if isinstance(cols[key].type, String) else None
            row[key] = value[:length] if length else value
    return row


def _pacs_key(column: Any, pacs: str | None) -> Any:
    return func.coalesce(column, "") == (pacs or "")


def _select_in(session: Session, cols: Sequence[Any], key_col: Any, keys: Iterable[str], *where: Any) -> list:
    keys = list(keys)
    rows: list = []
    for i in range(0, len(keys), _IN_CHUNK):
        rows += session.execute(select(*cols).where(key_col.in_(keys[i : i + _IN_CHUNK]), *where)).all()
    return rows


def _ensure(
    session: Session, model: type, key_attr: str, new_rows: dict[str, dict[str, Any]], pacs: str | None
) -> tuple[dict[str, int], set[int]]:
    """Primary keys of rows keyed by ``key_attr`` (within ``pacs``), inserting the missing ones.

    Returns the key -> primary key map and the primary keys of the rows inserted here.
    """
    key_col = getattr(model, key_attr)
    found = {
        k: pk
        for pk, k in _select_in(session, [model.id, key_col], key_col, new_rows, _pacs_key(model.pacs, pacs))
    }
    missing = [_fit(model, new_rows[key]) for key in sorted(new_rows) if key not in found]
    created: set[int] = set()
    if missing:
        result = session.execute(insert(model).returning(model.id, key_col), missing)
        for pk, k in result.all():
            found[k] = pk
            created.add(pk)
    return found, created


def _increment(session: Session, model: type, deltas: dict[int, dict[str, int]]) -> None:
    """``UPDATE … SET col = col + n`` per row: race-free counters (rows are locked in turn)."""
    table = model.__table__
    by_cols: dict[tuple[str, ...], list[dict[str, int]]] = {}
    for pk, delta in deltas.items():
        delta = {c: n for c, n in delta.items() if n}
        if delta:
            by_cols.setdefault(tuple(sorted(delta)), []).append({"pk_": pk, **{f"d_{c}": n for c, n in delta.items()}})
    for cols, params in by_cols.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("pk_"))
            .values({c: table.c[c] + bindparam(f"d_{c}") for c in cols})
        )
        session.connection().execute(stmt, sorted(params, key=lambda p: p["pk_"]))


def _write_batch(
    s: Session, good: list[tuple[str, DicomHeader]], pacs: str | None, owner: int | None, report: IndexReport
) -> None:
    # 1. duplicates inside the batch and against the index
    by_sop: dict[str, tuple[str, DicomHeader]] = {}
    for lib, h in good:
        if h.SOPInstanceUID in by_sop:
            report.duplicates += 1
        else:
            by_sop[h.SOPInstanceUID] = (lib, h)
    known = {sop for (sop,) in _select_in(s, [DicomInstance.sop_instance_uid],
                                          DicomInstance.sop_instance_uid, by_sop)}
    report.duplicates += len(known)
    todo = [v for sop, v in by_sop.items() if sop not in known]
    if not todo:
        return
    # 2. a path that now holds another instance: drop the stale row first
    # (same SOP at the same path: a concurrent indexer was quicker -> a duplicate)
    sop_at = {lib: h.SOPInstanceUID for lib, h in todo}
    at_paths = _select_in(s, [DicomInstance.id, DicomInstance.series_pk, DicomInstance.path,
                              DicomInstance.sop_instance_uid], DicomInstance.path, sop_at)
    same = {path for _, _, path, sop in at_paths if sop_at[path] == sop}
    if same:
        todo = [(lib, h) for lib, h in todo if lib not in same]
        report.duplicates += len(same)
    stale = [(i, series) for i, series, path, sop in at_paths if sop_at[path] != sop]
    if stale:
        ids = [i for i, _ in stale]
        s.execute(delete(DicomInstance).where(DicomInstance.id.in_(ids)))
        report.replaced += len(ids)
    if not todo:
        return
    # 3. upper levels
    patients = {
        h.PatientID: {"pacs": pacs, "patient_id": h.PatientID, "patient_name": h.PatientName,
                      "birth_date": h.PatientBirthDate, "sex": h.PatientSex}
        for _, h in todo
    }
    patient_pk, _ = _ensure(s, DicomPatient, "patient_id", patients, pacs)
    studies = {
        h.StudyInstanceUID: {"pacs": pacs, "patient_pk": patient_pk[h.PatientID],
                             "study_uid": h.StudyInstanceUID, "study_date": h.StudyDate,
                             "accession_number": h.AccessionNumber,
                             "study_description": h.StudyDescription, "patient_age": h.PatientAge}
        for _, h in todo
    }
    study_pk, new_studies = _ensure(s, DicomStudy, "study_uid", studies, pacs)
    series = {
        h.SeriesInstanceUID: {"pacs": pacs, "study_pk": study_pk[h.StudyInstanceUID],
                              "series_uid": h.SeriesInstanceUID, "series_number": h.SeriesNumber,
                              "series_description": h.SeriesDescription, "modality": h.Modality,
                              "protocol_name": h.ProtocolName, "folder": lpaths.parent(lib)}
        for lib, h in todo
    }
    series_pk, new_series = _ensure(s, DicomSeries, "series_uid", series, pacs)
    # 4. instances; ON CONFLICT DO NOTHING makes a concurrent duplicate a no-op
    todo.sort(key=lambda item: item[1].SOPInstanceUID)  # one lock order for concurrent writers
    rows = [
        _fit(DicomInstance, {
            "series_pk": series_pk[h.SeriesInstanceUID], "sop_instance_uid": h.SOPInstanceUID,
            "sop_class_uid": h.SOPClassUID, "instance_number": h.InstanceNumber, "rows": h.Rows,
            "columns": h.Columns, "number_of_frames": h.NumberOfFrames,
            "transfer_syntax_uid": h.TransferSyntaxUID, "path": lib, "owner_id": owner,
        })
        for lib, h in todo
    ]
    stmt = _insert(s, DicomInstance).on_conflict_do_nothing().returning(DicomInstance.series_pk)
    per_series = Counter(pk for (pk,) in s.execute(stmt, rows).all())
    inserted = sum(per_series.values())
    report.duplicates += len(rows) - inserted
    report.indexed += inserted
    # 5. counters, by increments (a recount could miss a concurrent indexer's rows)
    study_of = {series_pk[h.SeriesInstanceUID]: study_pk[h.StudyInstanceUID] for _, h in todo}
    patient_of = {study_pk[h.StudyInstanceUID]: patient_pk[h.PatientID] for _, h in todo}
    _increment(s, DicomSeries, {pk: {"num_instances": n} for pk, n in per_series.items()})
    study_delta: dict[int, dict[str, int]] = {}
    for se, n in per_series.items():
        study_delta.setdefault(study_of[se], {"num_instances": 0, "num_series": 0})["num_instances"] += n
    for se in new_series:
        study_delta.setdefault(study_of[se], {"num_instances": 0, "num_series": 0})["num_series"] += 1
    _increment(s, DicomStudy, study_delta)
    new_per_patient = Counter(patient_of[st] for st in new_studies)
    _increment(s, DicomPatient, {pk: {"num_studies": n} for pk, n in new_per_patient.items()})
    if stale:
        _prune(s, {series for _, series in stale})


def _recount(s: Session, series_ids: set[int], study_ids: set[int], patient_ids: set[int]) -> None:
    """Recompute the counters of the given rows from their children."""
    for ids in _chunks(sorted(series_ids), _IN_CHUNK):
        n = select(func.count()).where(DicomInstance.series_pk == DicomSeries.id).scalar_subquery()
        s.execute(update(DicomSeries).where(DicomSeries.id.in_(ids)).values(num_instances=n))
    for ids in _chunks(sorted(study_ids), _IN_CHUNK):
        ns = select(func.count()).where(DicomSeries.study_pk == DicomStudy.id).scalar_subquery()
        ni = (select(func.coalesce(func.sum(DicomSeries.num_instances), 0))
              .where(DicomSeries.study_pk == DicomStudy.id).scalar_subquery())
        s.execute(update(DicomStudy).where(DicomStudy.id.in_(ids)).values(num_series=ns, num_instances=ni))
    for ids in _chunks(sorted(patient_ids), _IN_CHUNK):
        n = select(func.count()).where(DicomStudy.patient_pk == DicomPatient.id).scalar_subquery()
        s.execute(update(DicomPatient).where(DicomPatient.id.in_(ids)).values(num_studies=n))


# --- deletes and moves ----------------------------------------------------------------------


def remove_paths(db: Any, library_paths: Iterable[str]) -> int:
    """Forget the instances at these library paths, or below them when a path is a folder.

    Series, studies and patients left empty are removed too. Returns the number of instances
    removed. Call it when files are deleted, and for the old path when files move (or use
    :func:`move_paths`).
    """
    removed = 0
    with db.session() as s:
        for chunk in _chunks(library_paths, 50):
            cond = or_(*[at_or_below(DicomInstance.path, p) for p in chunk])
            series_ids = {i for (i,) in s.execute(select(DicomInstance.series_pk).where(cond).distinct())}
            if not series_ids:
                continue
            removed += s.execute(delete(DicomInstance).where(cond)).rowcount or 0
            _prune(s, series_ids)
    return removed


def move_paths(db: Any, old: str, new: str) -> int:
    """Rewrite the paths of instances at or below ``old`` to lie at or below ``new``."""
    with db.session() as s:
        rows = s.execute(select(DicomInstance.id, DicomInstance.path).where(at_or_below(DicomInstance.path, old))).all()
        if rows:
            s.execute(
                update(DicomInstance),
                [{"id": i, "path": new + p[len(old):]} for i, p in rows],
            )
        q = select(DicomSeries.id, DicomSeries.folder).where(at_or_below(DicomSeries.folder, old))
        folders = s.execute(q).all()
        if folders:
            s.execute(update(DicomSeries), [{"id": i, "folder": new + f[len(old):]} for i, f in folders])
    return len(rows)


def _prune(s: Session, series_ids: set[int]) -> None:
    study_ids = {i for (i,) in _select_in(s, [DicomSeries.study_pk], DicomSeries.id, series_ids)}
    patient_ids = {i for (i,) in _select_in(s, [DicomStudy.patient_pk], DicomStudy.id, study_ids)}
    _recount(s, series_ids, set(), set())
    s.execute(delete(DicomSeries).where(DicomSeries.id.in_(series_ids), DicomSeries.num_instances == 0))
    _recount(s, set(), study_ids, set())
    s.execute(delete(DicomStudy).where(DicomStudy.id.in_(study_ids), DicomStudy.num_series == 0))
    _recount(s, set(), set(), patient_ids)
    s.execute(delete(DicomPatient).where(DicomPatient.id.in_(patient_ids), DicomPatient.num_studies == 0))


def is_indexed(db: Any, sop_instance_uid: str) -> bool:
    """True when an instance with this SOPInstanceUID is in the index."""
    with db.session() as s:
        return bool(s.scalar(select(exists().where(DicomInstance.sop_instance_uid == sop_instance_uid))))
