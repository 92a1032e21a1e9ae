"""bench/upload: a 2 GB file uploaded through the REST API vs ``cp`` on the same disk.

The upload uses ``curl -T`` (a streaming PUT) so that the client is not the bottleneck; the
server's peak RSS comes from its /proc status (VmHWM). Goals: throughput >= 0.7x cp, peak RSS
< 200 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chris_jupyter.testing import ChrisServer


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def drop(path: Path) -> None:
    path.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=os.environ.get("BENCH_DIR")))
    src = root / "src.bin"
    with open(src, "wb") as f:
        block = os.urandom(1024 * 1024)
        for _ in range(args.size_mb):
            f.write(block)
    size = src.stat().st_size
    srv = ChrisServer(root / "srv", f"sqlite:///{root / 'srv' / 'chris.db'}")
    (root / "srv").mkdir()
    srv.start()
    try:
        ours, cps = [], []
        for i in range(args.runs):
            dst = root / f"cp-{i}.bin"
            s = time.perf_counter()
            subprocess.run(["cp", str(src), str(dst)], check=True)
            cps.append(time.perf_counter() - s)
            drop(dst)
            url = srv.api + f"files/content?path=home/owner/uploads/big-{i}.bin"
            s = time.perf_counter()
            r = subprocess.run(["curl", "-sS", "-f", "-T", str(src), "-H", f"Authorization: token {srv.token}",
                                "-H", "Content-Type: application/octet-stream", url],
                               capture_output=True, text=True)
            ours.append(time.perf_counter() - s)
            if r.returncode != 0:
                raise SystemExit(f"upload failed: {r.stderr} {r.stdout}")
            drop(srv.data_dir / "library" / f"home/owner/uploads/big-{i}.bin")
        rss = peak_rss_mb(srv.proc.pid)
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)
    mb = size / 1e6
    ours_mbs = mb / statistics.median(ours)
    cp_mbs = mb / statistics.median(cps)
    print(f"upload {size / 2**30:.1f} GiB: median {statistics.median(ours):.2f} s = {ours_mbs:.0f} MB/s; "
          f"cp: median {statistics.median(cps):.2f} s = {cp_mbs:.0f} MB/s")
    print(f"server peak RSS: {rss:.0f} MB")
    print(f"upload: {ours_mbs:.0f} MB/s (ratio {ours_mbs / cp_mbs:.2f} vs cp)")


if __name__ == "__main__":
    sys.exit(main())
