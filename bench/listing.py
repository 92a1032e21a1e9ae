"""bench/listing: one folder of 300,000 indexed files; a page of 100 with its total count.

Measures GET /files?path=…&limit=100&offset=… through the REST API of a real server (p50/p95
over random offsets) beside ``os.scandir`` of the same folder on disk (the anchor: what any
directory listing must at least do). Goal: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.testing import ChrisServer


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=300_000)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--db-url", default=None)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    try:
        return run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # 300,000 files and their index


def run(args: argparse.Namespace, root: Path) -> None:
    folder = "home/owner/uploads/big"
    b = Backend(Settings(data_root=root / "data", db_url=args.db_url))
    b.users.ensure_user("owner", is_admin=True)
    disk = b.store.makedirs(folder)
    t0 = time.perf_counter()
    names = [f"IM{i:07d}.dcm" for i in range(args.files)]
    for n in names:
        fd = os.open(disk / n, os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
    t1 = time.perf_counter()
    b.library.register_files([f"{folder}/{n}" for n in names], sizes=dict.fromkeys(
        (f"{folder}/{n}" for n in names), 0))
    t2 = time.perf_counter()
    b.close()
    print(f"created {args.files} files in {t1 - t0:.1f} s, indexed them in {t2 - t1:.1f} s", flush=True)

    srv = ChrisServer(root, args.db_url or f"sqlite:///{root / 'data' / 'chris.db'}")
    srv.start()
    try:
        with httpx.Client(base_url=srv.api, headers=srv.headers, timeout=60) as c:
            for _ in range(5):  # warm up
                c.get("files", params={"path": folder, "limit": 100}).raise_for_status()
            ours = []
            rnd = random.Random(1)
            for _ in range(args.pages):
                off = rnd.randrange(0, args.files - 100)
                s = time.perf_counter()
                r = c.get("files", params={"path": folder, "limit": 100, "offset": off})
                ours.append(time.perf_counter() - s)
                body = r.json()
                assert body["total"] == args.files and len(body["items"]) == 100, body.get("message")
        scans = []
        for _ in range(7):
            s = time.perf_counter()
            with os.scandir(disk) as it:
                n = sum(1 for _ in it)
            scans.append(time.perf_counter() - s)
            assert n == args.files
    finally:
        srv.stop()
    ms = [x * 1000 for x in ours]
    scan_ms = statistics.median(scans) * 1000
    print(f"page of 100 with total: p50 {statistics.median(ms):.1f} ms, p95 {p95(ms):.1f} ms "
          f"({args.pages} pages, random offsets)")
    print(f"os.scandir of the folder: median {scan_ms:.1f} ms")
    print(f"listing: {p95(ms):.1f} ms p95 (ratio {p95(ms) / scan_ms:.2f} vs os.scandir)")


if __name__ == "__main__":
    sys.exit(main())
