"""What the receiver refuses: malformed data sets, idle connections, foreign AE titles.

Malformed C-STOREs go over a raw association (:mod:`chris_jupyter.dicom.net.ul`: a valid command,
bad data set bytes); associations are tried with real dcmtk ``echoscu``/``storescu``.
"""

from __future__ import annotations

import logging
import random
import socket
import struct
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from chris_jupyter.dicom import layout, synth
from chris_jupyter.dicom.net import ul
from chris_jupyter.dicom.net.receiver import StoreReceiver
from chris_jupyter.dicom.net.wellformed import MalformedDataset, check_dataset
from tests.dicom.test_receiver import AET, Collector
from tests.fixtures.orthanc import dataset_portion

pytestmark = pytest.mark.orthanc

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


@pytest.fixture(params=["lean", "pynetdicom"])
def engine(request) -> str:
    return request.param


def make_receiver(tmp_path: Path, collector: Collector, engine: str, **options) -> StoreReceiver:
    """A receiver filing by the real ChRIS layout, as the server runs it."""
    return StoreReceiver(
        AET, "127.0.0.1", 0, storage_root=tmp_path / "lib",
        path_for=lambda ds: layout.instance_path("TEST", ds), on_stored=collector,
        batch_size=1, engine=engine, **options,
    ).start()


def stored_files(tmp_path: Path) -> list[Path]:
    lib = tmp_path / "lib"
    return [p for p in lib.rglob("*") if p.is_file()] if lib.exists() else []


def raw_store(port: int, sop_uid: str, data: bytes, *, sop_class: str = CT,
              ts: str = EXPLICIT_LE) -> int:
    """One C-STORE with a correct command and ``data`` as the data set; returns the status."""
    assoc = ul.Association.request("127.0.0.1", port, calling_ae="RAWSCU", called_ae=AET,
                                   contexts=[(sop_class, [ts])], timeout=30)
    try:
        ctx = assoc.context_for(sop_class)
        assert ctx is not None
        assoc.send_pdv(ctx.id, ul.encode_command([
            (0x0002, "UI", sop_class), (0x0100, "US", ul.C_STORE_RQ), (0x0110, "US", 1),
            (0x0700, "US", 0), (0x0800, "US", 0x0000), (0x1000, "UI", sop_uid),
        ]), command=True)
        assoc.send_pdv(ctx.id, data, command=False)
        for _, rsp, _ in assoc.messages():
            assert ul.us(rsp, 0x0100) == ul.C_STORE_RSP
            return ul.us(rsp, 0x0900)
    finally:
        assoc.release()
    raise AssertionError("no C-STORE response")  # pragma: no cover


@pytest.fixture
def ct(tmp_path: Path) -> tuple[str, bytes]:
    info = synth.write_ct_series(tmp_path / "src", n_slices=1, rows=128, cols=128)
    return info.sop_uids[0], dataset_portion(info.paths[0])


def claims_2gb(raw: bytes) -> bytes:
    """The data set with its PixelData length set to 2 GiB (the bytes that follow are kept)."""
    at = raw.rfind(b"\xe0\x7f\x10\x00OW\x00\x00")
    assert at > 0
    return raw[: at + 8] + struct.pack("<I", 2**31) + raw[at + 12 :]


# -- item 6: malformed data sets ---------------------------------------------------------------
@pytest.mark.parametrize("damage", ["cut in half", "one byte short", "random bytes", "claims 2 GB"])
def test_malformed_dataset_is_refused_and_not_stored(tmp_path, ct, engine, damage, caplog):
    uid, raw = ct
    data = {
        "cut in half": raw[: len(raw) // 2],
        "one byte short": raw[:-1],
        "random bytes": random.Random(8).randbytes(8192),
        "claims 2 GB": claims_2gb(raw),
    }[damage]
    got = Collector()
    r = make_receiver(tmp_path, got, engine)
    try:
        with caplog.at_level(logging.WARNING, logger="chris_jupyter.dicom"):
            status = raw_store(r.port, uid, data)
            assert raw_store(r.port, uid, raw) == 0  # the whole one still goes in
        r.flush()
    finally:
        r.stop()
    assert status == 0xC000
    assert [i.sop_instance_uid for i in got.items] == [uid]
    [kept] = stored_files(tmp_path)
    assert dataset_portion(kept) == raw
    assert any("refused" in rec.getMessage() and uid in rec.getMessage()
               and "malformed" in rec.getMessage() for rec in caplog.records)


def _without(raw_ds: pydicom.Dataset, keyword: str) -> bytes:
    from io import BytesIO

    from pydicom.filewriter import write_dataset

    del raw_ds[keyword]
    fp = BytesIO()
    write_dataset(pydicom.filebase.DicomFileLike(fp), raw_ds)  # type: ignore[arg-type]
    return fp.getvalue()


@pytest.mark.parametrize("case", ["no SeriesInstanceUID", "no SOPInstanceUID", "another SOPInstanceUID"])
def test_instance_without_its_uids_is_refused(tmp_path, engine, case):
    """Without these the layout files unrelated instances under one name (``0000-.dcm``)."""
    info = synth.write_ct_series(tmp_path / "src", n_slices=2, rows=16, cols=16)
    got = Collector()
    r = make_receiver(tmp_path, got, engine)
    try:
        statuses = []
        for path, uid in zip(info.paths, info.sop_uids, strict=True):
            ds = pydicom.dcmread(path)
            ds.is_little_endian, ds.is_implicit_VR = True, False
            if case == "another SOPInstanceUID":
                ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
                data = _without(ds, "PatientID")  # any re-encode will do
            else:
                data = _without(ds, case.removeprefix("no "))
            statuses.append(raw_store(r.port, uid, data))
        r.flush()
    finally:
        r.stop()
    assert statuses == [0xA900, 0xA900]
    assert got.items == [] and stored_files(tmp_path) == []


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "MR_small_bigendian.dcm",
     "MR_small_implicit.dcm", "rtplan.dcm", "image_dfl.dcm", "SC_rgb_rle_2frame.dcm",
     "rtdose_rle.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "UN_sequence.dcm",
     "nested_priv_SQ.dcm", "ExplVR_BigEnd.dcm", "SC_rgb_small_odd_big_endian.dcm", "test-SR.dcm",
     "waveform_ecg.dcm"],
)
def test_check_dataset_accepts_whole_refuses_cut(name):
    """Every encoding (explicit/implicit VR little endian, big endian, deflate, encapsulated
    pixel data, nested sequences) is walked to its last byte, in fragments or whole."""
    src = Path(get_testdata_file(name, download=False))
    ts = pydicom.dcmread(src, stop_before_pixels=True).file_meta.TransferSyntaxUID
    raw = dataset_portion(src)
    for size in (7, 16372, len(raw)):
        check_dataset([memoryview(raw)[i : i + size] for i in range(0, len(raw), size)], ts)
    # (bytes after a deflate stream's end are ignored, so cut that one inside the stream)
    for cut in (len(raw) // 2,) + (() if name == "image_dfl.dcm" else (len(raw) - 1,)):
        with pytest.raises(MalformedDataset):
            check_dataset([raw[:cut]], ts)


def test_check_dataset_refuses_what_pydicom_calls_truncated():
    for name in ("MR_truncated.dcm", "rtplan_truncated.dcm"):
        src = Path(get_testdata_file(name, download=False))
        ts = pydicom.dcmread(src, stop_before_pixels=True, force=True).file_meta.TransferSyntaxUID
        with pytest.raises(MalformedDataset, match="claims"):
            check_dataset([dataset_portion(src)], ts)


# -- item 7: idle connections ------------------------------------------------------------------
def until_ok(run, seconds: float = 45) -> subprocess.CompletedProcess:
    """Run ``run()`` until it exits 0 or ``seconds`` passed; the last result."""
    deadline = time.monotonic() + seconds
    while True:
        proc = run()
        if proc.returncode == 0 or time.monotonic() > deadline:
            return proc
        time.sleep(0.5)


def echoscu(dcmtk, port: int, *extra: str, called: str = AET) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dcmtk.echoscu, "-to", "10", "-ta", "10", "-td", "10", "-aec", called, *extra,
         "127.0.0.1", str(port)],
        env=dcmtk.env, capture_output=True, text=True, timeout=60,
    )


def idle_connections(port: int, n: int, source: str = "127.0.0.1") -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def test_idle_connections_do_not_lock_out_senders(tmp_path, dcmtk, engine, caplog):
    """300 connections that never send a byte, from the sender's own address: a real sender
    gets in after the ARTIM timeout at the latest (before: refused for as long as they stay)."""
    got = Collector()
    r = make_receiver(tmp_path, got, engine, artim_timeout=2)
    socks: list[socket.socket] = []
    try:
        with caplog.at_level(logging.WARNING, logger="chris_jupyter.dicom"):
            socks = idle_connections(r.port, 300)
            proc = until_ok(lambda: echoscu(dcmtk, r.port))
            assert proc.returncode == 0, proc.stdout + proc.stderr
            info = synth.write_ct_series(tmp_path / "src", n_slices=2, rows=16, cols=16)
            send = until_ok(lambda: subprocess.run(
                [dcmtk.storescu, "-aec", AET, "127.0.0.1", str(r.port), *map(str, info.paths)],
                env=dcmtk.env, capture_output=True, text=True, timeout=60))
            assert send.returncode == 0, send.stderr
        r.flush()
    finally:
        for s in socks:
            s.close()
        r.stop()
    assert len(got.items) == 2
    messages = [rec.getMessage() for rec in caplog.records]
    assert any("limit per peer" in m for m in messages)
    if engine == "lean":
        assert any("no A-ASSOCIATE-RQ within 2s" in m for m in messages)


def test_the_pynetdicom_engine_listens_with_the_lean_engines_backlog(tmp_path):
    """socketserver's default backlog (5) made a burst of connections wait for SYN
    retransmissions: 300 idle connections took ~40 s to open instead of ~1 s (the test above)."""
    r = make_receiver(tmp_path, Collector(), "pynetdicom")
    try:
        assert r._server.request_queue_size >= 128
    finally:
        r.stop()


def test_idle_connections_from_elsewhere_do_not_count(tmp_path, dcmtk):
    """Waiting connections hold no association slot: a sender on another address gets in at
    once while 300 silent ones (ARTIM far away) are open."""
    r = make_receiver(tmp_path, Collector(), "lean", artim_timeout=120)
    socks: list[socket.socket] = []
    try:
        socks = idle_connections(r.port, 300, source="127.0.0.2")
        proc = echoscu(dcmtk, r.port)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        for s in socks:
            s.close()
        r.stop()


def test_per_peer_limit(tmp_path, engine, caplog):
    r = make_receiver(tmp_path, Collector(), engine, max_associations_per_peer=2)

    def associate() -> ul.Association:
        return ul.Association.request("127.0.0.1", r.port, calling_ae="PEER", called_ae=AET,
                                      contexts=[(CT, [EXPLICIT_LE])], connect_timeout=20)

    held: list[ul.Association] = []
    try:
        with caplog.at_level(logging.WARNING, logger="chris_jupyter.dicom"):
            held = [associate(), associate()]
            with pytest.raises((ul.ULError, OSError)):
                associate().abort()
        held.pop().release()
        deadline = time.monotonic() + 30  # the release is seen asynchronously
        while True:
            try:
                held.append(associate())
                break
            except (ul.ULError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        for a in held:
            a.release()
        r.stop()
    assert any("limit per peer: 2" in rec.getMessage() for rec in caplog.records)


# -- item 8: AE titles -------------------------------------------------------------------------
def test_wrong_called_ae_is_rejected(tmp_path, dcmtk, engine, caplog):
    r = make_receiver(tmp_path, Collector(), engine)
    try:
        with caplog.at_level(logging.WARNING, logger="chris_jupyter.dicom"):
            wrong = echoscu(dcmtk, r.port, called="WRONG")
        right = echoscu(dcmtk, r.port)
    finally:
        r.stop()
    out = (wrong.stdout + wrong.stderr).lower()
    assert wrong.returncode != 0
    assert "rejected permanent" in out and "called ae title not recognized" in out
    assert right.returncode == 0, right.stderr
    assert any("refused an association" in rec.getMessage() and "WRONG" in rec.getMessage()
               for rec in caplog.records)


def test_accept_any_called_ae(tmp_path, dcmtk, engine):
    r = make_receiver(tmp_path, Collector(), engine, accept_any_called_ae=True)
    try:
        proc = echoscu(dcmtk, r.port, called="WRONG")
    finally:
        r.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_calling_ae_allow_list(tmp_path, dcmtk, engine):
    r = make_receiver(tmp_path, Collector(), engine, calling_aes=["GOODSCU"])
    try:
        bad = echoscu(dcmtk, r.port, "-aet", "BADSCU")
        good = echoscu(dcmtk, r.port, "-aet", "GOODSCU")
    finally:
        r.stop()
    out = (bad.stdout + bad.stderr).lower()
    assert bad.returncode != 0 and "calling ae title not recognized" in out
    assert good.returncode == 0, good.stdout + good.stderr


def test_raw_reject_reasons(tmp_path):
    """The A-ASSOCIATE-RJ fields themselves: permanent, service user, reason 7 / 3."""
    r = make_receiver(tmp_path, Collector(), "lean", calling_aes=["GOODSCU"])
    try:
        for calling, called, reason in (("GOODSCU", "WRONG", 7), ("BADSCU", AET, 3)):
            with socket.create_connection(("127.0.0.1", r.port), timeout=20) as s:
                body = (struct.pack(">HH", 1, 0) + ul._ae16(called) + ul._ae16(calling) + bytes(32)
                        + ul._item(0x10, ul.APPLICATION_CONTEXT.encode())
                        + ul._item(0x20, bytes([1, 0, 0, 0]) + ul._item(0x30, CT.encode())
                                   + ul._item(0x40, EXPLICIT_LE.encode()))
                        + ul._item(0x50, ul._item(0x51, struct.pack(">I", 16384))))
                s.sendall(struct.pack(">BxI", 0x01, len(body)) + body)
                reply = s.recv(64)
            assert reply[0] == 0x03 and tuple(reply[7:10]) == (1, 1, reason)
    finally:
        r.stop()


def test_app_options_reach_the_receiver(tmp_path):
    """The ChrisApp traits are the receiver's options (what PacsService passes on)."""
    from traitlets import TraitError
    from traitlets.config import Config

    from chris_jupyter.app import ChrisApp

    app = ChrisApp(config=Config({"ChrisApp": {
        "dicom_receiver_port": 11112, "dicom_receiver_calling_aes": ["ORTHANC "],
        "dicom_receiver_artim_timeout": 3.0, "dicom_receiver_max_associations_per_peer": 2,
    }}))
    cfg = app._receiver_settings()
    assert cfg is not None and cfg.pop("host") == "127.0.0.1" and cfg.pop("port") == 11112
    assert cfg == {"accept_any_called_ae": False, "calling_aes": ["ORTHANC"], "artim_timeout": 3.0,
                   "max_associations": 32, "max_associations_per_peer": 2, "idle_timeout": 60.0}
    r = StoreReceiver(AET, "127.0.0.1", 0, storage_root=tmp_path, path_for=str,
                      on_stored=Collector(), **cfg)
    assert r.calling_aes == ["ORTHANC"] and r.max_associations_per_peer == 2
    with pytest.raises((TraitError, ValueError), match="AE title"):
        ChrisApp(config=Config({"ChrisApp": {"dicom_receiver_calling_aes": ["A\\B"]}}))
    with pytest.raises((TraitError, ValueError), match="must be positive"):
        ChrisApp(config=Config({"ChrisApp": {"dicom_receiver_artim_timeout": 0.0}}))
