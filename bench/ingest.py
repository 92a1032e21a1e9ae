"""Benchmark: receiving DICOM over C-STORE — our receiver plus the index vs Orthanc.

Usage::

    .venv/bin/python bench/ingest.py [--instances 2000] [--rows 512] [--repeats 3]

Generates ``--instances`` CT slices (series of 200, 512x512 int16: ~1 GB at the defaults), then,
``--repeats`` times each, alternating which goes first, sends the same files with the same dcmtk
command (``storescu --scan-directories --recurse -xs``, one association, ``TCP_NODELAY=1``) to:

* **orthanc**: a fresh Orthanc (temp config and storage); the clock stops when ``storescu``
  exits: Orthanc answers each C-STORE after it stored and indexed the instance. The instance
  count is checked over its REST API afterwards.
* **ours**: a fresh chris_jupyter server (``ChrisServer``, SQLite, ``dicom_receiver_port``
  set): its receiver writes each instance in the ChRIS layout under ``SERVICES/PACS/…`` before
  answering, and registers and indexes the received files in batches. The clock stops when the
  server's ``dicom.indexed`` events have counted every instance (listener connected before the
  clock starts), i.e. when the files are in the library and searchable — the work Orthanc has
  done when ``storescu`` exits. The time ``storescu`` alone took is printed too.

Header indexing of files already on disk is measured separately (``bench/index.py``). Files are
read once first so that both sides see a warm page cache. Medians and the median of the paired
ratios are printed; the last line is
``ingest: <value> instances/s (ratio <x> vs orthanc)``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _events import Listener  # noqa: E402
from index import generate  # noqa: E402

from chris_jupyter.testing import ChrisServer, free_port  # noqa: E402
from tests.fixtures.orthanc import OrthancServer, nodelay_env  # noqa: E402

OUR_AE = "CHRIS"


def storescu(aec: str, host: str, port: int, data_dir: Path) -> None:
    cmd = ["storescu", "-aet", "BENCH", "-aec", aec, "--scan-directories", "--recurse",
           "-xs", host, str(port), str(data_dir)]
    subprocess.run(cmd, check=True, env=nodelay_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def bench_orthanc(data_dir: Path, n: int, work: Path) -> float:
    server = OrthancServer(work / f"orthanc-{uuid.uuid4().hex[:8]}").start()
    try:
        t0 = time.perf_counter()
        storescu(server.aet, server.host, server.dicom_port, data_dir)
        rate = n / (time.perf_counter() - t0)
        stats = httpx.get(server.http_url + "/statistics", timeout=30).json()
        if int(stats["CountInstances"]) != n:
            raise RuntimeError(f"Orthanc stored {stats['CountInstances']} of {n} instances")
        return rate
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def bench_ours(data_dir: Path, n: int, work: Path) -> tuple[float, float]:
    """(instances/s until all are indexed, instances/s until storescu exited)."""
    root = work / f"chris-{uuid.uuid4().hex[:8]}"
    port = free_port()
    srv = ChrisServer(root, f"sqlite:///{root / 'chris.db'}",
                      config={"ChrisApp": {"dicom_ae_title": OUR_AE, "dicom_receiver_port": port}})
    srv.start()
    events = Listener(srv.url, srv.token, ["dicom.indexed"])
    try:
        events.ready("home/owner")
        indexed = 0
        t0 = time.perf_counter()
        storescu(OUR_AE, "127.0.0.1", port, data_dir)
        t_sent = time.perf_counter()
        t_done = t_sent
        while indexed < n:
            t_done, ev = events.next(lambda e: e["type"] == "dicom.indexed", timeout=300)
            indexed += int(ev["data"].get("indexed", 0)) + int(ev["data"].get("replaced", 0))
        if indexed != n:
            raise RuntimeError(f"indexed {indexed} of {n} instances")
        found = events.client.get("dicom/studies", limit=1)
        if not found.get("items"):
            raise RuntimeError("nothing searchable after indexing")
        return n / (max(t_done, t_sent) - t0), n / (t_sent - t0)
    finally:
        events.close()
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chris-bench-ingest-"))
    try:
        data = work / "data"
        t0 = time.perf_counter()
        paths = generate(data, args.instances, args.rows)
        n = len(paths)
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"generated {n} instances ({size:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        for p in paths:  # warm the page cache for both
            p.read_bytes()
        rates: dict[str, list[float]] = {"orthanc": [], "ours": [], "ours storescu exit": []}
        for r in range(args.repeats):
            for side in (("ours", "orthanc") if r % 2 == 0 else ("orthanc", "ours")):
                if side == "orthanc":
                    rates["orthanc"].append(bench_orthanc(data, n, work))
                else:
                    done, sent = bench_ours(data, n, work)
                    rates["ours"].append(done)
                    rates["ours storescu exit"].append(sent)
            print(f"run {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()), flush=True)
        med = {k: statistics.median(v) for k, v in rates.items()}
        paired = statistics.median(a / b for a, b in zip(rates["ours"], rates["orthanc"], strict=True))
        print(f"{size:.0f} MB, {n} instances, one storescu association each side")
        print(f"orthanc (stored and indexed at storescu exit): {med['orthanc']:.0f} instances/s (median)")
        print(f"ours, storescu exit (files written): {med['ours storescu exit']:.0f} instances/s (median)")
        print(f"ours, all registered and indexed: {med['ours']:.0f} instances/s (median); "
              f"median of paired ratios {paired:.2f}")
        print(f"ingest: {med['ours']:.0f} instances/s (ratio {med['ours'] / med['orthanc']:.2f} vs orthanc)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
