"""Reading key tags: real pydicom test files, generated series and broken files."""

from __future__ import annotations

import os

import pytest
from pydicom.data import get_testdata_file

from chris_jupyter.dicom import synth, synth_broken
from chris_jupyter.dicom.headers import DicomHeader, NotIndexable, fast_values, read_header


def _testfile(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:  # the file ships in the pydicom wheel (a main dependency)
        pytest.fail(f"pydicom test file {name} is missing: reinstall pydicom", pytrace=False)
    return path


def test_ct_small_key_tags():
    h = read_header(_testfile("CT_small.dcm"))
    assert isinstance(h, DicomHeader) and h.indexable
    assert h.PatientID == "1CT1"
    assert h.PatientName == "CompressedSamples^CT1"
    assert h.Modality == "CT"
    assert h.Rows == 128 and h.Columns == 128
    assert h.SOPInstanceUID.startswith("1.3.6.1.4.1.5962")
    assert h.StudyInstanceUID and h.SeriesInstanceUID
    assert h.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert h.NumberOfFrames is None
    assert h.to_dict()["PatientID"] == "1CT1"


@pytest.mark.parametrize("name", ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm", "rtdose.dcm"])
def test_pydicom_files_are_indexable(name):
    h = read_header(_testfile(name))
    assert isinstance(h, DicomHeader), h


def test_rtdose_multiframe_count():
    h = read_header(_testfile("rtdose.dcm"))
    assert h.NumberOfFrames == 15


def test_dicomdir_is_not_indexable():
    r = read_header(_testfile("DICOMDIR"))
    assert isinstance(r, NotIndexable)
    assert "missing" in r.reason and "StudyInstanceUID" in r.reason


def test_generated_series(tmp_path):
    info = synth.write_ct_series(tmp_path, n_slices=3, rows=32, cols=32, patient_id="P1",
                                 study_description="Head", series_number=7)
    heads = [read_header(p) for p in info.paths]
    assert {h.SOPInstanceUID for h in heads} == set(info.sop_uids)
    h = heads[0]
    assert (h.PatientID, h.StudyDescription, h.SeriesNumber) == ("P1", "Head", 7)
    assert h.SeriesInstanceUID == info.series_uid and h.StudyInstanceUID == info.study_uid


def test_multiframe_header(tmp_path):
    info = synth.write_multiframe(tmp_path / "mf.dcm", n_frames=5, rows=16, cols=16)
    h = read_header(info.paths[0])
    assert h.NumberOfFrames == 5 and h.SOPClassUID == synth.ENHANCED_CT_IMAGE_STORAGE


def test_garbage_is_not_dicom(tmp_path):
    r = read_header(synth_broken.write_garbage(tmp_path / "g.dcm"))
    assert isinstance(r, NotIndexable) and not r.indexable
    assert "not a DICOM file" in r.reason


def test_corrupt_after_preamble(tmp_path):
    r = read_header(synth_broken.write_fake_preamble(tmp_path / "f.dcm"))
    assert isinstance(r, NotIndexable)


@pytest.mark.parametrize("keyword", ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"])
def test_missing_uid(tmp_path, keyword):
    r = read_header(synth_broken.write_missing_tag(tmp_path / "m.dcm", keyword))
    assert isinstance(r, NotIndexable)
    assert r.reason == f"missing {keyword}"


def test_missing_sop_in_dataset_falls_back_to_file_meta(tmp_path):
    import pydicom

    info = synth.write_ct_series(tmp_path / "s", n_slices=1, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[0])
    del ds.SOPInstanceUID
    ds.save_as(tmp_path / "x.dcm")
    h = read_header(tmp_path / "x.dcm")
    assert isinstance(h, DicomHeader) and h.SOPInstanceUID == info.sop_uids[0]


@pytest.mark.parametrize("keep", [0, 10, 132, 200, 300])
def test_truncated_header(tmp_path, keep):
    info = synth.write_ct_series(tmp_path / "s", n_slices=1, rows=16, cols=16)
    r = read_header(synth_broken.truncate_copy(info.paths[0], tmp_path / "t.dcm", keep))
    assert isinstance(r, NotIndexable), r


def test_truncated_pixels_still_index(tmp_path):
    # Only the header is read: a file cut inside its pixel data still has its key tags.
    info = synth.write_ct_series(tmp_path / "s", n_slices=1, rows=64, cols=64)
    h = read_header(synth_broken.truncate_copy(info.paths[0], tmp_path / "t.dcm", 0.8))
    assert isinstance(h, DicomHeader)


def test_missing_file_and_directory(tmp_path):
    assert read_header(tmp_path / "nope.dcm").reason == "file not found"
    assert read_header(tmp_path).reason == "is a directory"


def test_character_set_decoding(tmp_path):
    import pydicom

    info = synth.write_ct_series(tmp_path / "s", n_slices=1, rows=8, cols=8)
    ds = pydicom.dcmread(info.paths[0])
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Zoë"
    ds.save_as(tmp_path / "u.dcm")
    assert read_header(tmp_path / "u.dcm").PatientName == "Müller^Zoë"


def _all_pydicom_test_files() -> list[str]:
    # Walk the installed folder (get_testdata_file with a pattern would try downloads).
    folder = os.path.dirname(_testfile("CT_small.dcm"))
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs)


def test_fast_reader_matches_pydicom_on_every_bundled_file():
    files = _all_pydicom_test_files()
    assert len(files) > 100
    fast_used = 0
    for path in files:
        fast_used += fast_values(path) is not None
        assert read_header(path) == read_header(path, fast=False), path
    assert fast_used > 100


@pytest.mark.parametrize("ts", ["explicit", "implicit", "rle"])
def test_fast_reader_matches_pydicom_on_generated_files(tmp_path, ts):
    import pydicom

    info = synth.write_ct_series(tmp_path, n_slices=2, rows=8, cols=8, transfer_syntax=ts)
    ds = pydicom.dcmread(info.paths[0])
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Ãrna^Zoë"
    ref = pydicom.dataset.Dataset()
    ref.ReferencedSOPInstanceUID = "1.2.3"
    ds.ReferencedImageSequence = pydicom.sequence.Sequence([ref])
    ds.save_as(tmp_path / "x.dcm")
    mf = synth.write_multiframe(tmp_path / "mf.dcm", n_frames=3, rows=8, cols=8).paths[0]
    for path in [*info.paths, tmp_path / "x.dcm", mf]:
        assert fast_values(str(path)) is not None
        assert read_header(path) == read_header(path, fast=False)
    assert read_header(tmp_path / "x.dcm").PatientName == "Ãrna^Zoë"
