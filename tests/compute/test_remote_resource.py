"""The remote compute resource, end to end: ``chris-jupyter compute serve`` as a real process in
its own network namespace, reached by the backend's ``remote`` runner over a veth link.

The server runs in a network namespace made for this module (``ip netns add``, a veth pair with
addresses on a private /30), so every byte pushed and pulled crosses a link, and it has its own
data folder (the backend never touches it: no shared filesystem). Inside the namespace it listens
on pfcon's port 5005 (nothing else is in that namespace to clash with). It runs its jobs with the
Docker runner on this machine's engine and plugin images built offline. One server serves the
module; the test that kills a server mid-job starts its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.compute import states as st
from chris_jupyter.compute.served import LABEL

from .remote_peer import PASSWORD, Served, remove_served_containers

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
@pytest.fixture(scope="module")
def backend(tmp_path_factory, served, plugin_image, dclient):
    """A backend (Docker runner) to which an administrator added the remote resource ``far``
    in its configuration, with pl-dircopy and pl-testbox registered for it."""
    root = tmp_path_factory.mktemp("backend")
    settings = {"url": served.url, "user": "chris", "password": PASSWORD, "retries": 2, "backoff": 0.2}
    b = Backend(Settings(data_root=root / "data", db_url=f"sqlite:///{root}/c.db", runner="docker",
                         start_services=True, job_timeout=300,
                         compute_resources=[{"name": "far", "kind": "remote", "settings": settings,
                                             "description": "compute serve in another namespace"}]))
    admin = b.principal("admin", is_admin=True)
    for name in ("pl-dircopy", "pl-testbox"):
        b.compute.register(admin, image=plugin_image(name), compute_resources=["far"])
    lib = b.library.store.root if hasattr(b.library.store, "root") else root / "data/library"
    scan = lib / "home/admin/uploads/scan"
    (scan / "sub").mkdir(parents=True)
    (scan / "a.txt").write_text("alpha")
    (scan / "sub/b.bin").write_bytes(os.urandom(3 << 20))
    b.library.register_tree("home/admin/uploads/scan")
    yield b, admin, lib
    b.close()


def explain(b, admin, iid) -> str:
    i = b.compute.instance(admin, iid)
    return f"{i['state']}: {i['error']}\n{b.compute.logs(admin, iid)}"


def states_seen(b, iid: int) -> list[str]:
    """The states instance ``iid`` went through, from the backend's event history."""
    async def collect() -> list[str]:
        seen: list[str] = []
        events = b.events.subscribe(since=0, types=[st.EVENT_TYPE])
        try:
            while True:
                ev = await asyncio.wait_for(events.__anext__(), 0.2)
                if ev.data["id"] == iid:
                    seen.append(ev.data["state"])
        except TimeoutError:
            return seen
        finally:
            await events.aclose()
    return asyncio.run(collect())


def test_a_ds_plugin_runs_on_the_remote_resource_and_its_outputs_are_registered(backend, served):
    b, admin, data = backend
    root = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/scan"})
    assert root["runner"] == "far"
    assert b.compute.c.wait_for(root["id"], timeout=120) == st.SUCCESS, explain(b, admin, root["id"])
    ds = b.compute.run(admin, "pl-testbox", {"text": "über; $(id)"}, previous_id=root["id"])
    assert b.compute.c.wait_for(ds["id"], timeout=120) == st.SUCCESS, explain(b, admin, ds["id"])
    r, d = b.compute.instance(admin, root["id"]), b.compute.instance(admin, ds["id"])
    out = data / r["output_path"]
    assert (out / "scan/a.txt").read_text() == "alpha"  # pushed as the fs plugin's path value
    assert (out / "scan/sub/b.bin").read_bytes() == (data / "home/admin/uploads/scan/sub/b.bin").read_bytes()
    record = json.loads((data / d["output_path"] / "record.json").read_text())
    assert record["argv"][-2:] == ["/share/incoming", "/share/outgoing"] and record["text"] == "über; $(id)"
    assert record["uid"] == 1000 and not record["input_writable"]
    prov = b.compute.c.provenance(ds["id"])
    assert prov["runner"] == "far" and f"{d['output_path']}/record.json" in prov["output_files"]
    # the instance shows when its data travels: inputs out (copying), outputs back (uploading)
    seen = states_seen(b, ds["id"])
    assert seen[-6:] == [st.SCHEDULED, st.COPYING, st.STARTED, st.UPLOADING, st.REGISTERING, st.SUCCESS], seen
    logs = b.compute.logs(admin, ds["id"])
    for step in ("PUSH:", "EXEC:", "PULL:", "testbox mode=ok"):
        assert step in logs, logs
    # the resource removed the jobs after the PULL (DELETE): its data folder is empty again
    deadline = time.monotonic() + 15
    while list((served.data / "jobs").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list((served.data / "jobs").iterdir()) == []


def test_cancel_stops_the_remote_job(backend, served, dclient):
    b, admin, _ = backend
    feed = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/scan"})
    assert b.compute.c.wait_for(feed["id"], timeout=120) == st.SUCCESS, explain(b, admin, feed["id"])
    slow = b.compute.run(admin, "pl-testbox", {"mode": "sleep", "seconds": 120}, previous_id=feed["id"])
    assert b.compute.c.wait_for(slow["id"], frozenset({st.STARTED}), timeout=60) == st.STARTED
    job = b.compute.c.get(slow["id"]).runner_job_id
    deadline = time.monotonic() + 30
    while not dclient.containers.list(filters={"label": f"{LABEL}={job}"}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dclient.containers.list(filters={"label": f"{LABEL}={job}"}), "the job never ran on the resource"
    b.compute.cancel(admin, slow["id"])
    assert b.compute.c.wait_for(slow["id"], timeout=30) == st.CANCELLED
    deadline = time.monotonic() + 20
    while dclient.containers.list(all=True, filters={"label": f"{LABEL}={job}"}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not dclient.containers.list(all=True, filters={"label": f"{LABEL}={job}"})
    assert not (served.data / "jobs" / job).exists()


def test_inputs_and_outputs_travel_as_tar_streams_when_so_configured(backend, served):
    b, admin, data = backend
    b.compute.add_compute_resource(admin, "far-tar", "remote", {
        "url": served.url, "password": PASSWORD, "data_format": "tar", "retries": 2, "backoff": 0.2})
    try:
        for name in ("pl-dircopy", "pl-testbox"):
            b.compute.assign_compute_resources(admin, b.compute.plugin(name)["id"], ["far", "far-tar"])
        root = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/scan"},
                             compute_resource_name="far-tar")
        assert b.compute.c.wait_for(root["id"], timeout=120) == st.SUCCESS, explain(b, admin, root["id"])
        ds = b.compute.run(admin, "pl-testbox", {"text": "tar"}, previous_id=root["id"],
                           compute_resource_name="far-tar")
        assert b.compute.c.wait_for(ds["id"], timeout=120) == st.SUCCESS, explain(b, admin, ds["id"])
        out = data / b.compute.instance(admin, root["id"])["output_path"]
        assert (out / "scan/sub/b.bin").read_bytes() == (data / "home/admin/uploads/scan/sub/b.bin").read_bytes()
        d = b.compute.instance(admin, ds["id"])
        assert d["runner"] == "far-tar"
        assert json.loads((data / d["output_path"] / "record.json").read_text())["text"] == "tar"
        logs = b.compute.logs(admin, ds["id"])
        assert "as tar to" in logs and "PULL: outputs as tar" in logs, logs
    finally:
        for name in ("pl-dircopy", "pl-testbox"):
            b.compute.assign_compute_resources(admin, b.compute.plugin(name)["id"], ["far"])


class _EvilHandler(BaseHTTPRequestHandler):
    """A resource that accepts every job and returns outputs with an entry outside the folder."""

    def log_message(self, *args) -> None:
        pass

    def _json(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                self.rfile.read(size + 2)
            self.rfile.readline()
        else:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("auth-token/"):
            self._json(200, {"token": "t"})
        else:
            self._json(201, {"data": {}, "compute": {"status": "started"}})

    def do_GET(self) -> None:
        if self.path.split("?")[0].endswith("/file/"):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.writestr("fine.txt", "fine")
                zf.writestr("../evil.txt", "evil")
            data = buf.getvalue()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._json(200, {"compute": {"status": "finishedSuccessfully", "logs": "done", "exit_code": 0}})

    def do_DELETE(self) -> None:
        self.send_response(204)
        self.end_headers()


def test_outputs_with_a_path_outside_the_output_folder_are_refused(backend):
    b, admin, data = backend
    evil = ThreadingHTTPServer(("127.0.0.1", 0), _EvilHandler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        b.compute.add_compute_resource(admin, "evil", "remote", {
            "url": f"http://127.0.0.1:{evil.server_address[1]}/api/v1/", "password": "x", "retries": 0})
        pid = b.compute.plugin("pl-dircopy")["id"]
        b.compute.assign_compute_resources(admin, pid, ["far", "evil"])
        inst = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/scan"}, compute_resource_name="evil")
        assert b.compute.c.wait_for(inst["id"], timeout=60) == st.ERROR
        i = b.compute.instance(admin, inst["id"])
        assert "compute resource 'evil'" in i["error"] and "refused at PULL" in i["error"], i["error"]
        assert "'../evil.txt' is outside the destination folder" in i["error"]
        out = data / i["output_path"]
        assert list(out.iterdir()) == []  # not even the fine file stays
        assert not (out.parent / "evil.txt").exists()
        assert not list(data.rglob("evil.txt"))
    finally:
        evil.shutdown()
        b.compute.assign_compute_resources(admin, b.compute.plugin("pl-dircopy")["id"], ["far"])


def test_the_resource_killed_mid_job_ends_it_with_an_error_naming_resource_and_step(
        backend, netns, tmp_path, dclient):
    b, admin, _ = backend
    ns, _, ns_ip = netns
    doomed = Served(ns, ns_ip, 5006, tmp_path / "doomed-data", tmp_path / "doomed.log")
    try:
        b.compute.add_compute_resource(admin, "doomed", "remote", {
            "url": doomed.url, "password": PASSWORD, "retries": 2, "backoff": 0.2, "long_poll": 2})
        pid = b.compute.plugin("pl-testbox")["id"]
        b.compute.assign_compute_resources(admin, pid, ["far", "doomed"])
        feed = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/scan"})
        assert b.compute.c.wait_for(feed["id"], timeout=120) == st.SUCCESS, explain(b, admin, feed["id"])
        slow = b.compute.run(admin, "pl-testbox", {"mode": "sleep", "seconds": 120}, previous_id=feed["id"],
                             compute_resource_name="doomed")
        assert b.compute.c.wait_for(slow["id"], frozenset({st.STARTED}), timeout=60) == st.STARTED
        doomed.stop(signal.SIGKILL)
        assert b.compute.c.wait_for(slow["id"], timeout=60) == st.ERROR
        err = b.compute.instance(admin, slow["id"])["error"]
        assert "compute resource 'doomed'" in err and "during WAIT after 3 attempt(s)" in err, err
        assert "retry 2 of 2" in b.compute.logs(admin, slow["id"])
    finally:
        doomed.stop(signal.SIGKILL)
        remove_served_containers(dclient, doomed.data)
        b.compute.assign_compute_resources(admin, b.compute.plugin("pl-testbox")["id"], ["far"])


def test_the_server_refuses_bad_credentials_tokens_and_archives(served):
    api = served.url
    assert httpx.get(api + "health/").json() == {"health": "OK"}
    assert httpx.post(api + "auth-token/", json={"pfcon_user": "chris", "pfcon_password": "wrong"}).status_code == 400
    assert httpx.get(api + "pluginjobs/").status_code == 401
    assert httpx.get(api + "pluginjobs/", headers={"Authorization": "Bearer forged.123.abc"}).status_code == 401
    token = httpx.post(api + "auth-token/", json={"pfcon_user": "chris", "pfcon_password": PASSWORD}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    info = httpx.get(api + "pluginjobs/", headers=h).json()
    assert info["storage_env"] == "zipfile" and info["pfcon_innetwork"] is False
    # a zip-slip archive is refused before anything runs, and nothing lands outside the job folder
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.txt", "ok")
        zf.writestr("../../slipped.txt", "evil")
    form = {"jid": "slip-1", "image": "x", "entrypoint": "true", "type": "ds", "auid": "chris",
            "number_of_workers": "1", "cpu_limit": "1000", "memory_limit": "100", "gpu_limit": "0"}
    r = httpx.post(api + "pluginjobs/", data=form, files={"data_file": ("d.zip", buf.getvalue())}, headers=h)
    assert r.status_code == 400 and "outside the destination folder" in r.json()["message"], r.text
    assert not list(served.data.rglob("slipped.txt")) and not (served.data / "jobs/slip-1").exists()
    assert httpx.get(api + "pluginjobs/slip-1/", headers=h).status_code == 404
    # the same in a tar whose data_format comes first (unpacked while it arrives), and a tar cut short
    slip = io.BytesIO()
    with tarfile.open(fileobj=slip, mode="w") as tf:
        for name, data in (("ok.txt", b"ok"), ("../../slipped.txt", b"evil")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    for jid, body, reason in (("slip-2", slip.getvalue(), "outside the destination folder"),
                              ("cut-1", slip.getvalue()[:700], "not a tar archive")):
        r = httpx.post(api + "pluginjobs/", data={**form, "jid": jid, "data_format": "tar"},
                       files={"data_file": ("d.tar", body)}, headers=h)
        assert r.status_code == 400 and reason in r.json()["message"], r.text
        assert not (served.data / "jobs" / jid).exists()
    assert not list(served.data.rglob("slipped.txt"))
    assert not list((served.data / "uploads").iterdir())  # no spool or half-unpacked folder left


# -- the backend killed mid-transfer ---------------------------------------------------------------
_BACKEND_SCRIPT = """
import json, os, sys, time
from chris_jupyter.backend import Backend, Settings
root, url, image, password = sys.argv[1:5]
b = Backend(Settings(data_root=root + "/data", db_url=f"sqlite:///{root}/c.db", runner="docker",
                     start_services=True, job_timeout=300,
                     compute_resources=[{"name": "far", "kind": "remote", "settings": {
                         "url": url, "user": "chris", "password": password, "retries": 2, "backoff": 0.2}}]))
admin = b.principal("admin", is_admin=True)
b.compute.register(admin, image=image, compute_resources=["far"])
big = b.library.store.root / "home/admin/uploads/big"
big.mkdir(parents=True)
for i in range(4):
    (big / f"part{i}.bin").write_bytes(os.urandom(10 << 20))
b.library.register_tree("home/admin/uploads/big")
inst = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/big"})
print(json.dumps(inst["id"]), flush=True)
time.sleep(3600)
"""


@pytest.fixture
def slow_link(netns):
    """The veth link limited to 32 Mbit/s each way (tbf), so a 40 MiB transfer takes ~10 s."""
    ns, _, _ = netns
    host_if, ns_if = f"cjh{ns[3:]}", f"cjn{ns[3:]}"
    tbf = ["root", "tbf", "rate", "32mbit", "burst", "64kb", "latency", "400ms"]
    _ip_tc = [["tc", "qdisc", "add", "dev", host_if, *tbf],
              ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", ns_if, *tbf]]
    for cmd in _ip_tc:
        subprocess.run(cmd, check=True, capture_output=True)
    yield
    subprocess.run(["tc", "qdisc", "del", "dev", host_if, "root"], capture_output=True)
    subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", ns_if, "root"], capture_output=True)


def _record(root: Path) -> tuple[Path | None, dict]:
    for p in root.rglob("remote/cj-*.json"):
        try:
            return p, json.loads(p.read_text())
        except ValueError:
            pass
    return None, {}


def _kill_backend_when(root: Path, served, plugin_image, ready) -> int:
    """Start a backend process that runs pl-dircopy on 40 MiB on ``far``, SIGKILL it as soon
    as ``ready(record_path, record)`` holds; the instance id."""
    with open(root / "backend.log", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", _BACKEND_SCRIPT, str(root), served.url,
                                 plugin_image("pl-dircopy"), PASSWORD],
                                env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                stderr=err, start_new_session=True)
    try:
        iid = json.loads(proc.stdout.readline() or "null")
        assert iid, (root / "backend.log").read_text()
        deadline = time.monotonic() + 120
        while not ready(*_record(root)):
            assert proc.poll() is None and time.monotonic() < deadline, (root / "backend.log").read_text()
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    return iid


def _restart_and_check(root: Path, served, iid: int) -> None:
    """A new backend on the same folder and database finishes the job; outputs are whole and
    registered exactly once."""
    b = Backend(Settings(data_root=root / "data", db_url=f"sqlite:///{root}/c.db", runner="docker",
                         start_services=True, job_timeout=300,
                         compute_resources=[{"name": "far", "kind": "remote", "settings": {
                             "url": served.url, "user": "chris", "password": PASSWORD,
                             "retries": 2, "backoff": 0.2}}]))
    try:
        admin = b.principal("admin", is_admin=True)
        assert b.compute.c.wait_for(iid, timeout=180) == st.SUCCESS, explain(b, admin, iid)
        inst = b.compute.instance(admin, iid)
        lib = b.library.store.root
        out = lib / inst["output_path"]
        src = lib / "home/admin/uploads/big"
        on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        assert on_disk == [f"big/part{i}.bin" for i in range(4)]
        for i in range(4):
            assert (out / f"big/part{i}.bin").read_bytes() == (src / f"part{i}.bin").read_bytes()
        registered = b.compute.c.provenance(iid)["output_files"]
        assert sorted(registered) == sorted(f"{inst['output_path']}/{f}" for f in on_disk)
        assert "PUSH:" in b.compute.logs(admin, iid) and "PULL:" in b.compute.logs(admin, iid)
    finally:
        b.close()


def test_the_backend_killed_mid_push_pushes_again_on_restart(served, slow_link, plugin_image, tmp_path):
    def mid_push(path, rec) -> bool:  # the resource has spooled some MiB of the upload, not all
        spooled = sum(p.stat().st_size for p in (served.data / "uploads").glob("*.part"))
        return rec.get("step") == "PUSH" and not rec.get("pushed") and spooled > 4 << 20
    iid = _kill_backend_when(tmp_path, served, plugin_image, mid_push)
    assert _record(tmp_path)[1]["pushed"] is False  # really killed before the PUSH ended
    _restart_and_check(tmp_path, served, iid)


def test_the_backend_killed_mid_pull_pulls_again_on_restart(served, slow_link, plugin_image, tmp_path):
    def mid_pull(path, rec) -> bool:  # some MiB of the outputs are on this side, not all
        part = path.with_suffix(".pull") if path else None
        return rec.get("step") == "PULL" and part is not None and part.exists() and \
            part.stat().st_size > 4 << 20
    iid = _kill_backend_when(tmp_path, served, plugin_image, mid_pull)
    assert _record(tmp_path)[1]["final"] is None  # really killed before the PULL ended
    _restart_and_check(tmp_path, served, iid)
