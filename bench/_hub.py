"""A real JupyterHub for the hub benchmarks: the repository's ``jupyterhub_config.py`` on loopback
ports (SQLite, configurable-http-proxy, the ChRIS service), plus a ``bench`` service whose token may
create users and start and stop their servers. Shared by spawn and hub_api."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
IMAGE = os.environ.get("CHRIS_SINGLEUSER_IMAGE", "chris-jupyter/singleuser:latest")


class HostDockerSpawner(DockerSpawner):
    """Plain DockerSpawner on the host network, with the override its documentation gives for that
    (bind 127.0.0.1 on a port of its own; report that address): the baseline of bench/spawn."""

    async def start(self):  # type: ignore[no-untyped-def]
        self.ip, self.port = "127.0.0.1", random_port()
        return await super().start()

    async def get_ip_and_port(self):  # type: ignore[no-untyped-def]
        return "127.0.0.1", self.port


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_singleuser_image() -> str:
    subprocess.run(["bash", str(REPO / "spawners/singleuser/build.sh"), IMAGE], check=True, stdout=subprocess.DEVNULL)
    return IMAGE


class Hub:
    """``jupyterhub -f jupyterhub_config.py`` in ``state`` with the given spawner class."""

    def __init__(self, state: Path, spawner: str = "chris-docker", env: dict[str, str] | None = None) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.prefix = f"chris-bench-{secrets.token_hex(4)}"
        extra = state / "bench_config.py"
        extra.write_text(
            "c = get_config()  # noqa: F821\n"
            f"c.JupyterHub.services.append({{'name': 'bench', 'api_token': {self.token!r}}})\n"
            "c.JupyterHub.load_roles.append({'name': 'bench', 'services': ['bench'],"
            " 'scopes': ['admin:users', 'admin:servers', 'tokens']})\n"
            "c.Spawner.start_timeout = 600\n"
            "c.JupyterHub.concurrent_spawn_limit = 0\n"
        )
        full_env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), str(BENCH), os.environ.get("PYTHONPATH")])),
            "CHRIS_HUB_STATE_DIR": str(state),
            "CHRIS_HUB_PORT": str(self.port),
            "CHRIS_HUB_API_PORT": str(free_port()),
            "CHRIS_HUB_PROXY_API_PORT": str(free_port()),
            "CHRIS_SERVICE_PORT": str(free_port()),
            "CHRIS_HUB_PASSWORD": secrets.token_hex(8),
            "CHRIS_HUB_ADMINS": "admin",
            "CHRIS_DATA_ROOT": str(state / "chris-data"),
            "CHRIS_HUB_SPAWNER": spawner,
            "CHRIS_HUB_IMAGE": IMAGE,
            "CHRIS_HUB_HOMES": str(state / "homes"),
            "CHRIS_HUB_CONTAINER_PREFIX": self.prefix,
            "CHRIS_HUB_IDLE_TIMEOUT": "0",
            "CHRIS_HUB_EXTRA_CONFIG": str(extra),
            **(env or {}),
        }
        full_env.pop("CHRIS_DB_URL", None)  # SQLite in the data root
        self.log = state / "jupyterhub.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(REPO / "jupyterhub_config.py")],
                                         cwd=state, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.http = httpx.Client(base_url=self.url + "hub/api/", timeout=600,
                                 headers={"Authorization": f"token {self.token}"})
        self._wait(self.url + "services/chris/health")

    def _wait(self, url: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"jupyterhub exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"the hub did not come up:\n{self.log.read_text()[-3000:]}")

    def add_user(self, name: str) -> None:
        r = self.http.post(f"users/{name}")
        if r.status_code != 409:
            r.raise_for_status()

    def user_token(self, name: str, scopes: list[str] | None = None) -> str:
        body: dict = {"note": "bench"} if scopes is None else {"note": "bench", "scopes": scopes}
        r = self.http.post(f"users/{name}/tokens", json=body)
        r.raise_for_status()
        return r.json()["token"]

    def spawn(self, name: str) -> float:
        """Seconds from the spawn request until the hub reports the server ready."""
        t0 = time.perf_counter()
        r = self.http.post(f"users/{name}/server")
        if r.status_code == 202:  # pending: the progress stream ends when the server is ready
            with self.http.stream("GET", f"users/{name}/server/progress") as events:
                for line in events.iter_lines():
                    if line.startswith("data:"):
                        event = json.loads(line[5:])
                        if event.get("failed"):
                            raise SystemExit(f"spawn of {name} failed: {event.get('message')}")
                        if event.get("ready"):
                            break
        elif r.status_code != 201:
            raise SystemExit(f"spawn of {name}: {r.status_code} {r.text}")
        return time.perf_counter() - t0

    def stop_server(self, name: str) -> None:
        r = self.http.delete(f"users/{name}/server")
        if r.status_code not in (202, 204):
            raise SystemExit(f"stop of {name}: {r.status_code} {r.text}")
        while self.http.get(f"users/{name}").json().get("servers"):
            time.sleep(0.2)

    def close(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the hub stops the servers and services it started
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
