"""A real JupyterHub, started once per session with the repository's ``jupyterhub_config.py``.

The hub runs in a temporary folder on loopback ports with configurable-http-proxy and the ChRIS
service (``/services/chris/``, PostgreSQL, Docker runner). At the end it gets SIGTERM, and every
process it started (proxy, service) is checked gone — killed if it was left behind, and the test
session fails then.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from chris_jupyter.testing import free_port
from tests.fixtures.services import postgres_database

REPO = Path(__file__).resolve().parents[2]
USER_PASSWORD = "chris-hub-test-password"
ADMIN_PASSWORD = "chris-hub-test-admin-password-0123456789"
ADMIN = "carol"


@dataclass
class Hub:
    url: str  # public URL, ending in "/"
    log: Path

    @property
    def service_url(self) -> str:
        return self.url + "services/chris/"

    @property
    def api(self) -> str:
        return self.service_url + "chris/api/v1/"

    def login(self, name: str) -> httpx.Client:
        """A browser-like client logged in to the hub through its login page."""
        http = httpx.Client(base_url=self.url, timeout=60)
        r = http.get("hub/login")
        assert r.status_code == 200, r.text
        password = ADMIN_PASSWORD if name == ADMIN else USER_PASSWORD
        r = http.post("hub/login", data={"username": name, "password": password,
                                         "_xsrf": http.cookies["_xsrf"]})
        assert r.status_code == 302, r.text  # to the user's page; not followed (no server spawned)
        return http

    @staticmethod
    def xsrf(http: httpx.Client) -> dict[str, str]:
        # the login sets a new _xsrf cookie (path /hub/): read it again for each API call
        return {"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")}

    def token(self, name: str, scopes: list[str] | None = None) -> str:
        """A hub API token of ``name``, made through the hub's REST API as a logged-in user."""
        with contextlib.closing(self.login(name)) as http:
            body: dict = {"note": "chris tests"}
            if scopes is not None:
                body["scopes"] = scopes
            r = http.post(f"hub/api/users/{name}/tokens", json=body, headers=self.xsrf(http))
            assert r.status_code == 201, r.text
            return r.json()["token"]


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the ChRIS hub service did not answer {url} within {timeout:g} s:\n"
                       f"{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> list[str]:
    """SIGTERM the hub; return what it left running (then killed)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _, alive = psutil.wait_procs(children, timeout=15)
    left = []
    for p in alive:
        try:
            left.append(" ".join(p.cmdline()))
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return left


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, docker_client) -> Iterator[Hub]:
    if shutil.which("configurable-http-proxy") is None:
        pytest.fail("configurable-http-proxy is not on PATH (npm install -g configurable-http-proxy)")
    state = tmp_path_factory.mktemp("hub")
    port = free_port()
    with postgres_database(postgres_server_url) as db_url:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "CHRIS_HUB_STATE_DIR": str(state),
            "CHRIS_HUB_PORT": str(port),
            "CHRIS_HUB_API_PORT": str(free_port()),
            "CHRIS_HUB_PROXY_API_PORT": str(free_port()),
            "CHRIS_SERVICE_PORT": str(free_port()),
            "CHRIS_HUB_PASSWORD": USER_PASSWORD,
            "CHRIS_HUB_ADMINS": ADMIN,
            "CHRIS_HUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CHRIS_DB_URL": db_url,
            "CHRIS_DATA_ROOT": str(state / "chris-data"),
        }
        log = state / "jupyterhub.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(REPO / "jupyterhub_config.py")],
                cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        hub = Hub(url=f"http://127.0.0.1:{port}/", log=log)
        try:
            _wait_ready(proc, hub.service_url + "health", log)
            yield hub
        finally:
            left = _stop(proc)
        assert not left, f"the hub left processes running (killed now): {left}"
