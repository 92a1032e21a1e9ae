"""Hub operations, on a hub of their own (a short idle timeout would cull the other tests' servers).

An idle user server is culled by jupyterhub-idle-culler (a hub service); SIGTERM to the hub with a
user server running leaves no user container, Docker network, hub process or pid file behind; a hub
restarted while plugins run loses none of their jobs.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import docker
import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.states import FINAL
from tests.compute.images import context_hash
from tests.fixtures.cube_clients import register_flow_plugins
from tests.fixtures.services import postgres_database

from .conftest import ADMIN, REPO, Hub, _stop, running_hub, user_containers
from .test_hub_spawner import auth, start_server

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(900)]

IDLE_TIMEOUT = 20  # seconds; the culler checks every 2


@pytest.fixture(scope="module")
def ops_hub(tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, docker_client,
            singleuser_image: str) -> Iterator[Hub]:
    env = {"CHRIS_HUB_IDLE_TIMEOUT": str(IDLE_TIMEOUT), "CHRIS_HUB_IDLE_CULL_EVERY": "2"}
    with postgres_database(postgres_server_url) as db_url, \
            running_hub(tmp_path_factory.mktemp("ops-hub"), db_url, docker_client, singleuser_image, env) as h:
        yield h


def _user_containers(docker_client: docker.DockerClient, hub: Hub, user: str) -> list:
    return [c for c in user_containers(docker_client, hub.container_prefix) if c.name.endswith(f"-{user}")]


@contextlib.contextmanager
def _kept_active(hub: Hub, user: str, token: str) -> Iterator[None]:
    """Report activity for ``user``'s server every second, as a used server does."""
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(1):
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{hub.url}hub/api/users/{user}/activity", headers=auth(token),
                           json={"last_activity": now, "servers": {"": {"last_activity": now}}}, timeout=10)

    thread = threading.Thread(target=report, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_an_idle_server_is_culled(ops_hub: Hub, docker_client) -> None:
    hub, user = ops_hub, "ivan"
    token = hub.token(user)
    r = httpx.post(f"{hub.url}hub/api/users/{user}/server", headers=auth(token), timeout=120)
    assert r.status_code in (201, 202), r.text
    # Nothing uses the server: once ready, the culler stops it when idle for IDLE_TIMEOUT seconds (on a
    # loaded machine the spawn itself may take that long, so the cull can follow "ready" at once).
    deadline = time.monotonic() + IDLE_TIMEOUT + 240
    while True:
        log = hub.log.read_text()
        servers = httpx.get(f"{hub.url}hub/api/users/{user}", headers=auth(token)).json().get("servers")
        if not servers:  # stopped: by the culler, or a failed spawn
            break
        assert time.monotonic() < deadline, f"{user}'s idle server was not culled:\n{log[-3000:]}"
        time.sleep(1)
    assert f"User {user} took" in log, f"{user}'s server did not start:\n{log[-3000:]}"
    assert f"Culling server {user}" in log, log[-3000:]  # the culler stopped it, nothing else
    assert not _user_containers(docker_client, hub, user)  # removed, not just stopped


def test_sigterm_leaves_no_containers_networks_processes_or_pid_files(ops_hub: Hub, docker_client) -> None:
    hub, user = ops_hub, "judy"
    networks_before = {n.id for n in docker_client.networks.list()}
    token = hub.token(user)
    with _kept_active(hub, user, token):  # or this hub's culler would stop the server first
        start_server(hub, user, token)
        assert _user_containers(docker_client, hub, user)
        assert hub.proc is not None
        state = hub.log.parent
        left = _stop(hub.proc)  # SIGTERM, as a service manager stops it
    assert hub.proc.returncode is not None
    assert not left, f"processes left after SIGTERM: {left}"
    assert not user_containers(docker_client, hub.container_prefix)
    new_networks = [n.name for n in docker_client.networks.list() if n.id not in networks_before]
    assert not [n for n in new_networks if hub.container_prefix in n], new_networks
    assert not list(state.glob("*.pid")), "pid files left behind"


def test_a_hub_restart_loses_no_job(tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str,
                                    docker_client, singleuser_image: str, build_image) -> None:
    """SIGTERM to the hub (and so to its ChRIS service) while a plugin runs, then a new hub on the same
    state and database: the job that kept running finishes, the one queued after it runs, and the job
    that ended while no service watched is recorded as finished; the hub's tokens still work."""
    state = tmp_path_factory.mktemp("restart-hub")
    testbox = REPO / "tests" / "compute" / "plugins" / "pl-testbox"
    with postgres_database(postgres_server_url) as db_url:
        with running_hub(state, db_url, docker_client, singleuser_image) as hub:
            admin = register_flow_plugins(Client(hub.service_url, hub.token(ADMIN)), build_image)
            admin.register_plugin(image=build_image(testbox, f"chris-jupyter-test/pl-testbox:{context_hash(testbox)}"))
            token = hub.token("kim")
            kim = Client(hub.service_url, token)
            kim.upload(io.BytesIO(b"a scan"), "home/kim/scan/a.txt", progress=False)
            root = kim.run("pl-dircopy", {"dir": "home/kim/scan"})
            assert kim.wait(root["id"], timeout=300)["state"] == "finishedSuccessfully"
            # slow runs until the test drops a file into its input folder (on the host), at most 10 min
            slow = kim.run("pl-testbox", {"mode": "until", "text": "release", "seconds": 600}, previous_id=root["id"])
            quick = kim.run("pl-testbox", {"mode": "sleep", "seconds": 2}, previous_id=root["id"])
            after = kim.run("pl-noop", {"touch": True}, previous_id=slow["id"])
            for job in (slow, quick):
                _wait_state(kim, job["id"], "started")
        # the hub and its service are gone (running_hub checked that nothing of theirs is left)
        time.sleep(3)  # quick's container ends while no service watches it
        with running_hub(state, db_url, docker_client, singleuser_image) as hub:
            kim = Client(hub.service_url, token)
            # slow's container ran on while no service was up; now it may end
            assert kim.instance(slow["id"])["state"] == "started", kim.instance(slow["id"])
            assert hub.data_root is not None
            (hub.data_root / "library" / kim.instance(root["id"])["output_path"] / "release").touch()
            for job in (quick, slow, after):
                done = kim.wait(job["id"], timeout=300)
                assert done["state"] == "finishedSuccessfully", done
            assert [e["name"] for e in kim.walk_folder(kim.instance(after["id"])["output_path"])] == ["noop.txt"]


def _wait_state(client: Client, instance_id: int, state: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while (got := client.instance(instance_id)["state"]) != state:
        assert got not in FINAL, client.instance(instance_id)
        assert time.monotonic() < deadline, f"job {instance_id} is {got}, not {state}"
        time.sleep(0.5)
