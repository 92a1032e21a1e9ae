"""Benchmark: DICOM ingest (header index) rate vs Orthanc and vs raw pydicom header reads.

Usage::

    .venv/bin/python bench/ingest.py [--instances 2000] [--rows 512] [--repeats 3]
                                     [--db-url postgresql+psycopg://...] [--workers 1]

Generates ``--instances`` CT slices (series of 200, 512x512 int16, random file names), then,
``--repeats`` times each, measures:

* **pydicom**: ``pydicom.dcmread(stop_before_pixels=True)`` of every file, serially — the raw
  cost of reading the headers;
* **orthanc**: a fresh Orthanc (temp config, free loopback ports, ``TCP_NODELAY=1``) receiving
  the files from dcmtk ``storescu`` over one association, clock stopped when ``storescu``
  exits (every C-STORE answered, so every instance is stored and indexed by Orthanc);
* **ingest**: :func:`chris_jupyter.dicom.index.index_files` of the same files into a fresh,
  empty index (SQLite file by default, or ``--db-url``), i.e. header read + DB write.

Files are read once first so that every contender sees a warm page cache. The medians are
printed; the last line is ``ingest: <value> instances/s (ratio <x> vs orthanc)``.
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

import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chris_jupyter.db import Database  # noqa: E402
from chris_jupyter.dicom import index, synth  # noqa: E402
from tests.fixtures.orthanc import OrthancServer, nodelay_env  # noqa: E402


def generate(root: Path, n: int, rows: int) -> list[Path]:
    paths: list[Path] = []
    series = 0
    while len(paths) < n:
        k = min(200, n - len(paths))
        info = synth.write_ct_series(root / f"s{series:03d}", n_slices=k, rows=rows, cols=rows,
                                     patient_id=f"BENCH{series % 7:03d}", series_number=series + 1)
        paths += info.paths
        series += 1
    return paths


def bench_pydicom(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        pydicom.dcmread(p, stop_before_pixels=True)
    return len(paths) / (time.perf_counter() - t0)


def bench_orthanc(data_dir: Path, n: int, work: Path) -> float:
    server = OrthancServer(work / f"orthanc-{uuid.uuid4().hex[:8]}").start()
    try:
        cmd = ["storescu", "-aet", "BENCH", "-aec", server.aet, "--scan-directories", "--recurse",
               "-xs", server.host, str(server.dicom_port), str(data_dir)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=nodelay_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        rate = n / (time.perf_counter() - t0)
        import httpx

        stats = httpx.get(server.http_url + "/statistics", timeout=30).json()
        if int(stats["CountInstances"]) != n:
            raise RuntimeError(f"Orthanc stored {stats['CountInstances']} of {n} instances")
        return rate
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def bench_ingest(paths: list[Path], root: Path, db_url: str | None, work: Path, workers: int | None) -> float:
    if db_url is None:
        url = f"sqlite:///{work / ('idx-' + uuid.uuid4().hex[:8] + '.db')}"
        db = Database(url)
    else:
        db = Database(db_url)
    db.create_all()
    items = [(f"SERVICES/PACS/BENCH/{p.relative_to(root)}", p) for p in paths]
    try:
        t0 = time.perf_counter()
        report = index.index_files(db, items, pacs="BENCH", workers=workers)
        rate = len(paths) / (time.perf_counter() - t0)
        if report.indexed != len(paths):
            raise RuntimeError(f"indexed {report.indexed} of {len(paths)}: {report.to_dict()}")
        return rate
    finally:
        if db_url is not None:  # leave the shared database empty for the next run
            index.remove_paths(db, ["SERVICES/PACS/BENCH"])
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--db-url", default=None, help="index into this (empty) DB instead of a temp SQLite")
    ap.add_argument("--workers", type=int, default=None, help="header-reading threads (default: index_files')")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chris-bench-ingest-"))
    try:
        data = work / "data"
        t0 = time.perf_counter()
        paths = generate(data, args.instances, args.rows)
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"generated {len(paths)} instances ({size:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        for p in paths:  # warm the page cache for everybody
            p.read_bytes()
        rates: dict[str, list[float]] = {"pydicom": [], "orthanc": [], "ingest": []}
        for r in range(args.repeats):
            rates["pydicom"].append(bench_pydicom(paths))
            rates["ingest"].append(bench_ingest(paths, data, args.db_url, work, args.workers))
            rates["orthanc"].append(bench_orthanc(data, len(paths), work))
            print(f"run {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()))
        med = {k: statistics.median(v) for k, v in rates.items()}
        db = args.db_url.split("://")[0] if args.db_url else "sqlite"
        print(f"pydicom dcmread(stop_before_pixels): {med['pydicom']:.0f} instances/s (median)")
        print(f"orthanc storescu C-STORE: {med['orthanc']:.0f} instances/s (median)")
        print(f"index_files ({db}): {med['ingest']:.0f} instances/s (median)")
        print(f"ingest vs pydicom header read: ratio {med['ingest'] / med['pydicom']:.2f}")
        print(f"ingest: {med['ingest']:.0f} instances/s (ratio {med['ingest'] / med['orthanc']:.2f} vs orthanc)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
