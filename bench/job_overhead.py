"""Job overhead: a no-op plugin through the coordinator vs a bare ``docker run --rm``.

Measures, for the ``pl-noop`` image, the time from submitting a ``ds`` job to observing
``finishedSuccessfully`` (the coordinator creates the instance row, schedules it, creates the
output folder, starts the container with its mounts and limits, sees it end, registers outputs,
publishes events), against ``docker run --rm --network none`` of the same image and command with
the same mounts. Median of ``--runs`` (>= 10).

The "submit and observe" part is one object (:class:`CoordinatorDriver`): swap it for one that
goes through the REST API and the event stream to measure the whole stack.

    python bench/job_overhead.py [--runs 15]

Last line: ``job_overhead: <median> s (ratio <x> vs docker run)``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chris_jupyter.compute import states as st  # noqa: E402
from chris_jupyter.compute.coordinator import Coordinator  # noqa: E402
from chris_jupyter.compute.runners.docker import DockerRunner  # noqa: E402
from chris_jupyter.db import Database  # noqa: E402
from chris_jupyter.db.models.library import User  # noqa: E402
from chris_jupyter.library import paths  # noqa: E402
from chris_jupyter.plugins.registry import PluginRegistry  # noqa: E402

DOCKER = "/usr/bin/docker"
USER = "bench"


def build(name: str, tag: str) -> str:
    subprocess.run(["bash", str(REPO / "spawners/images/build-image.sh"),
                    str(REPO / "spawners/plugins" / name), tag], check=True, stdout=subprocess.DEVNULL)
    return tag


class CoordinatorDriver:
    """Submit jobs and observe their end, in-process (the part a REST driver would replace)."""

    def __init__(self, coordinator: Coordinator, owner: str) -> None:
        self.c = coordinator
        self.owner = owner

    def submit(self, plugin: str, params: dict, previous_id: int | None) -> int:
        return self.c.run_plugin(self.owner, plugin, params, previous_id)

    def wait(self, instance_id: int, timeout: float = 300) -> str:
        return self.c.wait_for(instance_id, timeout=timeout)


class Setup:
    """A throw-away backend: SQLite DB, data root, Docker runner, pl-noop and pl-dircopy."""

    def __init__(self, workdir: Path, max_parallel: int = 8) -> None:
        import docker

        self.noop = build("pl-noop", "chris-jupyter/pl-noop:1.0.0")
        self.dircopy = build("pl-dircopy", "chris-jupyter/pl-dircopy:2.1.2")
        self.data_root = workdir / "data"
        (self.data_root / "home" / USER / "uploads").mkdir(parents=True)
        (self.data_root / "home" / USER / "uploads" / "in.txt").write_text("x")
        self.db = Database(f"sqlite:///{workdir / 'bench.sqlite3'}")
        self.db.create_all()
        with self.db.session() as s:
            s.add(User(username=USER))
        self.client = docker.from_env(max_pool_size=64)
        reg = PluginRegistry(self.db)
        reg.register_image(self.noop, client=self.client)
        reg.register_image(self.dircopy, client=self.client)
        self.coordinator = Coordinator(
            self.db, self.data_root, DockerRunner(self.client),
            publish=lambda kind, payload: None,
            register_outputs=lambda path, owner: 0,
            can_read=lambda user, path: paths.owner_of(path) == user,
            max_parallel=max_parallel,
        )
        self.coordinator.start()
        self.driver = CoordinatorDriver(self.coordinator, USER)
        root = self.driver.submit("pl-dircopy", {"dir": f"home/{USER}/uploads"}, None)
        if self.driver.wait(root) != st.SUCCESS:
            raise SystemExit(f"feed root failed: {self.coordinator.get(root).error}")
        self.root = root
        self.root_out = self.data_root / self.coordinator.get(root).output_path

    def docker_run_argv(self, out: Path) -> list[str]:
        """The bare equivalent of one job: same image, command, mounts, user, no network."""
        return [DOCKER, "run", "--rm", "--network", "none", "--user", "1000:1000",
                "-v", f"{self.root_out}:/share/incoming:ro", "-v", f"{out}:/share/outgoing:rw",
                self.noop, "noop", "/share/incoming", "/share/outgoing"]

    def bare_run(self, workdir: Path, i: int) -> float:
        out = workdir / f"bare_{i}"
        out.mkdir()
        import os

        os.chown(out, 1000, 1000)
        t0 = time.perf_counter()
        subprocess.run(self.docker_run_argv(out), check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.coordinator.stop()
        self.client.close()
        self.db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    runs = max(10, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s = Setup(work)
        try:
            s.bare_run(work, -1)  # warm the engine's caches for both
            s.driver.wait(s.driver.submit("pl-noop", {}, s.root))
            ours, bare = [], []
            for i in range(runs):
                t0 = time.perf_counter()
                iid = s.driver.submit("pl-noop", {}, s.root)
                state = s.driver.wait(iid)
                ours.append(time.perf_counter() - t0)
                if state != st.SUCCESS:
                    raise SystemExit(f"job {iid} ended {state}: {s.coordinator.get(iid).error}")
                bare.append(s.bare_run(work, i))
                print(f"run {i + 1:2d}: coordinator {ours[-1]:.3f} s   docker run {bare[-1]:.3f} s")
        finally:
            s.close()
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"docker run --rm median: {m_bare:.3f} s over {runs} runs")
    print(f"job_overhead: {m_ours:.3f} s (ratio {m_ours / m_bare:.2f} vs docker run)")


if __name__ == "__main__":
    main()
