"""Start a real ``jupyter server`` process with the extension: for tests, benchmarks and demos.

Out of process on purpose: callers see exactly what a client sees, and can kill and restart
the server (reconciliation tests).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .utils.net import free_port

__all__ = ["ChrisServer", "free_port"]


@dataclass
class ChrisServer:
    root: Path
    db_url: str
    extra_args: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)  # written as jupyter_server_config.json
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api(self) -> str:
        return self.url + "chris/api/v1/"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def start(self, timeout: float = 60) -> ChrisServer:
        env = dict(os.environ)
        for name in ("config", "data", "runtime"):
            (self.root / f"jupyter-{name}").mkdir(parents=True, exist_ok=True)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.root / "jupyter-config"),
            JUPYTER_DATA_DIR=str(self.root / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(self.root / "jupyter-runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        (self.root / "notebooks").mkdir(exist_ok=True)
        if self.config:
            import json

            (self.root / "jupyter-config" / "jupyter_server_config.json").write_text(json.dumps(self.config))
        cmd = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            f"--port={self.port}", "--ip=127.0.0.1", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root / 'notebooks'}",
            f"--ChrisApp.data_dir={self.data_dir}", f"--ChrisApp.db_url={self.db_url}",
            "--ChrisApp.embedded_user=owner", *self.extra_args,
        ]
        self.log = open(self.root / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited: {self.tail()}")
            try:
                r = httpx.get(self.api + "me", headers=self.headers, timeout=2)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"jupyter server did not answer in {timeout}s: {self.tail()}")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def tail(self, n: int = 4000) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, *, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
