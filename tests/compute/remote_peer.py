"""A remote compute resource for the tests: ``chris-jupyter compute serve`` in a network namespace
(tests/compute/clusters.netns) with a data folder of its own. The fixtures are in conftest.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chris_jupyter.compute.served import LABEL

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-for-tests"


class Served:
    """One ``compute serve`` process in the namespace."""

    def __init__(self, ns: str, ip: str, port: int, data: Path, log: Path) -> None:
        self.url, self.data, self.log = f"http://{ip}:{port}/api/v1/", data, log
        env = {**os.environ, "CHRIS_COMPUTE_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "chris_jupyter.cli", "compute", "serve",
                 "--ip", ip, "--port", str(port), "--data-dir", str(data)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "health/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"compute serve did not come up:\n{log.read_text()}", pytrace=False)
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(10)


def remove_served_containers(dclient, data: Path) -> None:
    """The job containers a ``compute serve`` with data folder ``data`` left on the engine: removed."""
    for c in dclient.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        mounts = " ".join(m.get("Source", "") for m in c.attrs.get("Mounts", []))
        if str(data) in mounts:
            c.remove(force=True)
