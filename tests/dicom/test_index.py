"""Indexing files into the dicom_* tables (SQLite and, with the shared fixture, PostgreSQL)."""

from __future__ import annotations

import pytest
from pydicom.data import get_testdata_file
from sqlalchemy import func, select

from chris_jupyter.db import Database
from chris_jupyter.db.models.dicom import DicomInstance, DicomPatient, DicomSeries, DicomStudy
from chris_jupyter.dicom import index, layout, synth, synth_broken
from chris_jupyter.dicom.headers import read_header


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    database.create_all()
    yield database
    database.dispose()


def _items(info, folder="home/alice/uploads/ct"):
    return [(f"{folder}/{p.name}", p) for p in info.paths]


def _count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_index_series_and_reindex_is_noop(db, tmp_path):
    info = synth.write_ct_series(tmp_path / "ct", n_slices=12, rows=16, cols=16)
    rep = index.index_files(db, _items(info), batch_size=5)
    assert (rep.indexed, rep.duplicates, rep.not_dicom) == (12, 0, [])
    again = index.index_files(db, _items(info))
    assert (again.indexed, again.duplicates) == (0, 12)
    with db.session() as s:
        se = s.scalars(select(DicomSeries)).one()
        assert se.series_uid == info.series_uid and se.num_instances == 12
        assert se.folder == "home/alice/uploads/ct" and se.pacs is None
        st = s.scalars(select(DicomStudy)).one()
        assert (st.num_series, st.num_instances, st.study_date) == (1, 12, "20240115")
        assert s.scalars(select(DicomPatient)).one().num_studies == 1
        paths = set(s.scalars(select(DicomInstance.path)))
    assert paths == {lib for lib, _ in _items(info)}
    assert index.is_indexed(db, info.sop_uids[3])


def test_duplicates_within_one_batch_and_other_paths(db, tmp_path):
    info = synth.write_ct_series(tmp_path / "ct", n_slices=3, rows=8, cols=8)
    items = _items(info) + _items(info, "home/alice/copy")
    rep = index.index_files(db, items)
    assert (rep.indexed, rep.duplicates) == (3, 3)
    assert _count(db, DicomInstance) == 3


def test_not_dicom_files_are_reported(db, tmp_path):
    info = synth.write_ct_series(tmp_path / "ct", n_slices=2, rows=8, cols=8)
    bad = [
        ("home/a/garbage.dcm", synth_broken.write_garbage(tmp_path / "g.dcm")),
        ("home/a/nouid.dcm", synth_broken.write_missing_tag(tmp_path / "m.dcm", "StudyInstanceUID")),
        ("home/a/short.dcm", synth_broken.truncate_copy(info.paths[0], tmp_path / "t.dcm", 100)),
        ("home/a/gone.dcm", tmp_path / "gone.dcm"),
    ]
    rep = index.index_files(db, _items(info) + bad, workers=2)
    assert rep.indexed == 2
    reasons = dict(rep.not_dicom)
    assert set(reasons) == {lib for lib, _ in bad}
    assert "not a DICOM file" in reasons["home/a/garbage.dcm"]
    assert reasons["home/a/nouid.dcm"] == "missing StudyInstanceUID"
    assert reasons["home/a/gone.dcm"] == "file not found"
    assert rep.to_dict()["not_dicom"][0]["reason"]


def test_pacs_keeps_series_apart(db, tmp_path):
    info = synth.write_ct_series(tmp_path / "ct", n_slices=2, rows=8, cols=8)
    index.index_files(db, _items(info), pacs="PACS1")
    with db.session() as s:
        se = s.scalars(select(DicomSeries)).one()
        assert se.pacs == "PACS1"
    # The same instances again from another PACS are duplicates by SOPInstanceUID.
    rep = index.index_files(db, _items(info, "x"), pacs="PACS2")
    assert rep.duplicates == 2


def test_many_series_pydicom_files_and_layout_paths(db, tmp_path):
    items = []
    for n in range(3):
        info = synth.write_mr_series(tmp_path / f"s{n}", n_slices=4, rows=8, cols=8,
                                     patient_id=f"P{n % 2}", series_number=n)
        items += [(layout.instance_path("PACS", read_header(p)), p) for p in info.paths]
    for name in ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm"):
        path = get_testdata_file(name, download=False)
        items.append((f"home/bob/uploads/{name}", path))
    rep = index.index_files(db, items, pacs="PACS")
    assert rep.indexed == 15
    assert _count(db, DicomPatient) == 2 + 3  # P0, P1 and the three test files' patients
    with db.session() as s:
        frames = s.scalar(select(DicomInstance.number_of_frames)
                          .where(DicomInstance.path == "home/bob/uploads/rtdose.dcm"))
    assert frames == 15


def test_remove_paths_prunes_empty_levels(db, tmp_path):
    a = synth.write_ct_series(tmp_path / "a", n_slices=4, rows=8, cols=8, patient_id="PA")
    b = synth.write_ct_series(tmp_path / "b", n_slices=3, rows=8, cols=8, patient_id="PB")
    index.index_files(db, _items(a, "home/u/a") + _items(b, "home/u/b"))
    first = f"home/u/a/{a.paths[0].name}"
    assert index.remove_paths(db, [first]) == 1
    with db.session() as s:
        assert s.scalar(select(DicomSeries.num_instances).where(DicomSeries.series_uid == a.series_uid)) == 3
    # A folder removes everything below it; "home/u/b2" would not match "home/u/b".
    assert index.remove_paths(db, ["home/u/a", "home/u/b2"]) == 3
    assert _count(db, DicomSeries) == 1 and _count(db, DicomStudy) == 1 and _count(db, DicomPatient) == 1
    assert index.remove_paths(db, ["home/u"]) == 3
    assert _count(db, DicomPatient) == 0
    assert index.remove_paths(db, ["nothing/here"]) == 0


def test_move_paths(db, tmp_path):
    a = synth.write_ct_series(tmp_path / "a", n_slices=2, rows=8, cols=8)
    index.index_files(db, _items(a, "home/u/old_dir"))
    index.index_files(db, _items(synth.write_ct_series(tmp_path / "c", n_slices=1, rows=8, cols=8),
                                 "home/u/old_dir_x"))
    assert index.move_paths(db, "home/u/old_dir", "home/u/new") == 2
    with db.session() as s:
        paths = sorted(s.scalars(select(DicomInstance.path)))
        folders = sorted(s.scalars(select(DicomSeries.folder)))
    assert sum(p.startswith("home/u/new/") for p in paths) == 2
    assert sum(p.startswith("home/u/old_dir_x/") for p in paths) == 1
    assert folders == ["home/u/new", "home/u/old_dir_x"]


def test_path_replaced_by_another_instance(db, tmp_path):
    a = synth.write_ct_series(tmp_path / "a", n_slices=1, rows=8, cols=8)
    b = synth.write_ct_series(tmp_path / "b", n_slices=1, rows=8, cols=8)
    index.index_files(db, [("home/u/x.dcm", a.paths[0])])
    rep = index.index_files(db, [("home/u/x.dcm", b.paths[0])])
    assert (rep.indexed, rep.replaced) == (1, 1)
    with db.session() as s:
        assert s.scalar(select(DicomInstance.sop_instance_uid)) == b.sop_uids[0]
    assert _count(db, DicomSeries) == 1 and _count(db, DicomStudy) == 1


def test_long_and_nul_values_fit(db, tmp_path):
    import pydicom

    info = synth.write_ct_series(tmp_path / "s", n_slices=1, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[0])
    ds.StudyDescription = "y" * 400
    ds.PatientName = "a\x00b"
    ds.save_as(tmp_path / "long.dcm")
    rep = index.index_files(db, [("home/u/long.dcm", tmp_path / "long.dcm")])
    assert rep.indexed == 1
    with db.session() as s:
        assert len(s.scalar(select(DicomStudy.study_description))) == 256


def test_index_headers_directly(db, tmp_path):
    info = synth.write_ct_series(tmp_path / "s", n_slices=2, rows=8, cols=8)
    heads = [(f"SERVICES/PACS/P/{p.name}", read_header(p)) for p in info.paths]
    rep = index.index_headers(db, heads, pacs="P")
    assert rep.indexed == 2


def test_concurrent_indexers_of_the_same_files(db, tmp_path):
    import threading

    info = synth.write_ct_series(tmp_path / "ct", n_slices=40, rows=8, cols=8)
    items = _items(info)
    reports = []

    def run(order):
        reports.append(index.index_files(db, order, batch_size=7, workers=1))

    threads = [threading.Thread(target=run, args=(items,)),
               threading.Thread(target=run, args=(items[::-1],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.indexed for r in reports) == 40
    assert sum(r.duplicates for r in reports) == 40
    assert _count(db, DicomInstance) == 40 and _count(db, DicomSeries) == 1
    with db.session() as s:
        assert s.scalar(select(DicomSeries.num_instances)) == 40
        assert s.scalar(select(DicomStudy.num_instances)) == 40


def test_walk_items_indexes_a_folder(db, tmp_path):
    synth.write_ct_series(tmp_path / "up" / "a", n_slices=3, rows=8, cols=8)
    synth.write_mr_series(tmp_path / "up" / "b" / "c", n_slices=2, rows=8, cols=8)
    (tmp_path / "up" / "readme.txt").write_text("not dicom")
    (tmp_path / "up" / "link.dcm").symlink_to(tmp_path / "up" / "readme.txt")
    items = list(index.walk_items(tmp_path / "up", "home/u/uploads"))
    assert len(items) == 6
    assert all(lib.startswith("home/u/uploads/") for lib, _ in items)
    rep = index.index_files(db, items)
    assert rep.indexed == 5 and [p for p, _ in rep.not_dicom] == ["home/u/uploads/readme.txt"]
