"""bench/swarm_slurm: a no-op job through the Swarm and SLURM runners vs the bare engine commands.

On a one-node swarm and a one-node SLURM cluster started here (tests/compute/clusters.py), the
same no-op container (``true`` in the pl-noop image, no network, uid 1000, the output folder
bind-mounted):

- ours: ``runner.submit`` then ``runner.wait`` until the runner reports the exit (what the
  coordinator does for every job; the REST layer on top is measured by bench/job_overhead);
- anchor: the bare engine: a ``docker service create`` (SDK, restart none, same network) and a
  wait on its task; ``sbatch --wrap 'docker run --rm --network none …'`` and a wait in
  ``squeue``, at the runner's own poll interval.

Clocks stop when the job's end is known; removal (service rm, job files) is outside both.
Median of ``--runs`` (>= 5) per side, alternating. Per runner a line; the last line adds both
runners and both anchors: ``swarm_slurm: <s> s (ratio <x> vs bare engine)``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _pairs import alternate, medians  # noqa: E402

from chris_jupyter.compute.runners.base import JobSpec  # noqa: E402
from chris_jupyter.compute.runners.slurm import SlurmRunner  # noqa: E402
from chris_jupyter.compute.runners.swarm import SwarmRunner  # noqa: E402
from tests.compute.clusters import slurm, swarm  # noqa: E402


def noop_image() -> str:
    import docker

    tags = [t for i in docker.from_env().images.list() for t in i.tags if "/pl-noop:" in t]
    if not tags:
        raise SystemExit("no pl-noop image here: run the compute tests once (they build it)")
    return sorted(tags)[0]


def ours(runner, image: str, work: Path, i: int) -> float:
    out = work / f"out-{runner.name}-{i}"
    runner.prepare_output(out)
    place = runner.place(f"cj-bench-{runner.name}-{i}", inputs=[], single_input=True, output=out, paths={})
    spec = JobSpec(f"cj-bench-{runner.name}-{i}", ["true"], out, image=image, mounts=place.mounts)
    t0 = time.perf_counter()
    runner.submit(spec)
    st = runner.wait(spec.job_id, 300)
    dt = time.perf_counter() - t0
    if st.exit_code != 0:
        raise SystemExit(f"{runner.name}: the no-op job ended {st}")
    runner.cleanup(spec.job_id)
    return dt


def bare_swarm(client, image: str, network: str, work: Path, i: int, poll: float) -> float:
    import docker

    out = work / f"bare-swarm-{i}"
    out.mkdir()
    os.chown(out, 1000, 1000)
    name = f"bare-bench-{i}"
    t0 = time.perf_counter()
    svc = client.services.create(
        image, command=["true"], name=name, user="1000:1000", networks=[network],
        restart_policy=docker.types.RestartPolicy(condition="none"),
        mounts=[docker.types.Mount("/share/outgoing", str(out), type="bind")])
    while True:
        tasks = client.api.tasks(filters={"service": name})
        if tasks and tasks[0]["Status"]["State"] in ("complete", "failed", "rejected", "shutdown"):
            break
        time.sleep(poll)
    dt = time.perf_counter() - t0
    svc.remove()
    return dt


def bare_slurm(conf: Path, image: str, work: Path, i: int, poll: float) -> float:
    env = {**os.environ, "SLURM_CONF": str(conf)}
    out = work / f"bare-slurm-{i}"
    out.mkdir()
    os.chown(out, 1000, 1000)
    name = f"bare-bench-{i}"
    wrap = (f"docker run --rm --network none --user 1000:1000 --mount type=bind,source={out},"
            f"target=/share/outgoing --entrypoint true {image}")
    t0 = time.perf_counter()
    subprocess.run(["sbatch", "--parsable", f"--job-name={name}", f"--output={work}/{name}.out",
                    "--wrap", wrap], env=env, check=True, capture_output=True)
    while True:
        jobs = json.loads(subprocess.run(["squeue", "--json", "-t", "all", f"--name={name}"], env=env,
                                         capture_output=True, text=True).stdout)["jobs"]
        jobs = [j for j in jobs if j.get("name") == name]  # squeue --json may list every job
        if jobs and jobs[0]["job_state"] not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
            break
        time.sleep(poll)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", choices=["swarm", "slurm"], help="measure one runner only")
    args = ap.parse_args()
    runs = max(5, args.runs)
    image = noop_image()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, swarm(), slurm(Path(tmp) / "slurm") as conf:
        work = Path(tmp)
        sw = SwarmRunner(state_dir=str(work / "swarm"))
        sl = SlurmRunner(slurm_conf=str(conf), job_dir=str(work / "slurm-jobs"))
        sides = {
            "swarm": (lambda i: ours(sw, image, work, i),
                      lambda i: bare_swarm(sw.client, image, sw.network, work, i, sw.poll_interval)),
            "slurm": (lambda i: ours(sl, image, work, i),
                      lambda i: bare_slurm(conf, image, work, i, sl.poll_interval)),
        }
        for name, (mine, bare) in sides.items():
            if args.only and name != args.only:
                continue
            mine(-1)
            bare(-1)  # warm both
            a, b = alternate(mine, bare, runs,
                             lambda i, x, y, n=name: f"{n} run {i + 1}: runner {x:.3f} s   bare {y:.3f} s")
            mine_m, bare_m, paired = medians(a, b)
            results[name] = (mine_m, bare_m)
            print(f"{name}: {results[name][0]:.3f} s (ratio {results[name][0] / results[name][1]:.2f} vs bare "
                  f"engine; paired {paired:.2f})", flush=True)
        sw.close()
    total, bare_total = sum(r[0] for r in results.values()), sum(r[1] for r in results.values())
    print(f"swarm_slurm: {total:.3f} s (ratio {total / bare_total:.2f} vs bare engine)")


if __name__ == "__main__":
    main()
