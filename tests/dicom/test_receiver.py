"""StoreReceiver against real dcmtk peers (storescu, echoscu)."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from chris_jupyter import paths
from chris_jupyter.dicom import synth
from chris_jupyter.dicom.net.netutil import StoredInstance
from chris_jupyter.dicom.net.receiver import StoreReceiver
from tests.fixtures.orthanc import dataset_portion

pytestmark = pytest.mark.orthanc

AET = "CHRISRECV"


def test_path(ds: pydicom.Dataset) -> str:
    return paths.join(
        paths.PACS, "TEST", paths.safe_component(ds.SeriesInstanceUID),
        paths.safe_component(ds.SOPInstanceUID) + ".dcm",
    )


test_path.__test__ = False  # not a test


class Collector:
    def __init__(self) -> None:
        self.batches: list[list[StoredInstance]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[StoredInstance]) -> None:
        with self.lock:
            self.batches.append(list(batch))

    @property
    def items(self) -> list[StoredInstance]:
        return [i for b in self.batches for i in b]


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture(params=["lean", "pynetdicom"])
def engine(request) -> str:
    return request.param


@pytest.fixture
def receiver(tmp_path: Path, collector: Collector, engine: str):
    r = StoreReceiver(
        AET, "127.0.0.1", 0, storage_root=tmp_path / "lib", path_for=test_path,
        on_stored=collector, batch_size=4, batch_seconds=30, engine=engine,
    ).start()
    yield r
    r.stop()


def storescu(dcmtk, port: int, files: list[Path], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dcmtk.storescu, "-aec", AET, *extra, "127.0.0.1", str(port), *map(str, files)],
        env=dcmtk.env, capture_output=True, text=True, timeout=120,
    )


def test_storescu_uncompressed_bytes_as_sent(receiver, collector, dcmtk, tmp_path):
    info = synth.write_ct_series(tmp_path / "src", n_slices=10, rows=64, cols=64)
    proc = storescu(dcmtk, receiver.port, info.paths)
    assert proc.returncode == 0, proc.stderr
    receiver.flush()
    items = collector.items
    assert sorted(i.sop_instance_uid for i in items) == sorted(info.sop_uids)
    # batches of at most batch_size, flushed at the end of the association
    assert all(len(b) <= 4 for b in collector.batches) and len(collector.batches) >= 3
    by_uid = {i.sop_instance_uid: i for i in items}
    for src, uid in zip(info.paths, info.sop_uids, strict=True):
        item = by_uid[uid]
        assert item.path == test_path(pydicom.dcmread(src, stop_before_pixels=True))
        assert item.abs_path == tmp_path / "lib" / item.path
        assert dataset_portion(item.abs_path) == dataset_portion(src)
        assert item.header is not None and item.header.SOPInstanceUID == uid
        stored = pydicom.dcmread(item.abs_path)
        assert stored.file_meta.MediaStorageSOPInstanceUID == uid
        assert item.header.file_meta.SourceApplicationEntityTitle == "STORESCU"
        assert stored.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert not list((tmp_path / "lib").rglob("*.part"))
    stats = receiver.stats()
    assert stats[-1].calling_ae == "STORESCU" and stats[-1].received == 10
    assert stats[-1].bytes == sum(i.size for i in items)


@pytest.mark.parametrize(
    ("name", "propose"),
    [("MR_small_RLE.dcm", "-xr"), ("SC_rgb_jpeg_dcmtk.dcm", "-xy"), ("JPEG2000.dcm", "-xw")],
)
def test_storescu_compressed_kept_compressed(receiver, collector, dcmtk, name, propose):
    src = Path(get_testdata_file(name, download=False))
    ts = pydicom.dcmread(src, stop_before_pixels=True).file_meta.TransferSyntaxUID
    proc = storescu(dcmtk, receiver.port, [src], propose)  # propose the file's syntax
    assert proc.returncode == 0, proc.stderr
    receiver.flush()
    [item] = collector.items
    assert item.transfer_syntax == ts
    stored, original = pydicom.dcmread(item.abs_path), pydicom.dcmread(src)
    assert stored.file_meta.TransferSyntaxUID == ts
    # dcmtk re-encodes on send (it drops trailing padding), so compare the elements; the
    # compressed pixel data must be the very bytes of the source file (no transcoding)
    assert stored.PixelData == original.PixelData
    original.pop("DataSetTrailingPadding", None)
    assert stored == original


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "JPEG2000.dcm", "CT_small.dcm"])
def test_pynetdicom_sender_bytes_identical(receiver, collector, name):
    """pynetdicom sends a file's encoded dataset untouched: the stored bytes must match."""
    from pynetdicom import AE

    src = Path(get_testdata_file(name, download=False))
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    ae = AE(ae_title="PYSENDER")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", receiver.port, ae_title=AET)
    assert assoc.is_established
    try:
        status = assoc.send_c_store(src)
    finally:
        assoc.release()
    assert status.Status == 0
    receiver.flush()
    [item] = collector.items
    assert item.calling_ae == "PYSENDER"
    assert dataset_portion(item.abs_path) == dataset_portion(src)


def test_duplicate_instance_overwrites(receiver, collector, dcmtk, tmp_path):
    info = synth.write_ct_series(tmp_path / "src", n_slices=2, rows=32, cols=32)
    for _ in range(2):
        assert storescu(dcmtk, receiver.port, info.paths[:1]).returncode == 0
    receiver.flush()
    items = collector.items
    assert len(items) == 2 and items[0].abs_path == items[1].abs_path
    assert len([p for p in (tmp_path / "lib").rglob("*") if p.is_file()]) == 1


def test_batches_by_time(tmp_path, dcmtk, engine):
    got = Collector()
    ev = threading.Event()

    def sink(batch):
        got(batch)
        ev.set()

    info = synth.write_ct_series(tmp_path / "src", n_slices=3, rows=32, cols=32)
    with StoreReceiver(
        AET, "127.0.0.1", 0, storage_root=tmp_path / "lib", path_for=test_path,
        on_stored=sink, batch_size=1000, batch_seconds=0.2, engine=engine,
    ) as r:
        assert storescu(dcmtk, r.port, info.paths).returncode == 0
        assert ev.wait(10)
    assert len(got.items) == 3


def test_write_failure_answers_failure_status(tmp_path, dcmtk, collector, caplog, engine):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocker").write_text("a file where a folder should be")
    info = synth.write_ct_series(tmp_path / "src", n_slices=1, rows=32, cols=32)
    with StoreReceiver(
        AET, "127.0.0.1", 0, storage_root=tmp_path / "lib",
        path_for=lambda ds: "blocker/sub/x.dcm", on_stored=collector, engine=engine,
    ) as r, caplog.at_level(logging.ERROR, logger="chris_jupyter.dicom"):
        proc = storescu(dcmtk, r.port, info.paths, "-d")
        r.flush()
        assert r.stats()[-1].failed == 1
    assert "DIMSE Status                  : 0xa700" in proc.stdout + proc.stderr
    assert collector.items == []
    assert any("could not write" in rec.getMessage() for rec in caplog.records)
    assert not list((tmp_path / "lib").rglob("*.part"))


def test_path_escaping_the_root_is_refused(tmp_path, dcmtk, collector, engine):
    info = synth.write_ct_series(tmp_path / "src", n_slices=1, rows=32, cols=32)
    with StoreReceiver(
        AET, "127.0.0.1", 0, storage_root=tmp_path / "lib", path_for=lambda ds: "../evil.dcm",
        on_stored=collector, engine=engine,
    ) as r:
        proc = storescu(dcmtk, r.port, info.paths, "-d")
    assert "DIMSE Status                  : 0xc000" in proc.stdout + proc.stderr
    assert not (tmp_path / "evil.dcm").exists()


def test_unplaceable_instance_answers_cannot_understand(
    tmp_path, dcmtk, collector, caplog, engine
):
    def bad_path(ds):
        raise KeyError("PatientID")

    info = synth.write_ct_series(tmp_path / "src", n_slices=1, rows=32, cols=32)
    with StoreReceiver(
        AET, "127.0.0.1", 0, storage_root=tmp_path / "lib", path_for=bad_path,
        on_stored=collector, engine=engine,
    ) as r, caplog.at_level(logging.ERROR, logger="chris_jupyter.dicom"):
        proc = storescu(dcmtk, r.port, info.paths, "-d")
    assert "DIMSE Status                  : 0xc000" in proc.stdout + proc.stderr
    assert collector.items == []
    assert any("could not place" in rec.getMessage() for rec in caplog.records)


def test_echo(receiver, dcmtk):
    proc = subprocess.run(
        [dcmtk.echoscu, "-aec", AET, "127.0.0.1", str(receiver.port)],
        env=dcmtk.env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_parallel_senders_and_abort(receiver, collector, dcmtk, tmp_path):
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    a = synth.write_ct_series(tmp_path / "a", n_slices=6, rows=32, cols=32, patient_id="A")
    b = synth.write_ct_series(tmp_path / "b", n_slices=6, rows=32, cols=32, patient_id="B")
    procs = [
        subprocess.Popen(
            [dcmtk.storescu, "-aet", f"SENDER{i}", "-aec", AET, "127.0.0.1", str(receiver.port),
             *map(str, s.paths)], env=dcmtk.env,
        )
        for i, s in enumerate((a, b))
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    ae = AE(ae_title="ABORTER")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", receiver.port, ae_title=AET)
    assert assoc.is_established
    assoc.abort()
    receiver.flush()
    assert len(collector.items) == 12
    for _ in range(100):  # the abort is reported asynchronously
        stats = {s.calling_ae: s for s in receiver.stats()}
        if "ABORTER" in stats and stats["ABORTER"].ended is not None:
            break
        threading.Event().wait(0.05)
    assert stats["SENDER0"].received == stats["SENDER1"].received == 6
    assert stats["ABORTER"].aborted and stats["ABORTER"].received == 0


def test_unsupported_service_is_refused(receiver, dcmtk):
    proc = subprocess.run(
        [dcmtk.findscu, "-S", "-aec", AET, "-k", "QueryRetrieveLevel=STUDY",
         "127.0.0.1", str(receiver.port)],
        env=dcmtk.env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "no acceptable presentation contexts" in (proc.stdout + proc.stderr).lower()


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "MR_small_bigendian.dcm",
     "MR_small_implicit.dcm", "rtplan.dcm", "image_dfl.dcm"],
)
@pytest.mark.parametrize("fragment", [100, 16372, 10**9])
def test_incoming_header_matches_pydicom(name, fragment):
    """The prefix-only header parser gives what dcmread(stop_before_pixels) gives."""
    from chris_jupyter.dicom.net.netutil import Incoming, incoming_header, read_header

    src = Path(get_testdata_file(name, download=False))
    meta = pydicom.dcmread(src, stop_before_pixels=True).file_meta
    raw = memoryview(dataset_portion(src))
    item = Incoming(
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID,
        [raw[i : i + fragment] for i in range(0, len(raw), fragment)], "SENDER",
    )
    header = incoming_header(item)
    assert header == read_header(item.chunks())
    assert "PixelData" not in header
    assert header.file_meta.TransferSyntaxUID == meta.TransferSyntaxUID
    assert header.file_meta.SourceApplicationEntityTitle == "SENDER"


def test_garbage_connection_does_not_hurt(receiver, dcmtk):
    import socket

    for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x01\x00\x00\x00\x00\x10short"):
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            with contextlib.suppress(OSError):
                while s.recv(4096):
                    pass  # the receiver answers (A-ABORT / nothing) and closes
    test_echo(receiver, dcmtk)
