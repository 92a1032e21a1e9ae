"""The ChRIS PACS folder rule."""

from __future__ import annotations

import hashlib

import pydicom
from pydicom.dataset import Dataset

from chris_jupyter import paths
from chris_jupyter.dicom import layout, synth
from chris_jupyter.dicom.headers import DicomHeader, read_header


def _header(**kw) -> DicomHeader:
    base = dict(PatientID="1234", PatientName="Doe^John", PatientBirthDate="19700101",
                StudyDescription="CT CHEST", AccessionNumber="A42", StudyDate="20240115",
                SeriesNumber=2, SeriesDescription="Axial 1.25mm", SeriesInstanceUID="1.2.3.4",
                InstanceNumber=7, SOPInstanceUID="1.2.3.4.5", StudyInstanceUID="1.2.3")
    base.update(kw)
    return DicomHeader(**base)


def test_hash7_is_md5_prefix():
    assert layout.hash7("1.2.3.4") == hashlib.md5(b"1.2.3.4").hexdigest()[:7]
    assert len(layout.hash7("x")) == 7


def test_instance_path_matches_chris_rule():
    p = layout.instance_path("MyPACS", _header())
    h7 = layout.hash7("1.2.3.4")
    assert p == (
        "SERVICES/PACS/MyPACS/1234-Doe^John-19700101/CT CHEST-A42-20240115/"
        f"00002-Axial 1.25mm-{h7}/0007-1.2.3.4.5.dcm"
    )
    assert paths.normalize(p) == p
    assert layout.series_path("MyPACS", _header()) == paths.parent(p)


def test_dataset_and_header_give_the_same_path(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=1, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[0])
    assert layout.instance_path("P", ds) == layout.instance_path("P", read_header(info.paths[0]))


def test_hostile_values_cannot_escape():
    h = _header(PatientID="../../etc", PatientName="a/b\\c", StudyDescription="..",
                SeriesDescription="x\x00y/..", SOPInstanceUID="../../passwd")
    p = layout.instance_path("../evil", h)
    assert paths.normalize(p) == p
    parts = p.split("/")
    assert parts[:2] == ["SERVICES", "PACS"] and len(parts) == 7
    assert ".." not in parts


def test_missing_values():
    ds = Dataset()
    ds.SeriesInstanceUID = "1.2"
    ds.SOPInstanceUID = "1.2.3"
    p = layout.instance_path("P", ds)
    assert paths.normalize(p) == p
    assert p.endswith(f"/00000--{layout.hash7('1.2')}/0000-1.2.3.dcm")


def test_long_values_are_cut():
    p = layout.instance_path("P", _header(StudyDescription="x" * 500))
    assert all(len(part.encode()) <= paths.MAX_NAME_BYTES for part in p.split("/"))
