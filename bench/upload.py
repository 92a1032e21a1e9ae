"""bench/upload: a 2 GB file uploaded through the REST API vs ``cp`` on the same disk.

The upload uses ``curl -T`` (a streaming PUT) so that the client is not the bottleneck; the
server's peak RSS comes from its /proc status (VmHWM). Goals: throughput >= 0.7x cp, peak RSS
< 200 MB.

Two more figures explain the ratio, measured in the same run: ``cat src > dst`` (a copy through
user space, as any network upload must be), and ``curl -T`` into a sink that reads and discards
(the fastest any HTTP upload can be on this machine). ``cp`` copies inside the kernel
(copy_file_range), which no upload over a socket can match.
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


def null_sink_seconds(src: Path) -> float:
    """curl -T into a minimal HTTP endpoint that discards the body."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        buf = memoryview(bytearray(4 << 20))
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        length = next(int(v) for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                      if k.strip().lower() == b"content-length")
        left = length - len(rest)
        while left > 0 and (k := conn.recv_into(buf, min(len(buf), left))):
            left -= k
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    s = time.perf_counter()
    subprocess.run(["curl", "-sS", "-T", str(src), f"http://127.0.0.1:{srv.getsockname()[1]}/", "-o", "/dev/null"],
                   check=True)
    took = time.perf_counter() - s
    t.join(10)
    srv.close()
    return took


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
        ours, cps, cats, sinks = [], [], [], []
        for i in range(args.runs):
            dst = root / f"cat-{i}.bin"
            s = time.perf_counter()
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                subprocess.run(["cat"], stdin=fin, stdout=fout, check=True)
            cats.append(time.perf_counter() - s)
            drop(dst)
            sinks.append(null_sink_seconds(src))
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
    print(f"cat (copy through user space): {mb / statistics.median(cats):.0f} MB/s; "
          f"curl -T into a discarding HTTP sink: {mb / statistics.median(sinks):.0f} MB/s")
    print(f"ratios: {ours_mbs / (mb / statistics.median(cats)):.2f} vs cat, "
          f"{ours_mbs / (mb / statistics.median(sinks)):.2f} vs the HTTP sink")
    print(f"server peak RSS: {rss:.0f} MB")
    print(f"upload: {ours_mbs:.0f} MB/s (ratio {ours_mbs / cp_mbs:.2f} vs cp)")


if __name__ == "__main__":
    sys.exit(main())
