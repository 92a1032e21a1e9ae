"""bench/remote: a ds job with 1 GiB in and 1 GiB out on a remote compute resource, end to end,
vs the same bytes sent and fetched by plain ``curl`` streaming plus a bare ``docker run``.

``chris-jupyter compute serve`` runs in a network namespace joined to this one by a veth pair
(tests/compute/clusters.netns), with a data folder of its own: every byte crosses the link.

- ours: the backend's ``remote`` runner: ``submit`` (PUSH + EXEC) then ``wait`` (long-poll, then
  PULL into the output folder, every entry checked) — what the coordinator does per job — for a
  job that copies its input to its output (``cp -rT``, the pl-dircopy image), in the
  ``tar`` format (``--format zip`` for pfcon's);
- anchor: ``tar -c | curl -T -`` to a bare HTTP endpoint in the namespace that pipes into
  ``tar -x`` (bench/_tar_sink.py), the same ``docker run`` there (no network, uid 1000, input
  read-only), and ``curl | tar -x`` of its output back here.

Clocks start after a ``sync`` (the previous run's writes on disk, so that neither side pays for
the other's writeback) and stop when the outputs are on this side; removal is outside both. Median of ``--runs``
per side, alternating; the last line: ``remote: <s> s (ratio <x> vs curl + docker run)``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _pairs import alternate, medians  # noqa: E402

from chris_jupyter.compute.runners.base import JobSpec  # noqa: E402
from chris_jupyter.compute.runners.docker import INCOMING, OUTGOING  # noqa: E402
from chris_jupyter.compute.runners.remote import RemoteRunner  # noqa: E402
from tests.compute.clusters import netns  # noqa: E402

PASSWORD = "bench-only-password"
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def dircopy_image() -> str:
    out = subprocess.run([DOCKER, "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                         text=True, check=True).stdout.split()
    tags = sorted(t for t in out if "/pl-dircopy:" in t)
    if not tags:
        raise SystemExit("no pl-dircopy image here: run the compute tests once (they build it)")
    return tags[0]


@contextlib.contextmanager
def in_ns(ns: str, argv: list[str], url: str, log: Path) -> Iterator[None]:
    """A process in the namespace, up once ``url`` answers."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "CHRIS_COMPUTE_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)},
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{argv[:4]} did not come up:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)


def make_input(src: Path, mib: int) -> None:
    src.mkdir()
    part = 64
    for i in range(max(1, mib // part)):
        (src / f"part{i:03d}.bin").write_bytes(os.urandom(part << 20))


def ours(runner: RemoteRunner, image: str, src: Path, work: Path, i: int) -> float:
    out = work / f"ours-out-{i}"
    job = f"cj-bench-remote-{i}-{os.getpid()}"
    runner.prepare_output(out)
    place = runner.place(job, inputs=[("src", src)], single_input=True, output=out, paths={})
    spec = JobSpec(job, ["cp", "-rT", INCOMING, OUTGOING], out, image=image, mounts=place.mounts)
    os.sync()  # the previous run's dirty pages written out first: neither side pays the other's writeback
    t0 = time.perf_counter()
    runner.submit(spec)
    st = runner.wait(job)
    dt = time.perf_counter() - t0
    if st.exit_code != 0:
        raise SystemExit(f"the remote job ended {st}:\n{runner.logs(job)}")
    runner.cleanup(job)
    check(src, out)
    shutil.rmtree(out)
    return dt


def bare(url: str, anchor: Path, image: str, src: Path, work: Path, i: int) -> float:
    job = f"bare-{i}"
    out = work / f"bare-out-{i}"
    out.mkdir()
    os.sync()
    t0 = time.perf_counter()
    tar = subprocess.Popen(["tar", "-c", "-C", str(src), "."], stdout=subprocess.PIPE)
    subprocess.run(["curl", "-sSf", "-T", "-", f"{url}{job}"], stdin=tar.stdout, check=True)
    tar.wait()
    theirs_out = anchor / job / "outgoing"
    theirs_out.mkdir(parents=True)
    os.chown(theirs_out, 1000, 1000)
    subprocess.run([DOCKER, "run", "--rm", "--network", "none", "--user", "1000:1000",
                    "--mount", f"type=bind,source={anchor / job / 'incoming'},target={INCOMING},readonly",
                    "--mount", f"type=bind,source={theirs_out},target={OUTGOING}",
                    "--entrypoint", "cp", image, "-rT", INCOMING, OUTGOING], check=True)
    curl = subprocess.Popen(["curl", "-sSf", f"{url}{job}"], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(out)], stdin=curl.stdout, check=True)
    curl.wait()
    dt = time.perf_counter() - t0
    check(src, out)
    shutil.rmtree(out)
    shutil.rmtree(anchor / job)
    return dt


def check(src: Path, out: Path) -> None:
    a = sorted((p.name, p.stat().st_size) for p in src.iterdir())
    b = sorted((p.name, p.stat().st_size) for p in out.iterdir())
    if a != b:
        raise SystemExit(f"the outputs differ from the inputs: {b[:3]} vs {a[:3]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mib", type=int, default=1024, help="input size (the output is as large)")
    ap.add_argument("--format", choices=["tar", "zip"], default="tar")
    args = ap.parse_args()
    image = dircopy_image()
    with tempfile.TemporaryDirectory(dir=REPO / ".chris-test" if (REPO / ".chris-test").is_dir() else None) as tmp, \
            netns() as (ns, _, ns_ip):
        work = Path(tmp)
        src = work / "src"
        make_input(src, args.mib)
        anchor = work / "anchor"
        anchor.mkdir()
        api = f"http://{ns_ip}:5005/api/v1/"
        sink = f"http://{ns_ip}:6000/"
        with in_ns(ns, [sys.executable, "-m", "chris_jupyter.cli", "compute", "serve", "--ip", ns_ip,
                        "--port", "5005", "--data-dir", str(work / "served")], api + "health/", work / "serve.log"), \
                in_ns(ns, [sys.executable, str(REPO / "bench/_tar_sink.py"), ns_ip, "6000", str(anchor)],
                      sink, work / "sink.log"):
            runner = RemoteRunner(url=api, password=PASSWORD, data_format=args.format,
                                  state_dir=str(work / "runner"), resource_name="bench")
            a, b = alternate(lambda i: ours(runner, image, src, work, i),
                             lambda i: bare(sink, anchor, image, src, work, i), max(1, args.runs),
                             lambda i, x, y: f"run {i + 1}: remote runner {x:.2f} s   curl + docker run {y:.2f} s")
            runner.close()
    m, n, paired = medians(a, b)
    print(f"{args.mib} MiB in and out, {args.format}; paired ratio {paired:.2f}")
    print(f"remote: {m:.2f} s (ratio {m / n:.2f} vs curl + docker run)")


if __name__ == "__main__":
    main()
