"""Searching the index: wildcards, dates, modality, descriptions, UIDs, paging, visibility."""

from __future__ import annotations

import json

import pytest

from chris_jupyter.db import Database
from chris_jupyter.dicom import index, synth
from chris_jupyter.dicom.search import parse_date_range, search_studies, series_instances


@pytest.fixture(scope="module")
def db(module_db_url, tmp_path_factory):
    """Three patients, four studies, five series in two users' folders (built once per engine:
    the tests only search it)."""
    tmp_path = tmp_path_factory.mktemp("search-lib")
    database = Database(module_db_url)
    database.create_all()
    specs = [
        # folder, writer, patient id, name, study key, date, study desc, accession, series desc
        ("home/alice/uploads/s1", synth.write_ct_series, "P001", "Doe^John", "A", "20240115",
         "CT CHEST", "ACC1", "Axial lung"),
        ("home/alice/uploads/s2", synth.write_mr_series, "P001", "Doe^John", "A", "20240115",
         "CT CHEST", "ACC1", "Scout"),
        ("home/alice/uploads/s3", synth.write_mr_series, "P002", "Smith^Jane", "B", "20230601",
         "MR BRAIN", "ACC2", "T1 sagittal"),
        ("home/bob/uploads/s4", synth.write_ct_series, "P003", "DOE^JANE", "C", "20220301",
         "CT ABDOMEN", "X_1%", "Portal venous"),
        ("home/bob/uploads/s5", synth.write_mr_series, "P003", "DOE^JANE", "D", "20240201",
         "MR KNEE", "ACC4", "PD fat sat"),
    ]
    study_uids: dict[str, str] = {}
    database.infos = []
    for folder, writer, pid, name, key, date, sdesc, acc, serdesc in specs:
        info = writer(tmp_path / folder, n_slices=2, rows=8, cols=8, patient_id=pid,
                      patient_name=name, study_uid=study_uids.get(key), study_date=date,
                      study_description=sdesc, accession=acc, series_description=serdesc)
        study_uids[key] = info.study_uid
        database.infos.append(info)
        index.index_files(database, [(f"{folder}/{p.name}", p) for p in info.paths])
    database.study_uids = study_uids
    yield database
    database.dispose()


def _uids(result):
    return [st.study_uid for st in result.studies]


def test_everything_newest_first(db):
    r = search_studies(db)
    assert r.total == 4
    assert [st.study_date for st in r.studies] == ["20240201", "20240115", "20230601", "20220301"]
    a = r.studies[1]
    assert a.num_series == 2 and a.num_instances == 4 and a.modalities == ["CT", "MR"]
    assert [se.series_description for se in a.series] == ["Axial lung", "Scout"]
    json.dumps(r.to_dict())


@pytest.mark.parametrize(
    ("kwargs", "keys"),
    [
        ({"patient_name": "doe*"}, {"A", "C", "D"}),
        ({"patient_name": "DOE^JANE"}, {"C", "D"}),
        ({"patient_name": "doe^j?hn"}, {"A"}),
        ({"patient_name": "*jane"}, {"B", "C", "D"}),
        ({"patient_name": "doe"}, set()),
        ({"patient_id": "P00?"}, {"A", "B", "C", "D"}),
        ({"patient_id": "p002"}, {"B"}),
        ({"accession": "X_1%"}, {"C"}),
        ({"accession": "X?1*"}, {"C"}),
        ({"accession": "ACC_"}, set()),  # '_' is literal, not a wildcard
        ({"study_date": "20240101-20241231"}, {"A", "D"}),
        ({"study_date": "-20230601"}, {"B", "C"}),
        ({"study_date": "20240115"}, {"A"}),
        ({"date_from": "2023-01-01", "date_to": "2024-01-31"}, {"A", "B"}),
        ({"modality": "mr"}, {"A", "B", "D"}),
        ({"modality": ["CT"]}, {"A", "C"}),
        ({"description": "brain"}, {"B"}),
        ({"description": "sagittal"}, {"B"}),
        ({"study_description": "ct"}, {"A", "C"}),
        ({"series_description": "FAT"}, {"D"}),
        ({"modality": "CT", "patient_name": "*jane"}, {"C"}),
    ],
)
def test_filters(db, kwargs, keys):
    expected = {db.study_uids[k] for k in keys}
    r = search_studies(db, **kwargs)
    assert set(_uids(r)) == expected and r.total == len(expected)


def test_any_uid(db):
    info = db.infos[2]
    for uid in (info.study_uid, info.series_uid, info.sop_uids[1]):
        assert _uids(search_studies(db, uid=uid)) == [db.study_uids["B"]]
    assert search_studies(db, uid="9.9.9").total == 0


def test_paging(db):
    first = search_studies(db, limit=3)
    second = search_studies(db, limit=3, offset=3)
    assert first.total == second.total == 4
    assert len(first.studies) == 3 and len(second.studies) == 1
    assert set(_uids(first)) | set(_uids(second)) == set(db.study_uids.values())


def test_visibility(db):
    r = search_studies(db, visible_prefixes=["home/bob"])
    assert set(_uids(r)) == {db.study_uids["C"], db.study_uids["D"]}
    # Only one of the two series of study A lies below this folder.
    r = search_studies(db, visible_prefixes=["home/alice/uploads/s2"])
    assert r.total == 1 and r.studies[0].num_series == 1 and r.studies[0].num_instances == 2
    assert search_studies(db, visible_prefixes=[]).total == 0
    assert search_studies(db, visible_prefixes=["home/ali"]).total == 0
    assert search_studies(db, visible_prefixes=[""]).total == 4


def test_series_instances(db):
    info = db.infos[0]
    rows = series_instances(db, info.series_uid)
    assert [r["sop_instance_uid"] for r in rows] == info.sop_uids
    assert all(r["path"].startswith("home/alice/uploads/s1/") for r in rows)
    assert series_instances(db, info.series_uid, visible_prefixes=["home/bob"]) == []


def test_parse_date_range():
    assert parse_date_range("20240101-20240131") == ("20240101", "20240131")
    assert parse_date_range("2024-01-05") == ("20240105", "20240105")
    with pytest.raises(ValueError):
        parse_date_range("yesterday")
