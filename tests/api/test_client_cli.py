"""The Python client and the CLI against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.client import ConflictError, NotFoundError, PermissionDeniedError


@pytest.fixture
def user(chris_server):
    """(name, token) of a fresh user."""
    name = f"u{uuid.uuid4().hex[:6]}"
    owner = Client(chris_server.url, chris_server.token)
    owner.create_user(name)
    return name, owner.create_token(name)["token"]


def test_client_roundtrip(chris_server, user, tmp_path: Path) -> None:
    name, token = user
    c = Client(chris_server.url, token)
    assert c.me()["username"] == name
    src = tmp_path / "study"
    (src / "s1").mkdir(parents=True)
    (src / "s1/a.dcm").write_bytes(os.urandom(5000))
    (src / "b.txt").write_text("hello")
    c.upload(src, f"home/{name}/uploads/study", progress=False)
    assert [e["name"] for e in c.walk_folder(f"home/{name}/uploads/study")] == ["s1", "b.txt"]
    out = c.download(f"home/{name}/uploads/study/s1/a.dcm", tmp_path / "a.dcm", progress=False)
    assert out.read_bytes() == (src / "s1/a.dcm").read_bytes()
    z = c.download(f"home/{name}/uploads/study", tmp_path, progress=False)
    assert zipfile.ZipFile(z).read("study/b.txt") == b"hello"
    # resume: a partial .part file is completed with a Range request
    part = tmp_path / "r.dcm.part"
    part.write_bytes((src / "s1/a.dcm").read_bytes()[:1234])
    c.download(f"home/{name}/uploads/study/s1/a.dcm", tmp_path / "r.dcm", progress=False)
    assert (tmp_path / "r.dcm").read_bytes() == (src / "s1/a.dcm").read_bytes()
    with pytest.raises(NotFoundError, match="not shared with you"):
        c.stat("home/somebody-else/uploads")
    with pytest.raises(ConflictError, match="already exists"):
        c.upload(src / "b.txt", f"home/{name}/uploads/study/b.txt", progress=False)
    link = c.link(f"home/{name}/uploads/study", expires_in=60)
    assert httpx.get(link["url"]).json()["total"] == 2


def test_client_event_iterator(chris_server, user) -> None:
    name, token = user
    c = Client(chris_server.url, token)
    got: list[dict] = []
    ready = threading.Event()

    def listen() -> None:
        for ev in Client(chris_server.url, token).events(types=["file.created"], on_connect=ready.set, timeout=60):
            got.append(ev)
            return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(30), "the event stream never said it was connected"
    c.upload(__file__, f"home/{name}/uploads/ev.py", progress=False)
    t.join(60)
    assert got and got[0]["data"]["path"] == f"home/{name}/uploads/ev.py"


def test_event_iterator_is_bounded_and_can_stop_on_connect(chris_server, user) -> None:
    """``timeout`` ends a quiet stream (no event ever comes); ``on_connect`` returning True ends it at once."""
    _name, token = user
    c = Client(chris_server.url, token)
    assert list(c.events(types=["no.such.type"], timeout=1)) == []
    calls: list[int] = []
    assert list(c.events(types=["no.such.type"], on_connect=lambda: calls.append(1) or True)) == []
    assert calls == [1]


def cli(server, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHRIS_URL": server.url, "CHRIS_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "chris_jupyter.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli(chris_server, user, tmp_path: Path) -> None:
    name, token = user
    f = tmp_path / "notes.txt"
    f.write_text("n")
    r = cli(chris_server, token, "upload", str(f), "-q")
    assert r.returncode == 0 and f"home/{name}/uploads/notes.txt" in r.stdout
    r = cli(chris_server, token, "ls", f"home/{name}/uploads")
    assert "notes.txt" in r.stdout
    r = cli(chris_server, token, "--json", "ls", f"home/{name}/uploads")
    assert json.loads(r.stdout)["total"] == 1
    r = cli(chris_server, token, "download", f"home/{name}/uploads/notes.txt", str(tmp_path / "back.txt"), "-q")
    assert r.returncode == 0 and (tmp_path / "back.txt").read_text() == "n"
    r = cli(chris_server, token, "share", f"home/{name}/uploads/notes.txt", "--link")
    assert r.returncode == 0 and "/links/chrislink_" in r.stdout
    r = cli(chris_server, token, "search", "--name", "notes")
    assert r.stdout.strip() == f"home/{name}/uploads/notes.txt"
    # errors: a message, exit 1, no traceback
    r = cli(chris_server, token, "ls", "../etc")
    assert r.returncode == 1 and "'..'" in r.stderr and "Traceback" not in r.stderr
    r = cli(chris_server, "chris_wrong", "ls")
    assert r.returncode == 1 and "invalid" in r.stderr and "Traceback" not in r.stderr
    r = cli(chris_server, token, "upload", str(tmp_path / "missing.txt"))
    assert r.returncode == 1 and "no such local file" in r.stderr


def test_cli_share_write_and_link_expiry(chris_server, user, tmp_path: Path) -> None:
    import datetime as dt

    name, token = user
    owner = Client(chris_server.url, chris_server.token)
    readers = {}
    for who in ("w", "r"):
        readers[who] = f"{who}{uuid.uuid4().hex[:6]}"
        owner.create_user(readers[who])
    writer = Client(chris_server.url, owner.create_token(readers["w"])["token"])
    reader = Client(chris_server.url, owner.create_token(readers["r"])["token"])
    folder = f"home/{name}/uploads/shared"
    (tmp_path / "a.txt").write_text("a")
    Client(chris_server.url, token).upload(tmp_path / "a.txt", f"{folder}/a.txt", progress=False)
    r = cli(chris_server, token, "share", folder, "--user", readers["w"], "--write")
    assert r.returncode == 0 and "(write)" in r.stdout, r.stderr
    r = cli(chris_server, token, "share", folder, "--user", readers["r"])
    assert r.returncode == 0 and "(read)" in r.stdout, r.stderr
    writer.upload(tmp_path / "a.txt", f"{folder}/from-writer.txt", progress=False)
    with pytest.raises(PermissionDeniedError):
        reader.upload(tmp_path / "a.txt", f"{folder}/from-reader.txt", progress=False)
    r = cli(chris_server, token, "share", folder, "--link", "--expires-days", "0.5")
    assert r.returncode == 0, r.stderr
    expires = dt.datetime.fromisoformat(r.stderr.split("(expires ")[1].split(";")[0])
    now = dt.datetime.now(expires.tzinfo)
    assert dt.timedelta(hours=11, minutes=55) < expires - now <= dt.timedelta(hours=12)
    assert httpx.get(r.stdout.strip()).status_code == 200
    # options that do not apply are refused, not silently dropped
    r = cli(chris_server, token, "share", folder, "--user", readers["r"], "--expires-days", "3")
    assert r.returncode == 2 and "--link only" in r.stderr
    r = cli(chris_server, token, "share", folder, "--link", "--write")
    assert r.returncode == 2 and "links are read-only" in r.stderr
    r = cli(chris_server, token, "share", folder, "--public", "--write")
    assert r.returncode == 1 and "read-only" in r.stderr and "Traceback" not in r.stderr


def test_cli_user_add_prints_a_working_token(chris_server) -> None:
    name = f"new{uuid.uuid4().hex[:6]}"
    r = cli(chris_server, chris_server.token, "user", "add", name, "--group", "radiology")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert Client(chris_server.url, token).me() == {"username": name, "is_admin": False,
                                                     "groups": ["radiology"], "auth": "token"}


async def test_client_finds_its_server_from_a_kernel(chris_server) -> None:
    """In a kernel started by the server, ``Client()`` needs no URL or token."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    h = chris_server.headers
    async with httpx.AsyncClient(base_url=chris_server.url, headers=h, timeout=60) as http:
        kid = (await http.post("api/kernels", json={"name": "python3"})).json()["id"]
        try:
            ws_url = chris_server.url.replace("http", "ws") + f"api/kernels/{kid}/channels"
            ws = await websocket_connect(HTTPRequest(ws_url, headers=h))
            msg_id = uuid.uuid4().hex
            code = "import chris_jupyter; print('ME=' + chris_jupyter.Client().me()['username'])"
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "t",
                           "session": uuid.uuid4().hex, "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": False,
                            "user_expressions": {}, "allow_stdin": False},
            }))
            out = ""
            while "ME=" not in out:
                raw = await ws.read_message()
                assert raw is not None, "kernel websocket closed"
                m = json.loads(raw)
                if m.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if m["msg_type"] == "stream":
                    out += m["content"]["text"]
                if m["msg_type"] == "error":
                    pytest.fail("\n".join(m["content"]["traceback"]))
            assert "ME=owner" in out
            ws.close()
        finally:
            await http.delete(f"api/kernels/{kid}")


def test_cli_up_starts_jupyterlab_with_the_sample_library(tmp_path: Path) -> None:
    """``chris-jupyter up`` (what ``scripts/up`` runs): JupyterLab with the extension on SQLite, the
    example notebooks in the workspace, and the sample CT series indexed in the user's uploads."""
    import signal
    import time

    from chris_jupyter.testing import free_port

    port, secret = free_port(), uuid.uuid4().hex
    env = {**os.environ, **{f"JUPYTER_{k}_DIR": str(tmp_path / k.lower()) for k in ("CONFIG", "DATA", "RUNTIME")}}
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "chris_jupyter.cli", "up", "--port", str(port), "--no-browser", "--runner", "local",
         "--data-dir", str(tmp_path / "data"), "--workspace", str(tmp_path / "ws"),
         "--", f"--IdentityProvider.token={secret}", "--ServerApp.port_retries=0"],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        c = Client(f"http://127.0.0.1:{port}/", secret)
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            try:
                me = c.me()
                break
            except (httpx.HTTPError, OSError):
                assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
                time.sleep(0.5)
        assert me["is_admin"]
        lab = httpx.get(f"http://127.0.0.1:{port}/lab", headers={"Authorization": f"token {secret}"})
        assert lab.status_code == 200
        sample = f"home/{me['username']}/uploads/sample"
        assert sorted(e["name"] for e in c.ls(sample)["items"]) == ["README.txt", "ct-phantom", "mni152-t1"]
        studies = c.studies(patient_id="SAMPLE01")["items"]
        assert len(studies) == 1 and studies[0]["series"][0]["num_instances"] == 48
        brain = c.studies(patient_id="MNI152")["items"]  # the MNI152 T1 template as a DICOM series
        assert len(brain) == 1 and brain[0]["series"][0]["num_instances"] == 189, brain
        assert [p["name"] for p in c.plugins()] and "local runner" in (tmp_path / "up.log").read_text()
        notebooks = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
        assert notebooks and sorted(p.name for p in (tmp_path / "ws").glob("*.ipynb")) == notebooks
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
