"""Hub operations, on a hub of their own (a short idle timeout would cull the other tests' servers).

An idle user server is culled by jupyterhub-idle-culler (a hub service); SIGTERM to the hub with a
user server running leaves no user container, Docker network, hub process or pid file behind.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import docker
import httpx
import pytest

from tests.fixtures.services import postgres_database

from .conftest import Hub, _stop, running_hub, user_containers
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
