"""bench/chris_api: the CUBE-compatible API (``api/v1/``) against the native one, same run.

aiochris 0.10 (the real client, from ``.chris-test/cube-clients/aiochris``, made by
``scripts/install-deps --test``) lists a folder of 1,000 files (``uploadedfiles/search/``, pages
of 500) and uploads 100 small files one after the other (multipart ``uploadedfiles/``); our own
client does the same calls on the native API (``GET files`` pages of 500, ``PUT files/content``)
against the same server, alternating which side goes first. The figure is aiochris's time for
both (median of the runs); the ratio is against the native client's. Goal: <= 1.2x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chris_jupyter import Client
from chris_jupyter.testing import ChrisServer

REPO = Path(__file__).resolve().parents[1]
CLIENTS = Path(os.environ.get("CHRIS_TEST_DIR", REPO / ".chris-test")) / "cube-clients"


def native(c: Client, user: str, local: Path, run: int) -> dict:
    s = time.perf_counter()
    listed = sum(1 for _ in c.walk_folder(f"home/{user}/uploads/list"))
    took = time.perf_counter() - s
    s = time.perf_counter()
    for f in sorted(local.iterdir()):
        c.upload(f, f"home/{user}/uploads/native-{run}/{f.name}", progress=False)
    return {"list": took, "upload": time.perf_counter() - s, "listed": listed}


def aiochris(py: Path, url: str, user: str, password: str, local: Path, run: int) -> dict:
    proc = subprocess.run([str(py), str(Path(__file__).parent / "_aiochris_calls.py"), url, user, password,
                           str(local), str(run)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"aiochris failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--uploads", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    py = CLIENTS / "aiochris" / "bin" / "python"
    if not py.exists():
        raise SystemExit(f"{py} is missing: run scripts/install-deps --test")
    root = Path(tempfile.mkdtemp(prefix="bench-chris-api-", dir=os.environ.get("BENCH_DIR")))
    (root / "srv").mkdir()
    local = root / "small"
    local.mkdir()
    for i in range(args.uploads):
        (local / f"f{i:03d}.txt").write_bytes(os.urandom(512))
    srv = ChrisServer(root / "srv", f"sqlite:///{root / 'srv' / 'chris.db'}").start()
    try:
        admin = Client(srv.url, srv.token)
        user, password = "bench", "bench-password-1"
        admin.create_user(user)
        admin.set_password(user, password)
        c = Client(srv.url, admin.create_token(user)["token"])
        for i in range(args.files):
            c.request("PUT", "files/content", params={"path": f"home/{user}/uploads/list/{i:04d}.dat"}, content=b"x")
        aio, nat = [], []
        for run in range(args.runs):
            for side in ("native", "aiochris") if run % 2 == 0 else ("aiochris", "native"):
                if side == "native":
                    nat.append(native(c, user, local, run))
                else:
                    aio.append(aiochris(py, srv.url + "api/v1/", user, password, local, run))
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)
    for who, runs in (("aiochris", aio), ("native", nat)):
        if any(r["listed"] != args.files for r in runs):
            raise SystemExit(f"{who} listed {[r['listed'] for r in runs]} of {args.files} files")
    med = statistics.median
    a_list, a_up = med(r["list"] for r in aio), med(r["upload"] for r in aio)
    n_list, n_up = med(r["list"] for r in nat), med(r["upload"] for r in nat)
    paired = med((a["list"] + a["upload"]) / (n["list"] + n["upload"]) for a, n in zip(aio, nat, strict=True))
    print(f"list {args.files} files: aiochris {a_list * 1000:.0f} ms, native {n_list * 1000:.0f} ms "
          f"(ratio {a_list / n_list:.2f})")
    print(f"upload {args.uploads} small files: aiochris {a_up:.2f} s ({a_up / args.uploads * 1000:.1f} ms each), "
          f"native {n_up:.2f} s (ratio {a_up / n_up:.2f})")
    total, base = med(r["list"] + r["upload"] for r in aio), med(r["list"] + r["upload"] for r in nat)
    print(f"{args.runs} runs, alternating; median of paired ratios {paired:.2f}")
    print(f"chris_api: {total:.2f} s (ratio {total / base:.2f} vs native)")


if __name__ == "__main__":
    sys.exit(main())
