"""PacsClient against a real Orthanc: echo, find, C-GET, C-MOVE into our receiver, errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pydicom
import pytest

from chris_jupyter import paths
from chris_jupyter.dicom import synth
from chris_jupyter.dicom.net.netutil import DirectoryWriter, LayoutWriter, StoredInstance
from chris_jupyter.dicom.net.pacs import (
    AssociationRejected,
    PacsClient,
    PacsConnectionLost,
    PacsError,
    PacsFailureStatus,
    PacsNode,
    PacsUnreachable,
    Progress,
)
from chris_jupyter.dicom.net.receiver import StoreReceiver
from chris_jupyter.utils.net import free_port
from tests.fixtures.orthanc import dataset_portion

pytestmark = pytest.mark.orthanc

RECEIVER_AE = "CHRISRECV"


def layout(ds: pydicom.Dataset) -> str:
    return paths.join(
        paths.PACS, "ORTHANC", paths.safe_component(ds.PatientID),
        paths.safe_component(ds.SeriesInstanceUID), paths.safe_component(ds.SOPInstanceUID) + ".dcm",
    )


@pytest.fixture(scope="module")
def data(orthanc, tmp_path_factory):
    """Two patients in Orthanc: a CT study (2 series) and an MR study."""
    root = tmp_path_factory.mktemp("pacsdata")
    orthanc.clear()
    ct = synth.write_ct_series(root / "ct", n_slices=12, rows=64, cols=64, patient_id="SYN0001")
    ct2 = synth.write_ct_series(
        root / "ct2", n_slices=3, rows=32, cols=32, patient_id="SYN0001", study_uid=ct.study_uid,
        series_number=3, series_description="Scout",
    )
    mr = synth.write_mr_series(
        root / "mr", n_slices=5, rows=32, cols=32, patient_id="OTHER42",
        patient_name="Other^Person",
    )
    orthanc.upload(ct.paths + ct2.paths + mr.paths)
    return {"ct": ct, "ct2": ct2, "mr": mr}


@pytest.fixture(scope="module")
def receiver(orthanc, tmp_path_factory):
    batches: list[list[StoredInstance]] = []
    r = StoreReceiver(
        RECEIVER_AE, "127.0.0.1", 0, storage_root=tmp_path_factory.mktemp("recv"),
        path_for=layout, on_stored=batches.append,
    ).start()
    r.batches = batches  # type: ignore[attr-defined]
    orthanc.add_modality("chris", RECEIVER_AE, "127.0.0.1", r.port)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def node(orthanc) -> PacsNode:
    return PacsNode("orthanc", orthanc.aet, "127.0.0.1", orthanc.dicom_port)


@pytest.fixture
def client() -> PacsClient:
    c = PacsClient("CHRISTEST", receiver_ae=RECEIVER_AE)
    c.backoff = 0.05
    return c


def test_echo(client, node):
    assert client.echo(node) >= 0


def test_find_all_levels_with_wildcards(client, node, data):
    ct, ct2, mr = data["ct"], data["ct2"], data["mr"]
    patients = client.find(node, "PATIENT", {"PatientID": "SYN*"})
    assert [p["PatientID"] for p in patients] == ["SYN0001"]
    assert patients[0]["PatientName"] == "Synthetic^Patient"
    assert {p["PatientID"] for p in client.find(node, "patient", {"PatientName": "*"})} >= {
        "SYN0001", "OTHER42"}

    studies = client.find(node, "STUDY", {"PatientName": "Other*", "StudyDate": "20240101-"})
    assert [s["StudyInstanceUID"] for s in studies] == [mr.study_uid]
    [study] = client.find(node, "STUDY", {"StudyDescription": "CT*"})
    assert study["StudyInstanceUID"] == ct.study_uid
    assert study["NumberOfStudyRelatedInstances"] == 15

    series = client.find(node, "SERIES", {"StudyInstanceUID": ct.study_uid, "Modality": "CT"})
    assert {s["SeriesInstanceUID"] for s in series} == {ct.series_uid, ct2.series_uid}
    [scout] = client.find(
        node, "SERIES", {"StudyInstanceUID": ct.study_uid, "SeriesDescription": "Sc?ut"}
    )
    assert scout["SeriesNumber"] == 3 and scout["NumberOfSeriesRelatedInstances"] == 3

    images = client.find(
        node, "IMAGE", {"StudyInstanceUID": ct.study_uid, "SeriesInstanceUID": ct.series_uid}
    )
    assert sorted(i["SOPInstanceUID"] for i in images) == sorted(ct.sop_uids)
    assert sorted(i["InstanceNumber"] for i in images) == list(range(1, 13))
    json.dumps(patients + studies + series + images)  # plain JSON data
    assert client.find(node, "STUDY", {"PatientID": "NOBODY"}) == []
    with pytest.raises(ValueError):
        client.find(node, "FRAME", {})


def test_get_series_into_directory(client, node, data, tmp_path):
    ct = data["ct"]
    seen: list[Progress] = []
    result = client.retrieve(
        node, study_uid=ct.study_uid, series_uid=ct.series_uid, method="get",
        dest=tmp_path / "out", progress=lambda p: seen.append(Progress(**vars(p))),
    )
    assert result.received == result.expected == 12 and result.failed == 0
    assert seen[-1].state == "done" and seen[-1].received == seen[-1].expected == 12
    assert any(p.state == "retrieving" for p in seen)
    received = [p.received for p in seen]
    assert received == sorted(received)
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 12 and not list((tmp_path / "out").glob(".*"))
    originals = {u: p for u, p in zip(ct.sop_uids, ct.paths, strict=True)}
    for item in result.instances:
        # Orthanc keeps the file as uploaded and C-GET sends it untouched
        assert dataset_portion(item.abs_path) == dataset_portion(originals[item.sop_instance_uid])
        meta = pydicom.dcmread(item.abs_path, stop_before_pixels=True).file_meta
        assert meta.MediaStorageSOPInstanceUID == item.sop_instance_uid
        assert meta.SourceApplicationEntityTitle == "ORTHANC"


def test_get_study_with_layout_writer(client, node, data, tmp_path):
    ct = data["ct"]
    writer = LayoutWriter(tmp_path / "lib", layout)
    result = client.retrieve(node, study_uid=ct.study_uid, method="get", dest=writer)
    assert result.received == result.expected == 15
    assert {i.path for i in result.instances} == {
        layout(pydicom.dcmread(p, stop_before_pixels=True)) for p in ct.paths + data["ct2"].paths
    }
    assert all(i.header is not None for i in result.instances)


def test_get_with_callable_writer_and_a_failing_write(client, node, data, tmp_path):
    ct2 = data["ct2"]
    target = DirectoryWriter(tmp_path / "ok")
    calls: list[str] = []

    def write(item):
        calls.append(item.sop_instance_uid)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return target.write(item)

    result = client.retrieve(node, study_uid=ct2.study_uid, series_uid=ct2.series_uid, dest=write)
    # Orthanc records the failed sub-operation and ends with a warning status
    assert len(calls) == 3 and result.received == 2 and result.failed == 1
    assert len(list((tmp_path / "ok").iterdir())) == 2


def test_move_series_into_receiver(client, node, data, receiver):
    mr = data["mr"]
    seen: list[Progress] = []
    before = len([i for b in receiver.batches for i in b])
    result = client.retrieve(
        node, study_uid=mr.study_uid, series_uid=mr.series_uid, method="move",
        progress=lambda p: seen.append(Progress(**vars(p))),
    )
    assert result.received == result.expected == 5 and result.failed == 0
    assert seen[-1].state == "done" and seen[-1].received == seen[-1].expected == 5
    receiver.flush()
    items = [i for b in receiver.batches for i in b][before:]
    assert sorted(i.sop_instance_uid for i in items) == sorted(mr.sop_uids)
    assert all(i.calling_ae == "ORTHANC" for i in items)
    for item in items:
        assert item.path == layout(item.header)
        assert item.abs_path.is_file()


def test_move_to_unknown_destination_is_failure_status(node, data):
    c = PacsClient("CHRISTEST", receiver_ae="NOSUCHAE")
    with pytest.raises(PacsFailureStatus) as err:
        c.retrieve(node, study_uid=data["mr"].study_uid, method="move", retries=0)
    assert err.value.status in (0xA801, 0xC000)  # Orthanc 1.10 answers 0xC000
    assert "'NOSUCHAE'" in str(err.value)


def test_wrong_port_is_unreachable(client, tmp_path):
    dead = PacsNode("dead", "ORTHANC", "127.0.0.1", free_port())
    with pytest.raises(PacsUnreachable, match="cannot connect"):
        client.echo(dead)
    with pytest.raises(PacsUnreachable):
        client.find(dead, "STUDY", {})
    states: list[str] = []
    with pytest.raises(PacsUnreachable):
        client.retrieve(dead, study_uid="1.2.3", dest=tmp_path, retries=2,
                        progress=lambda p: states.append(p.state))
    assert states == ["retrying", "retrying", "failed"]


def test_wrong_called_ae_is_rejected(client, node, data, tmp_path):
    wrong = PacsNode("wrong", "NOTORTHANC", node.host, node.port)
    with pytest.raises(AssociationRejected, match="rejected"):
        client.echo(wrong)
    with pytest.raises(AssociationRejected, match="called AE title"):
        client.retrieve(wrong, study_uid=data["ct"].study_uid, dest=tmp_path, retries=2)


def test_pacs_killed_mid_transfer(orthanc_factory, tmp_path):
    pacs = orthanc_factory()
    info = synth.write_ct_series(tmp_path / "src", n_slices=40, rows=128, cols=128)
    pacs.upload(info.paths)
    node = PacsNode("doomed", pacs.aet, "127.0.0.1", pacs.dicom_port)
    client = PacsClient("CHRISTEST")
    killed = threading.Event()

    def progress(p: Progress) -> None:
        if p.received == 5 and not killed.is_set():
            killed.set()
            pacs.kill()

    out = tmp_path / "out"
    with pytest.raises(PacsConnectionLost, match="went away") as err:
        client.retrieve(node, study_uid=info.study_uid, dest=out, progress=progress, retries=0)
    assert isinstance(err.value, PacsError) and err.value.transient
    files = list(out.iterdir())
    assert not [f for f in files if f.name.startswith(".")]  # no temp/partial file left
    assert 5 <= len(files) < 40
    originals = {u: p for u, p in zip(info.sop_uids, info.paths, strict=True)}
    for f in files:  # every file that is there is complete
        ds = pydicom.dcmread(f)
        assert dataset_portion(f) == dataset_portion(originals[ds.SOPInstanceUID])


def test_silent_peer_times_out(tmp_path):
    """A peer that accepts TCP but never speaks DICOM: a PacsTimeout, not a hang."""
    import socket

    from chris_jupyter.dicom.net.pacs import PacsTimeout

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    try:
        silent = PacsNode("silent", "SILENT", "127.0.0.1", srv.getsockname()[1])
        c = PacsClient("CHRISTEST", acse_timeout=1, dimse_timeout=1)
        with pytest.raises(PacsTimeout, match="in time"):
            c.echo(silent)
        with pytest.raises(PacsTimeout):
            c.retrieve(silent, study_uid="1.2.3", dest=tmp_path, retries=0)
    finally:
        srv.close()


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_unknown_study_is_failure_status(client, node, receiver, tmp_path, method):
    with pytest.raises(PacsFailureStatus, match="nothing matches") as err:
        client.retrieve(node, study_uid="1.2.3.4.5.6", dest=tmp_path, method=method)
    assert err.value.status == 0xC000  # what Orthanc answers when nothing matched


def test_retry_after_pacs_restart(orthanc_factory, tmp_path):
    """Killed mid-transfer, back up before the retry: the retry fetches everything."""
    pacs = orthanc_factory()
    info = synth.write_ct_series(tmp_path / "src", n_slices=30, rows=128, cols=128)
    pacs.upload(info.paths)
    node = PacsNode("flaky", pacs.aet, "127.0.0.1", pacs.dicom_port)
    client = PacsClient("CHRISTEST")
    client.backoff = 0.05
    states: list[str] = []

    def progress(p: Progress) -> None:
        states.append(p.state)
        if p.state == "retrying":
            pacs.start()  # same ports, same storage: the PACS is back
        elif p.attempt == 1 and p.received == 3:
            pacs.kill()

    out = tmp_path / "out"
    result = client.retrieve(node, study_uid=info.study_uid, dest=out, progress=progress)
    assert result.attempts == 2 and result.received == result.expected == 30
    assert states.count("retrying") == 1 and states[-1] == "done"
    assert sorted(f.name for f in out.iterdir()) == sorted(f"{u}.dcm" for u in info.sop_uids)


def test_find_non_ascii_names(client, node, orthanc, tmp_path):
    info = synth.write_mr_series(
        tmp_path / "u", n_slices=1, rows=16, cols=16, patient_id="UMLAUT1",
        patient_name="Müller^Jörg",
    )
    orthanc.upload(info.paths)
    [p] = client.find(node, "PATIENT", {"PatientID": "UMLAUT1"})
    assert p["PatientName"] == "Müller^Jörg"
    [s] = client.find(node, "STUDY", {"PatientName": "Müller*"})
    assert s["StudyInstanceUID"] == info.study_uid


@pytest.mark.parametrize("method", ["get", "move"])
def test_compressed_instances_arrive_as_stored(client, node, orthanc, receiver, tmp_path, method):
    """Orthanc keeps RLE/JPEG files as uploaded; we accept those syntaxes, so no transcoding."""
    from pydicom.data import get_testdata_file

    names = ["MR_small_RLE.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm"]
    srcs = {}
    for n in names:
        src = Path(get_testdata_file(n, download=False))
        srcs[pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID] = src
    orthanc.upload(srcs.values())
    got: dict[str, Path] = {}
    for src in srcs.values():
        ds = pydicom.dcmread(src, stop_before_pixels=True)
        if method == "get":
            res = client.retrieve(node, study_uid=ds.StudyInstanceUID,
                                  series_uid=ds.SeriesInstanceUID, dest=tmp_path)
            got.update({i.sop_instance_uid: i.abs_path for i in res.instances})
        else:
            client.retrieve(node, study_uid=ds.StudyInstanceUID,
                            series_uid=ds.SeriesInstanceUID, method="move")
    if method == "move":
        receiver.flush()
        got = {i.sop_instance_uid: i.abs_path for b in receiver.batches for i in b}
    for uid, src in srcs.items():
        sent = pydicom.dcmread(src, stop_before_pixels=True).file_meta.TransferSyntaxUID
        assert pydicom.dcmread(got[uid], stop_before_pixels=True).file_meta.TransferSyntaxUID == sent
        assert pydicom.dcmread(got[uid]).PixelData == pydicom.dcmread(src).PixelData


@pytest.mark.parametrize("title", ["", "SEVENTEEN_CHARS_X", "BACK\\SLASH", "ÜMLAUT"])
def test_invalid_ae_titles_are_refused(title):
    with pytest.raises(ValueError, match="invalid AE title"):
        PacsNode("x", title, "127.0.0.1", 104)
    with pytest.raises(ValueError, match="invalid AE title"):
        PacsClient(title)


@pytest.fixture
def pynetdicom_pacs(tmp_path):
    """A second, independent implementation as the PACS: a pynetdicom Q/R SCP over a folder."""
    from pynetdicom import AE, StoragePresentationContexts, evt
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelMove,
        Verification,
    )

    info = synth.write_ct_series(tmp_path / "pacs", n_slices=6, rows=32, cols=32)
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in info.paths]
    state: dict = {}

    def matches(identifier):
        return [p for p, h in zip(info.paths, headers, strict=True)
                if h.StudyInstanceUID == identifier.StudyInstanceUID
                and identifier.get("SeriesInstanceUID", "") in ("", h.SeriesInstanceUID)]

    def on_find(event):
        q = event.identifier
        for h in headers if q.QueryRetrieveLevel == "IMAGE" else headers[:1]:
            out = pydicom.Dataset()
            out.QueryRetrieveLevel = q.QueryRetrieveLevel
            for el in q:
                if el.keyword != "QueryRetrieveLevel":
                    setattr(out, el.keyword, h.get(el.keyword, ""))
            yield 0xFF00, out

    def on_get(event):
        found = matches(event.identifier)
        yield len(found)
        for p in found:
            yield 0xFF00, pydicom.dcmread(p)

    def on_move(event):
        found = matches(event.identifier)
        yield state["dest"]
        yield len(found)
        for p in found:
            yield 0xFF00, pydicom.dcmread(p)

    ae = AE(ae_title="PYPACS")
    for cx in StoragePresentationContexts:
        ae.add_supported_context(cx.abstract_syntax, scu_role=True, scp_role=True)
        ae.add_requested_context(cx.abstract_syntax)  # to send C-MOVE sub-operations
    for model in (Verification, StudyRootQueryRetrieveInformationModelFind,
                  StudyRootQueryRetrieveInformationModelGet,
                  StudyRootQueryRetrieveInformationModelMove):
        ae.add_supported_context(model)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[
        (evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get), (evt.EVT_C_MOVE, on_move)])
    node = PacsNode("pypacs", "PYPACS", "127.0.0.1", server.server_address[1])
    yield node, info, state
    server.shutdown()


def test_against_pynetdicom_pacs(pynetdicom_pacs, receiver, tmp_path):
    node, info, state = pynetdicom_pacs
    state["dest"] = ("127.0.0.1", receiver.port)
    client = PacsClient("CHRISTEST", receiver_ae=RECEIVER_AE)
    assert client.echo(node) >= 0
    images = client.find(node, "IMAGE", {"StudyInstanceUID": info.study_uid,
                                         "SOPInstanceUID": None})
    assert sorted(i["SOPInstanceUID"] for i in images) == sorted(info.sop_uids)
    res = client.retrieve(node, study_uid=info.study_uid, dest=tmp_path / "get")
    assert res.received == res.expected == 6
    for item in res.instances:
        assert pydicom.dcmread(item.abs_path).PixelData == pydicom.dcmread(
            info.paths[info.sop_uids.index(item.sop_instance_uid)]).PixelData
    res = client.retrieve(node, study_uid=info.study_uid, method="move")
    assert res.received == res.expected == 6
    receiver.flush()
    moved = {i.sop_instance_uid for b in receiver.batches for i in b}
    assert set(info.sop_uids) <= moved


@pytest.mark.parametrize("method", ["get", "move"])
def test_cancel_mid_transfer(client, node, data, receiver, tmp_path, method):
    from chris_jupyter.dicom.net.pacs import RetrieveCancelled

    ct = data["ct"]
    cancel = threading.Event()
    states: list[str] = []

    def progress(p: Progress) -> None:
        states.append(p.state)
        if p.received >= 2:
            cancel.set()

    with pytest.raises(RetrieveCancelled, match="cancelled"):
        client.retrieve(node, study_uid=ct.study_uid, series_uid=ct.series_uid, method=method,
                        dest=tmp_path / "out", progress=progress, cancel=cancel)
    assert states[-1] == "cancelled"
    if method == "get":
        files = list((tmp_path / "out").iterdir())
        assert 2 <= len(files) < 12 and not [f for f in files if f.name.startswith(".")]
    assert client.echo(node) >= 0  # the PACS is fine afterwards
