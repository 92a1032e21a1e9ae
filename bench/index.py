"""Benchmark: header indexing of DICOM files already on disk, vs raw pydicom header reads.

Usage::

    .venv/bin/python bench/index.py [--instances 2000] [--rows 512] [--repeats 3]
                                    [--db-url postgresql+psycopg://...] [--workers N]

Generates ``--instances`` CT slices (series of 200, 512x512 int16, random file names), then,
``--repeats`` times each, alternating, measures the same files:

* **pydicom**: ``pydicom.dcmread(stop_before_pixels=True)`` of every file, serially — the raw
  cost of reading the headers, nothing kept;
* **index**: :func:`chris_jupyter.dicom.index.index_files` of the same files into a fresh,
  empty index (SQLite file by default, or ``--db-url``), i.e. header read + DB write (what the
  server does for files uploaded, produced by plugins or re-indexed).

Receiving over the network is measured by ``bench/ingest.py``. Files are read once first so
that both sides see a warm page cache. Medians and the median of the paired ratios are
printed; the last line is ``index: <value> instances/s (ratio <x> vs pydicom)``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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


def generate(root: Path, n: int, rows: int) -> list[Path]:
    """``n`` CT slices in series of 200 under ``root`` (shared with bench/ingest.py)."""
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


def bench_index(paths: list[Path], root: Path, db_url: str | None, work: Path, workers: int | None) -> float:
    db = Database(db_url or f"sqlite:///{work / ('idx-' + uuid.uuid4().hex[:8] + '.db')}")
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

    work = Path(tempfile.mkdtemp(prefix="chris-bench-index-"))
    try:
        data = work / "data"
        t0 = time.perf_counter()
        paths = generate(data, args.instances, args.rows)
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"generated {len(paths)} instances ({size:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        for p in paths:  # warm the page cache for both
            p.read_bytes()
        rates: dict[str, list[float]] = {"pydicom": [], "index": []}
        for r in range(args.repeats):
            order = ("pydicom", "index") if r % 2 == 0 else ("index", "pydicom")
            for name in order:
                if name == "pydicom":
                    rates[name].append(bench_pydicom(paths))
                else:
                    rates[name].append(bench_index(paths, data, args.db_url, work, args.workers))
            print(f"run {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()), flush=True)
        med = {k: statistics.median(v) for k, v in rates.items()}
        paired = statistics.median(a / b for a, b in zip(rates["index"], rates["pydicom"], strict=True))
        db = args.db_url.split("://")[0] if args.db_url else "sqlite"
        print(f"pydicom dcmread(stop_before_pixels): {med['pydicom']:.0f} instances/s (median)")
        print(f"index_files ({db}): {med['index']:.0f} instances/s (median); median of paired ratios {paired:.2f}")
        print(f"index: {med['index']:.0f} instances/s (ratio {med['index'] / med['pydicom']:.2f} vs pydicom)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
