"""The whole stack for compute benchmarks: a real server (Docker runner), the reference plugin
images registered through REST, and a feed to hang ``ds`` jobs on. Shared by job_overhead and fanout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chris_jupyter import Client  # noqa: E402
from chris_jupyter.testing import ChrisServer  # noqa: E402

DOCKER = "/usr/bin/docker"


def build(name: str, tag: str) -> str:
    subprocess.run(["bash", str(REPO / "images/build-image.sh"), str(REPO / "plugins" / name),
                    tag], check=True, stdout=subprocess.DEVNULL)
    return tag


class Stack:
    def __init__(self, workdir: Path, max_parallel: int = 8) -> None:
        self._bare: list[str] = []
        self.noop = build("pl-noop", "chris-jupyter/pl-noop:1.0.0")
        dircopy = build("pl-dircopy", "chris-jupyter/pl-dircopy:2.1.2")
        self.server = ChrisServer(workdir, f"sqlite:///{workdir / 'chris.db'}",
                                  ["--ChrisApp.runner=docker", f"--ChrisApp.max_parallel_jobs={max_parallel}"])
        self.server.start()
        self.c = Client(self.server.url, self.server.token, timeout=600)
        for tag in (self.noop, dircopy):
            self.c.register_plugin(image=tag)
        me = self.c.me()["username"]
        self.c.request("PUT", "files/content", params={"path": f"home/{me}/uploads/in/in.txt"}, content=b"x")
        root = self.c.run("pl-dircopy", {"dir": f"home/{me}/uploads/in"})
        done = self.c.wait(root["id"])
        if done["state"] != "finishedSuccessfully":
            raise SystemExit(f"feed root failed: {done['error']}")
        self.root = root["id"]
        self.root_out = self.server.data_dir / "library" / done["output_path"]

    def submit(self) -> int:
        """POST one pl-noop job after the root (what a client does)."""
        return self.c.run("pl-noop", {}, previous_id=self.root)["id"]

    def wait(self, instance_id: int) -> str:
        """Observe the job's end as a client: the server answers the moment it is final."""
        return self.c.wait(instance_id, timeout=600)["state"]

    def bare_run(self, workdir: Path, i: int) -> float:
        """The bare equivalent of one job: same image, command, mounts, user, no network.

        The clock stops when ``docker run`` returns: the container has exited and its outcome is
        known, the point where the server reports a job final. Like the server, which removes a
        job's container after it reported the end, the container is removed after the clock
        (:meth:`remove_bare`), so neither side's figure includes removal.
        """
        out = workdir / f"bare_{i}"
        out.mkdir()
        os.chown(out, 1000, 1000)
        name = f"chris-bench-{uuid.uuid4().hex[:12]}"
        argv = [DOCKER, "run", "--name", name, "--network", "none", "--user", "1000:1000",
                "-v", f"{self.root_out}:/share/incoming:ro", "-v", f"{out}:/share/outgoing:rw",
                self.noop, "noop", "/share/incoming", "/share/outgoing"]
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        self._bare.append(name)
        return dt

    def remove_bare(self) -> None:
        """Remove the bare containers run so far (outside any clock)."""
        if self._bare:
            subprocess.run([DOCKER, "rm", "-f", *self._bare], check=False, stdout=subprocess.DEVNULL)
            self._bare.clear()

    def close(self) -> None:
        self.remove_bare()
        self.c.close()
        self.server.stop()
