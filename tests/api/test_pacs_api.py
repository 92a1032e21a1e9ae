"""PACS through the REST API against a real Orthanc, and dcmtk sending to our receiver."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from chris_jupyter import Client
from chris_jupyter.client import PermissionDeniedError
from chris_jupyter.dicom import synth
from chris_jupyter.testing import free_port

pytestmark = pytest.mark.orthanc


@pytest.fixture(scope="module")
def pacs_setup(orthanc, chris_server_factory, tmp_path_factory):
    port = free_port()
    srv = chris_server_factory(config={"ChrisApp": {
        "dicom_ae_title": "CHRISTEST", "dicom_receiver_port": port,
        "pacs_nodes": {"orthanc": {"ae_title": orthanc.aet, "host": "127.0.0.1", "port": orthanc.dicom_port}},
    }})
    orthanc.add_modality("christest", "CHRISTEST", "127.0.0.1", port)
    work = tmp_path_factory.mktemp("pacs-data")
    pid = f"PACS{uuid.uuid4().hex[:6]}"
    info = synth.write_ct_series(work / "s", n_slices=15, rows=64, cols=64, patient_id=pid,
                                 patient_name="Pacs^Test")
    orthanc.upload(info.paths)
    return srv, port, info, pid


def wait_retrieval(c: Client, job_id: int, timeout: float = 60) -> dict:
    """The retrieval's final state, followed on the event stream for at most *timeout* seconds.

    Its state is read once the stream is subscribed, so a retrieval that ended before is not waited for.
    """
    final = ("done", "failed")

    def already_final() -> bool:
        return c.get(f"pacs/retrievals/{job_id}")["state"] in final

    for ev in c.events(types=["pacs.progress"], on_connect=already_final, timeout=timeout):
        if ev["data"]["id"] == job_id and ev["data"]["state"] in final:
            return ev["data"]
    return c.get(f"pacs/retrievals/{job_id}")


def test_echo_find_and_access(pacs_setup) -> None:
    srv, _port, info, pid = pacs_setup
    admin = Client(srv.url, srv.token)
    status = admin.get("pacs")
    assert status["receiver"]["running"] and [n["name"] for n in status["nodes"]] == ["orthanc"]
    assert admin.post("pacs/orthanc/echo")["ok"] is True
    studies = admin.post("pacs/orthanc/find", {"level": "STUDY", "query": {"PatientID": pid}})["items"]
    assert len(studies) == 1 and studies[0]["StudyInstanceUID"] == info.study_uid
    series = admin.post("pacs/orthanc/find", {"level": "SERIES", "query": {
        "StudyInstanceUID": info.study_uid, "SeriesInstanceUID": None}})["items"]
    assert [s["SeriesInstanceUID"] for s in series] == [info.series_uid]
    # a member of the PACS group may, another user may not
    admin.create_user("radiologist", groups=["pacs_users"])
    admin.create_user("student")
    rad = Client(srv.url, admin.create_token("radiologist")["token"])
    stu = Client(srv.url, admin.create_token("student")["token"])
    assert rad.post("pacs/orthanc/echo")["ok"]
    with pytest.raises(PermissionDeniedError, match="pacs_users"):
        stu.post("pacs/orthanc/find", {"level": "STUDY", "query": {}})
    with pytest.raises(Exception, match="no PACS named"):
        admin.post("pacs/nowhere/echo")
    with pytest.raises(Exception, match="level"):
        admin.post("pacs/orthanc/find", {"level": "BOGUS"})


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_becomes_library_data(pacs_setup, orthanc, tmp_path: Path, method: str) -> None:
    srv, _port, _info, _pid = pacs_setup
    # a series of its own per method: what one method brought in never answers for the other
    pid = f"{method.upper()}{uuid.uuid4().hex[:6]}"
    info = synth.write_ct_series(tmp_path / "s", n_slices=15, rows=64, cols=64, patient_id=pid)
    orthanc.upload(info.paths)
    c = Client(srv.url, srv.token)
    job = c.post("pacs/orthanc/retrieve", {"study_uid": info.study_uid, "series_uid": info.series_uid,
                                           "method": method})
    done = wait_retrieval(c, job["id"])
    assert done["state"] == "done", done
    assert done["received"] == 15 and done["expected"] == 15
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # C-MOVE data reaches the receiver's batches
        found = c.studies(patient_id=pid, pacs="orthanc")
        if found["total"] and found["items"][0]["num_instances"] == 15:
            break
        time.sleep(0.2)
    assert found["total"] == 1, found  # this method's own series, in our index
    study = found["items"][0]
    assert study["num_instances"] == 15 and study["pacs"] == "orthanc"
    folder = study["series"][0]["folder"]
    assert folder.startswith(f"SERVICES/PACS/orthanc/{pid}-")
    assert c.ls(folder)["total"] == 15
    vol = c.load_volume(f"series:{info.series_uid}")
    assert vol.data.shape == (15, 64, 64)


def test_dcmtk_storescu_into_our_receiver(pacs_setup, dcmtk, tmp_path: Path) -> None:
    srv, port, _info, _ = pacs_setup
    pid = f"SCU{uuid.uuid4().hex[:6]}"
    sent = synth.write_ct_series(tmp_path / "scu", n_slices=6, rows=32, cols=32, patient_id=pid)
    r = subprocess.run([dcmtk.storescu, "-aet", "DCMTKSCU", "-aec", "CHRISTEST", "127.0.0.1", str(port),
                        *map(str, sent.paths)], env=dcmtk.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    c = Client(srv.url, srv.token)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and c.studies(patient_id=pid)["total"] == 0:
        time.sleep(0.2)
    study = c.studies(patient_id=pid)["items"][0]
    assert study["num_instances"] == 6
    assert study["series"][0]["folder"].startswith("SERVICES/PACS/DCMTKSCU/")


def test_receiver_lines_reach_the_server_log(pacs_setup, dcmtk) -> None:
    """The chris_jupyter loggers go to the Jupyter server's log: the receiver's start, and an
    association refused for a called AE title that is not ours."""
    srv, port, _info, _ = pacs_setup
    r = subprocess.run([dcmtk.echoscu, "-aec", "NOTCHRIS", "127.0.0.1", str(port)],
                       env=dcmtk.env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "called ae title not recognized" in (r.stdout + r.stderr).lower()
    listening = f"DICOM receiver CHRISTEST listening on 127.0.0.1:{port}"
    refused = "refused an association from ECHOSCU@127.0.0.1"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and refused not in srv.tail(10**6):
        time.sleep(0.2)
    log = srv.tail(10**6)
    assert listening in log and refused in log, log[-3000:]
    assert "chris_jupyter.dicom" in log  # the records keep their logger's name
