"""bench/fanout: 20 ``ds`` jobs on one feed through the REST API vs 20 ``docker run`` back to back.

All 20 ``pl-noop`` jobs are POSTed at once after the feed's root; the time runs until the client
has observed every one final. Against: the same 20 containers run one after the other.

Last line: ``fanout: <seconds> s (ratio <x> vs docker run x20)``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _stack import Stack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s = Stack(work, max_parallel=8)
        try:
            s.wait(s.submit())  # warm up
            t0 = time.perf_counter()
            ids = [s.submit() for _ in range(args.jobs)]
            with ThreadPoolExecutor(8) as pool:
                states = list(pool.map(s.wait, ids))
            ours = time.perf_counter() - t0
            bad = [x for x in states if x != "finishedSuccessfully"]
            if bad:
                raise SystemExit(f"{len(bad)} jobs did not succeed: {bad[:3]}")
            t0 = time.perf_counter()
            for i in range(args.jobs):
                s.bare_run(work, i)
            bare = time.perf_counter() - t0
        finally:
            s.close()
    print(f"{args.jobs} jobs through the API: {ours:.2f} s; {args.jobs} docker runs back to back: {bare:.2f} s")
    print(f"fanout: {ours:.2f} s (ratio {ours / bare:.2f} vs docker run x{args.jobs})")


if __name__ == "__main__":
    main()
