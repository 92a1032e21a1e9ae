"""De-identification: the profile's actions, options, consistency and the tree/CLI entry points."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from chris_jupyter.dicom import deid, synth, synth_broken
from chris_jupyter.dicom.deid import BASIC_PROFILE, DeidConfig, Deidentifier
from chris_jupyter.dicom.volume import load_series


def _dataset(tmp_path, **kw) -> Dataset:
    info = synth.write_ct_series(tmp_path / "src", n_slices=1, rows=8, cols=8, **kw)
    ds = pydicom.dcmread(info.paths[0])
    ds.PatientName = "Doe^John"
    ds.PatientID = "MRN123"
    ds.PatientBirthDate = "19700203"
    ds.PatientAddress = "1 Main St"
    ds.OtherPatientIDs = "X9"
    ds.InstitutionAddress = "Somewhere"
    ds.ReferringPhysicianName = "Who^Doctor"
    ds.StudyDescription = "CT of John Doe MRN123"
    ds.AcquisitionDateTime = "20240115103000.5"
    ds.add_new(0x00091010, "LO", "private secret")
    ds.add_new(0x60003000, "OW", b"\0" * 8)
    ds.add_new(0x50000005, "US", 1)
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5.6"
    ds.ReferencedImageSequence = Sequence([ref])
    ds.BurnedInAnnotation = "NO"
    return ds


def test_profile_table_uses_known_keywords_and_actions():
    assert len(BASIC_PROFILE) > 250
    assert set(BASIC_PROFILE.values()) <= set("DZXKCU")
    assert all(tag_for_keyword(k) is not None for k in BASIC_PROFILE)
    for keywords in deid.RETAIN_OPTIONS.values():
        assert all(tag_for_keyword(k) is not None for k in keywords)


def test_basic_profile_actions(tmp_path):
    ds = _dataset(tmp_path)
    orig = copy.deepcopy(ds)
    out = Deidentifier({"salt": "s"}).dataset(ds)
    # Z: emptied, or the patient pseudonym for name and ID
    assert out.PatientID.startswith("ANON") and out.PatientID != "MRN123"
    assert str(out.PatientName) == out.PatientID
    assert out.PatientBirthDate == "" and out.AccessionNumber == "" and out.ReferringPhysicianName == ""
    # X: removed
    for kw in ("PatientAddress", "OtherPatientIDs", "InstitutionAddress", "StudyDescription",
               "SeriesDescription", "PatientAge"):
        assert kw not in out, kw
    # D: dummy
    assert out.InstitutionName == "ANONYMIZED" and out.ProtocolName == "ANONYMIZED"
    # private, overlay and curve groups removed
    assert 0x00091010 not in out and 0x60003000 not in out and 0x50000005 not in out
    # U: new UIDs, also inside sequences and in the file meta
    for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert out[kw].value != orig[kw].value and out[kw].value.startswith("2.25.")
        assert len(out[kw].value) <= 64
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    ref = out.ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID != "1.2.3.4.5.6"
    assert ref.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert out.SOPClassUID == orig.SOPClassUID and out.Modality == "CT"
    # the marks
    assert out.PatientIdentityRemoved == "YES"
    assert "Basic Application Confidentiality Profile" in out.DeidentificationMethod
    codes = {c.CodeValue for c in out.DeidentificationMethodCodeSequence}
    assert {"113100", "113107"} <= codes
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    # pixels untouched
    assert out.PixelData == orig.PixelData


def test_dates_shift_per_patient(tmp_path):
    d = Deidentifier({"salt": "s"})
    a1 = d.dataset(_dataset(tmp_path / "1"))
    a2 = _dataset(tmp_path / "2", study_date="20240120")
    a2 = d.dataset(a2)
    b = _dataset(tmp_path / "3")
    b.PatientID = "OTHER"
    b = d.dataset(b)
    day = lambda v: dt.datetime.strptime(v[:8], "%Y%m%d").date()  # noqa: E731
    assert day(a1.StudyDate) < dt.date(2024, 1, 15)
    # Same patient: same offset, so intervals are kept.
    assert (day(a2.StudyDate) - day(a1.StudyDate)).days == 5
    assert a1.StudyDate != b.StudyDate  # another patient, another offset (for this salt)
    assert a1.AcquisitionDateTime.endswith("103000.5") and a1.AcquisitionDateTime[:8] == a1.StudyDate
    assert a1.SeriesDate == a1.StudyDate


def test_fixed_shift_and_no_shift(tmp_path):
    out = Deidentifier({"date_shift_days": 10}).dataset(_dataset(tmp_path / "a"))
    assert out.StudyDate == "20240105"
    out = Deidentifier({"shift_dates": False}).dataset(_dataset(tmp_path / "b"))
    assert out.StudyDate == "" and out.SeriesDate == "19000101"
    assert "LongitudinalTemporalInformationModified" not in out


def test_uids_consistent_within_run_and_deterministic_with_salt(tmp_path):
    info = synth.write_ct_series(tmp_path / "s", n_slices=3, rows=8, cols=8)
    d = Deidentifier({"salt": "secret"})
    outs = [d.dataset(pydicom.dcmread(p)) for p in info.paths]
    assert len({o.SeriesInstanceUID for o in outs}) == 1
    assert len({o.SOPInstanceUID for o in outs}) == 3
    again = Deidentifier({"salt": "secret"}).dataset(pydicom.dcmread(info.paths[0]))
    assert again.SeriesInstanceUID == outs[0].SeriesInstanceUID
    other = Deidentifier({"salt": "pepper"}).dataset(pydicom.dcmread(info.paths[0]))
    assert other.SeriesInstanceUID != outs[0].SeriesInstanceUID
    assert Deidentifier().new_uid("1.2.3") != Deidentifier().new_uid("1.2.3")  # random salt


def test_keep_replace_remove_and_options(tmp_path):
    cfg = DeidConfig(keep=["StudyDescription", "(0008,103E)"], replace={"PatientID": "SUBJ-01"},
                     remove=["Manufacturer"], keep_private=True, retain_patient_characteristics=True,
                     retain_uids=True, retain_institution_identity=True)
    ds = _dataset(tmp_path)
    orig = copy.deepcopy(ds)
    out = Deidentifier(cfg).dataset(ds)
    assert out.StudyDescription == "CT of John Doe MRN123"
    assert out.SeriesDescription == orig.SeriesDescription
    assert out.PatientID == "SUBJ-01" and "Manufacturer" not in out
    assert out[0x00091010].value == "private secret"
    assert out.PatientAge == "042Y" and out.PatientSex == "O"
    assert out.SOPInstanceUID == orig.SOPInstanceUID
    assert out.InstitutionName == orig.InstitutionName
    codes = {c.CodeValue for c in out.DeidentificationMethodCodeSequence}
    assert {"113108", "113110", "113111", "113112"} <= codes


def test_clean_descriptions(tmp_path):
    out = Deidentifier({"clean_descriptions": True}).dataset(_dataset(tmp_path))
    assert out.StudyDescription == "CT of"
    assert out.SeriesDescription == "Axial 1.25mm"


def test_unknown_settings_rejected():
    with pytest.raises(ValueError, match="unknown"):
        Deidentifier({"kepe": []})
    with pytest.raises(ValueError, match="unknown DICOM keyword"):
        Deidentifier({"keep": ["NotATag"]})


def test_deidentify_file_keeps_pixels(tmp_path):
    info = synth.write_ct_series(tmp_path / "s", n_slices=4, rows=16, cols=16, transfer_syntax="rle")
    d = Deidentifier()
    outs = []
    for i, p in enumerate(info.paths):
        d.deidentify_file(p, tmp_path / "out" / f"{i}.dcm")
        outs.append(tmp_path / "out" / f"{i}.dcm")
    vol = load_series(outs)
    assert (vol.data == info.phantom.volume()).all()


def test_pydicom_files():
    d = Deidentifier()
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtstruct.dcm"):
        path = get_testdata_file(name, download=False)
        ds = d.dataset(pydicom.dcmread(path, force=True))
        assert ds.PatientIdentityRemoved == "YES"
        assert "PatientBirthDate" not in ds or ds.PatientBirthDate == ""


def test_tree_and_cli(tmp_path, capsys):
    src = tmp_path / "Doe^John"
    info = synth.write_ct_series(src / "ct", n_slices=3, rows=8, cols=8, patient_id="MRN1")
    synth_broken.write_garbage(src / "notes.dcm")
    report = Deidentifier({"salt": "x"}).deidentify_tree(src, tmp_path / "out")
    assert len(report.written) == 3
    assert report.skipped[0][0] == "notes.dcm"
    assert all("MRN1" not in w and "Doe" not in w for w in report.written)
    written = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(written) == 3
    assert pydicom.dcmread(written[0]).PatientIdentityRemoved == "YES"
    assert deid.main([str(src), str(tmp_path / "cli"), "--config", json.dumps({"salt": "x"})]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed["written"]) == sorted(report.written)
    # every source instance came out once, under a new UID
    out_uids = {pydicom.dcmread(p).SOPInstanceUID for p in written}
    assert len(out_uids) == len(info.sop_uids) and out_uids.isdisjoint(info.sop_uids)
