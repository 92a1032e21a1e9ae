"""The ChRIS spawner end to end: real hub, proxy, service and user containers on the local engine.

alice and bob spawn servers of the single-user image; code in alice's kernel lists her library
through the service with no credential of its own; the browser routes of her server (client mode)
forward to the service as her; bob sees none of alice's files; no container holds the Docker socket;
a spawn with a missing image fails with a clear message; stopping leaves no container.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import websocket

from chris_jupyter import Client
from tests.fixtures.cube_clients import register_flow_plugins

from .conftest import ADMIN, MISSING_IMAGE, Hub, user_containers

# the first session after a change to chris_jupyter rebuilds the single-user image (minutes)
pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(1800)]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, str]:
    return {name: hub.token(name) for name in ("alice", "bob", "dave", ADMIN)}


def add_to_group(hub: Hub, admin_token: str, group: str, user: str) -> None:
    r = httpx.post(f"{hub.url}hub/api/groups/{group}", json={"users": [user]}, headers=auth(admin_token))
    if r.status_code == 409:  # the group exists
        r = httpx.post(f"{hub.url}hub/api/groups/{group}/users", json={"users": [user]},
                       headers=auth(admin_token))
    assert r.status_code in (200, 201), r.text


def start_server(hub: Hub, user: str, token: str, timeout: float = 180) -> None:
    r = httpx.post(f"{hub.url}hub/api/users/{user}/server", headers=auth(token), timeout=120)
    assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + timeout
    while True:
        model = httpx.get(f"{hub.url}hub/api/users/{user}", headers=auth(token)).json()
        server = model.get("servers", {}).get("")
        if server and server.get("ready"):
            return
        assert server, f"{user}'s server stopped while starting:\n{hub.log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{user}'s server did not become ready: {model}"
        time.sleep(0.5)


def stop_server(hub: Hub, user: str, token: str) -> None:
    r = httpx.delete(f"{hub.url}hub/api/users/{user}/server", headers=auth(token), timeout=120)
    assert r.status_code in (202, 204), r.text
    deadline = time.monotonic() + 120
    while httpx.get(f"{hub.url}hub/api/users/{user}", headers=auth(token)).json().get("servers"):
        assert time.monotonic() < deadline, f"{user}'s server did not stop"
        time.sleep(0.5)


def run_in_kernel(hub: Hub, user: str, token: str, code: str) -> str:
    """Run ``code`` in a new kernel of ``user``'s server (Jupyter REST + websocket); its stdout."""
    base = f"{hub.url}user/{user}/"
    r = httpx.post(base + "api/kernels", json={"name": "python3"}, headers=auth(token), timeout=60)
    assert r.status_code == 201, r.text
    kernel = r.json()["id"]
    ws = websocket.create_connection(base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels",
                                     header=[f"Authorization: token {token}"], timeout=120)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user, "session": msg_id,
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        out, error = [], None
        while True:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                error = "\n".join(msg["content"]["traceback"])
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert error is None, error
        return "".join(out)
    finally:
        ws.close()
        httpx.delete(base + f"api/kernels/{kernel}", headers=auth(token), timeout=60)


@pytest.fixture(scope="module")
def servers(hub: Hub, tokens: dict[str, str]) -> Iterator[dict[str, str]]:
    """alice (in the hub group "small": lower limits) and bob, each with a running server."""
    add_to_group(hub, tokens[ADMIN], "small", "alice")
    started = []
    try:
        for user in ("alice", "bob"):
            start_server(hub, user, tokens[user])
            started.append(user)
        yield tokens
    finally:
        for user in started:
            stop_server(hub, user, tokens[user])


def container(docker_client, hub: Hub, user: str):
    return docker_client.containers.get(f"{hub.container_prefix}-{user}")


def test_alice_kernel_lists_her_library_through_the_service(hub: Hub, servers: dict[str, str], docker_client):
    name = f"scan-{uuid.uuid4().hex[:8]}.txt"
    Client(hub.service_url, servers["alice"]).upload(io.BytesIO(b"alice's scan"), f"home/alice/{name}",
                                                     progress=False)
    code = f"""
import os, json
from chris_jupyter import Client
c = Client()
print(json.dumps({{
    "url": c.url,
    "me": c.me()["username"],
    "listed": [e["name"] for e in c.ls("home/alice")["items"]],
    "read": c.read_bytes("home/alice/{name}").decode(),
    "mounted": open(os.path.expanduser("~/library/{name}")).read(),
    "secrets": sorted(k for k in os.environ if "PASSWORD" in k or k.startswith("CHRIS_TOKEN")),
}}))
"""
    got = json.loads(run_in_kernel(hub, "alice", servers["alice"], code))
    assert got["url"] == hub.service_url
    assert got["me"] == "alice"
    assert name in got["listed"]
    assert got["read"] == got["mounted"] == "alice's scan"
    assert got["secrets"] == []


def test_the_library_home_is_read_only_and_the_work_folder_writable(hub: Hub, servers: dict[str, str]):
    code = """
import os, pathlib
home = pathlib.Path.home()
(home / "notes.txt").write_text("mine")
try:
    (home / "library" / "dropped.txt").write_text("x")
    print("library writable")
except OSError as e:
    print("library", type(e).__name__)
print(os.getuid(), (home / "notes.txt").read_text())
"""
    out = run_in_kernel(hub, "alice", servers["alice"], code).split("\n")
    assert out[0] in ("library OSError", "library PermissionError"), out
    assert out[1] == "1000 mine"
    # the work folder is the user's on the host too (created before the spawn with the image's uid)
    work = hub.homes / "alice"
    assert (work / "notes.txt").read_text() == "mine"
    assert (work.stat().st_uid, (work / "library").stat().st_uid) == (1000, 1000)
    assert not (hub.data_root / "library" / "home" / "alice" / "dropped.txt").exists()


def test_client_mode_routes_of_alices_server_forward_as_alice(hub: Hub, servers: dict[str, str]):
    """The browser side: <server>/chris/api/v1/… (viewer fetches with Range, event stream) as alice."""
    token = servers["alice"]
    name = f"range-{uuid.uuid4().hex[:8]}.bin"
    data = bytes(range(256)) * 64
    Client(hub.service_url, token).upload(io.BytesIO(data), f"home/alice/{name}", progress=False)
    server = f"{hub.url}user/alice/chris/api/v1/"
    r = httpx.get(server + "me", headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "alice"
    r = httpx.get(server + "files/content", params={"path": f"home/alice/{name}"},
                  headers={**auth(token), "Range": "bytes=256-511"})
    assert r.status_code == 206, r.text
    assert r.content == data[256:512]
    assert r.headers["Content-Range"].startswith("bytes 256-511/")
    # the event stream through the forwarder: an upload made elsewhere arrives
    via_server = Client(f"{hub.url}user/alice/", token)
    later = f"later-{uuid.uuid4().hex[:8]}.txt"

    def upload() -> None:
        Client(hub.service_url, token).upload(io.BytesIO(b"x"), f"home/alice/{later}", progress=False)

    seen = False
    for event in via_server.events(on_connect=upload, timeout=60):
        if later in json.dumps(event):
            seen = True
            break
    assert seen, "no event for the upload came through alice's server"


def test_bob_sees_nothing_of_alices(hub: Hub, servers: dict[str, str], docker_client):
    name = f"private-{uuid.uuid4().hex[:8]}.txt"
    Client(hub.service_url, servers["alice"]).upload(io.BytesIO(b"secret"), f"home/alice/{name}", progress=False)
    code = f"""
import os
from chris_jupyter.client import NotFoundError, Client
try:
    Client().read_bytes("home/alice/{name}")
    print("read")
except NotFoundError:
    print("404")
print(sorted(os.listdir(os.path.expanduser("~/library"))))
"""
    out = run_in_kernel(hub, "bob", servers["bob"], code).split("\n")
    assert out[0] == "404"
    assert name not in out[1]
    # through bob's server, and bob at alice's server
    r = httpx.get(f"{hub.url}user/bob/chris/api/v1/files/content", params={"path": f"home/alice/{name}"},
                  headers=auth(servers["bob"]))
    assert r.status_code == 404
    assert b"secret" not in r.content
    r = httpx.get(f"{hub.url}user/alice/chris/api/v1/me", headers=auth(servers["bob"]))
    assert r.status_code == 403
    # no credentials at all: a JSON refusal, not a redirect to the hub's login (which a page's
    # fetch or event stream would follow, round and round)
    r = httpx.get(f"{hub.url}user/alice/chris/api/v1/me", headers={"Sec-Fetch-Mode": "cors"})
    assert r.status_code == 403 and "message" in r.json(), (r.status_code, r.headers, r.text[:300])
    # bob's container mounts only his own folders
    sources = [m["Source"] for m in container(docker_client, hub, "bob").attrs["Mounts"]]
    assert sources and all(s.endswith("/bob") for s in sources), sources


def test_alices_share_reaches_bobs_server_at_once(hub: Hub, servers: dict[str, str]):
    """A folder alice shares with bob: its event arrives through bob's server's stream as she shares,
    and bob's kernel reads it through the service (before the share: 404)."""
    folder = f"for-bob-{uuid.uuid4().hex[:8]}"
    alice = Client(hub.service_url, servers["alice"])
    alice.upload(io.BytesIO(b"a scan for bob"), f"home/alice/{folder}/a.txt", progress=False)
    read = f"""
from chris_jupyter.client import NotFoundError, Client
try:
    print(Client().read_bytes("home/alice/{folder}/a.txt").decode())
except NotFoundError:
    print("404")
"""
    assert run_in_kernel(hub, "bob", servers["bob"], read).strip() == "404"
    shared: list[dict] = []

    def share() -> None:
        shared.append(alice.share(f"home/alice/{folder}", user="bob"))

    seen = None
    for event in Client(f"{hub.url}user/bob/", servers["bob"]).events(on_connect=share, timeout=60):
        if folder in json.dumps(event):
            seen = event
            break
    assert seen is not None and shared, "the share's event did not come through bob's server"
    assert run_in_kernel(hub, "bob", servers["bob"], read).strip() == "a scan for bob"
    alice.unshare(shared[0]["id"])
    assert run_in_kernel(hub, "bob", servers["bob"], read).strip() == "404"


def test_no_docker_socket_and_per_group_limits(hub: Hub, servers: dict[str, str], docker_client):
    code = """
import os, socket
print([p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)])
print(sorted(k for k in os.environ if k.startswith("DOCKER")))
s = socket.socket()
s.settimeout(2)
print(s.connect_ex(("127.0.0.1", 2375)) != 0)
"""
    assert run_in_kernel(hub, "alice", servers["alice"], code).split("\n")[:3] == ["[]", "[]", "True"]
    for user in ("alice", "bob"):
        attrs = container(docker_client, hub, user).attrs
        assert not any("docker.sock" in m["Source"] for m in attrs["Mounts"])
        assert attrs["Config"]["User"] in ("1000:1000", "1000")
    # alice is in the hub group "small" (0.5 CPU, 768 MB); bob gets the spawner's defaults
    alice = container(docker_client, hub, "alice").attrs["HostConfig"]
    assert alice["CpuQuota"] == alice["CpuPeriod"] // 2
    assert alice["Memory"] == 768 * 1024 * 1024
    assert container(docker_client, hub, "bob").attrs["HostConfig"]["Memory"] == 0


def test_a_missing_image_is_a_clear_error_and_leaves_nothing(hub: Hub, tokens: dict[str, str], docker_client):
    add_to_group(hub, tokens[ADMIN], "broken", "dave")
    r = httpx.post(f"{hub.url}hub/api/users/dave/server", headers=auth(tokens["dave"]), timeout=120)
    assert r.status_code in (202, 500), r.text
    # the hub's API hides the reason ("Internal Server Error"); its progress stream tells the user
    r = httpx.get(f"{hub.url}hub/api/users/dave/server/progress", headers=auth(tokens["dave"]), timeout=120)
    assert "failed" in r.text, r.text
    message = r.text
    assert MISSING_IMAGE in message and "is not on this Docker engine" in message, message
    assert "Traceback" not in message
    assert not [c for c in user_containers(docker_client, hub.container_prefix) if c.name.endswith("-dave")]
    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(f"{hub.url}hub/api/users/dave/server", headers=auth(tokens["dave"]), timeout=60)


def test_stopping_leaves_no_container(hub: Hub, tokens: dict[str, str], docker_client):
    user = "erin"
    token = hub.token(user)
    start_server(hub, user, token)
    assert container(docker_client, hub, user).status == "running"
    stop_server(hub, user, token)
    assert not [c for c in user_containers(docker_client, hub.container_prefix) if c.name.endswith(f"-{user}")]


def test_bob_runs_a_plugin_on_a_feed_alice_shared_for_writing(hub: Hub, servers: dict[str, str], build_image):
    """From bob's kernel, through the service: a plugin after alice's feed is refused (400 naming
    ``previous_id``) while the feed is shared for reading only, and runs once she shares it for
    writing; the job is bob's, its output lands in alice's feed, and alice sees it there."""
    register_flow_plugins(Client(hub.service_url, hub.token(ADMIN)), build_image)
    alice = Client(hub.service_url, servers["alice"])
    folder = f"scan-{uuid.uuid4().hex[:8]}"
    alice.upload(io.BytesIO(b"a scan"), f"home/alice/{folder}/a.txt", progress=False)
    root = alice.run("pl-dircopy", {"dir": f"home/alice/{folder}"}, title=folder)
    assert alice.wait(root["id"], timeout=300)["state"] == "finishedSuccessfully"
    after_root = f"""
from chris_jupyter.client import BadRequestError, Client
c = Client()
try:
    job = c.run("pl-noop", {{"touch": True}}, previous_id={root["id"]})
except BadRequestError as e:
    print("refused:", e)
else:
    done = c.wait(job["id"], timeout=300)
    print(done["state"], done["owner"], done["feed_id"], done["output_path"])
"""
    read = alice.share(feed_id=root["feed_id"], user="bob")
    out = run_in_kernel(hub, "bob", servers["bob"], after_root).strip()
    assert out.startswith("refused:") and "previous_id" in out, out
    alice.unshare(read["id"])
    alice.share(feed_id=root["feed_id"], user="bob", permission="write")
    state, owner, feed, output = run_in_kernel(hub, "bob", servers["bob"], after_root).split()
    assert (state, owner, feed) == ("finishedSuccessfully", "bob", str(root["feed_id"])), output
    assert output.startswith(f"home/alice/feeds/feed_{root['feed_id']}/"), output
    mine = [j for j in alice.instances(feed_id=root["feed_id"]) if j["owner"] == "bob"]
    assert [j["plugin"] for j in mine] == ["pl-noop"], mine
    assert "noop.txt" in [e["name"] for e in alice.walk_folder(output)]
