"""A real JupyterHub, started once per session with the repository's ``jupyterhub_config.py``.

The hub runs in a temporary folder on loopback ports with configurable-http-proxy, the ChRIS
service (``/services/chris/``, PostgreSQL, Docker runner) and the ChRIS spawner, whose user servers
are containers of the single-user image (built offline by ``spawners/singleuser/build.sh``) on the
host network. At the end it gets SIGTERM, and every process it started (proxy, service) and every
user container is checked gone — removed if it was left behind, and the test session fails then.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import psutil
import pytest

from chris_jupyter.testing import free_port
from tests.fixtures.browser import is_local_url
from tests.fixtures.services import postgres_database

REPO = Path(__file__).resolve().parents[2]
# CHRIS_SINGLEUSER_IMAGE: another tag, so two checkouts testing at once do not rebuild each other's image
SINGLEUSER_IMAGE = os.environ.get("CHRIS_SINGLEUSER_IMAGE", "chris-jupyter/singleuser:latest")
MISSING_IMAGE = "chris-jupyter-test/no-such-image:0"
# hub groups whose members get other limits / another image (CHRIS_HUB_GROUP_LIMITS)
GROUP_LIMITS = {"small": {"cpu_limit": 0.5, "mem_limit": "768M"}, "broken": {"image": MISSING_IMAGE}}
USER_PASSWORD = "chris-hub-test-password"
ADMIN_PASSWORD = "chris-hub-test-admin-password-0123456789"
ADMIN = "carol"


@dataclass
class Hub:
    url: str  # public URL, ending in "/"
    log: Path
    container_prefix: str = ""  # user containers are <prefix>-<user>
    homes: Path | None = None
    data_root: Path | None = None
    proc: subprocess.Popen | None = None  # the jupyterhub process

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


def _session(sid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if p.pid != sid and os.getsid(p.pid) == sid:
                out.append(p)
    return out


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
    # and whatever still runs in the hub's session (start_new_session): a hub that exited by itself
    # (e.g. a service not answering at start) has no children left to list, but its proxy runs on
    alive += [p for p in _session(proc.pid) if p not in alive]
    left = []
    for p in alive:
        try:
            left.append(" ".join(p.cmdline()))
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return left


def _spawner_name() -> str:
    """The entry point ``chris-docker`` once the package is installed with it, else the class."""
    if entry_points(group="jupyterhub.spawners", name="chris-docker"):
        return "chris-docker"
    return "chris_jupyter.hub.spawner.ChrisDockerSpawner"


@pytest.fixture(scope="session")
def singleuser_image(base_image: str) -> str:
    """The hub's single-user image, built offline (skipped when its sources are unchanged)."""
    from tests.fixtures.services import _script_failure, run_script

    proc = run_script(REPO / "spawners" / "singleuser" / "build.sh", SINGLEUSER_IMAGE)
    if proc.returncode != 0:
        pytest.fail(_script_failure("spawners/singleuser/build.sh", proc), pytrace=False)
    return SINGLEUSER_IMAGE


def user_containers(docker_client, prefix: str) -> list:
    import docker

    for _ in range(5):
        try:
            return [c for c in docker_client.containers.list(all=True) if c.name.startswith(prefix + "-")]
        except docker.errors.NotFound:  # one was removed while being listed (the hub stopping a server)
            time.sleep(0.5)
    return [c for c in docker_client.containers.list(all=True) if c.name.startswith(prefix + "-")]


@contextlib.contextmanager
def running_hub(state: Path, db_url: str, docker_client, image: str,
                extra_env: dict[str, str] | None = None) -> Iterator[Hub]:
    """A hub on loopback ports with its state in ``state``; SIGTERM at the end, and nothing may be left."""
    if shutil.which("configurable-http-proxy") is None:
        pytest.fail("configurable-http-proxy is not on PATH (npm install -g configurable-http-proxy)")
    port = free_port()
    prefix = f"chris-test-{uuid.uuid4().hex[:8]}"  # parallel sessions never touch each other's containers
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
        "CHRIS_HUB_SPAWNER": _spawner_name(),
        "CHRIS_HUB_IMAGE": image,
        "CHRIS_HUB_HOMES": str(state / "homes"),
        "CHRIS_HUB_CONTAINER_PREFIX": prefix,
        "CHRIS_HUB_GROUP_LIMITS": json.dumps(GROUP_LIMITS),
        "CHRIS_REFERENCE_PLUGINS": "",  # the tests register their own builds (the session hub: one more)
        **(extra_env or {}),
    }
    log = state / "jupyterhub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(REPO / "jupyterhub_config.py")],
            cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            # as a hub started in the background by a script (`cmd &`, nohup, a CI step) is
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    hub = Hub(url=f"http://127.0.0.1:{port}/", log=log, container_prefix=prefix, homes=state / "homes",
              data_root=state / "chris-data", proc=proc)
    try:
        _wait_ready(proc, hub.service_url + "health", log, timeout=300)  # a loaded 2-core machine is slow
        yield hub
    finally:
        left = _stop(proc)
        containers = user_containers(docker_client, prefix)
        for c in containers:
            c.remove(force=True)
    assert not left, f"the hub left processes running (killed now): {left}"
    # the hub stops its services with SIGINT, then waits 30 s before SIGTERM: they must stop on the first
    assert "ServiceServerApp] received signal 15" not in log.read_text(errors="replace"), \
        "the ChRIS service ignored the hub's SIGINT (the hub then waited 30 s and sent SIGTERM)"
    assert not containers, f"the hub left user containers (removed now): {[c.name for c in containers]}"


REFERENCE_PREFIX = "chris-jupyter-test-ref/"  # the session hub's "reference plugins": pl-dcm2png only


@pytest.fixture(scope="session")
def reference_image(build_image) -> str:
    """pl-dcm2png (which no hub test registers itself) under the session hub's reference prefix."""
    from tests.compute.images import context_hash

    context = REPO / "plugins" / "pl-dcm2png"
    return build_image(context, f"{REFERENCE_PREFIX}pl-dcm2png:{context_hash(context)}")


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, docker_client,
        singleuser_image: str, reference_image: str) -> Iterator[Hub]:
    with postgres_database(postgres_server_url) as db_url, \
            running_hub(tmp_path_factory.mktemp("hub"), db_url, docker_client, singleuser_image,
                        {"CHRIS_REFERENCE_PLUGINS": REFERENCE_PREFIX}) as h:
        yield h


def hub_login_in_browser(page, name: str) -> None:
    """Fill the hub's login page the browser is on (it may have been redirected there)."""
    page.wait_for_selector("#username_input")
    page.fill("#username_input", name)
    page.fill("#password_input", USER_PASSWORD)
    page.click("#login_submit")


@pytest.fixture
def contexts(browser) -> Iterator:
    opened = []

    def new_page():
        ctx = browser.new_context(viewport={"width": 1200, "height": 800})
        pg = ctx.new_page()
        pg.requested = []
        pg.on("request", lambda req: pg.requested.append(req.url))
        opened.append(ctx)
        return pg

    yield new_page
    remote = [u for ctx in opened for pg in ctx.pages for u in pg.requested if not is_local_url(u)]
    for ctx in opened:
        ctx.close()
    assert not remote, f"requests left localhost: {remote[:10]}"
