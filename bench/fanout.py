"""bench/fanout: 20 ``ds`` jobs on one feed through the REST API vs 20 ``docker run``, 8 at a time.

All 20 ``pl-noop`` jobs are POSTed at once after the feed's root to a server that runs at most 8
jobs at once (``max_parallel_jobs=8``); the time runs until the client has observed every one
final. Against: the same 20 containers (same image, command, user, mounts) run by 8 workers, each
starting the next ``docker run`` when its last one returned, so both sides have 8 jobs in flight.
(Before, the anchor ran the 20 one after the other.) Each clock stops when the last job's end is
known; containers are removed after the clock on both sides (``job_overhead``'s rule). ``--rounds``
rounds, alternating which side goes first; medians and the median of the paired ratios.

Last line: ``fanout: <seconds> s (ratio <x> vs docker run x20, 8 at a time)``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _stack import Stack

PARALLEL = 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ours: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s = Stack(work, max_parallel=PARALLEL)
        n_bare = 0

        def run_ours() -> float:
            t0 = time.perf_counter()
            ids = [s.submit() for _ in range(args.jobs)]
            with ThreadPoolExecutor(PARALLEL) as pool:
                states = list(pool.map(s.wait, ids))
            dt = time.perf_counter() - t0
            bad = [x for x in states if x != "finishedSuccessfully"]
            if bad:
                raise SystemExit(f"{len(bad)} jobs did not succeed: {bad[:3]}")
            return dt

        def run_bare() -> float:
            nonlocal n_bare
            first = n_bare
            n_bare += args.jobs
            t0 = time.perf_counter()
            with ThreadPoolExecutor(PARALLEL) as pool:
                list(pool.map(lambda i: s.bare_run(work, i), range(first, first + args.jobs)))
            dt = time.perf_counter() - t0
            s.remove_bare()
            return dt

        try:
            s.wait(s.submit())  # warm up both
            s.bare_run(work, -1)
            s.remove_bare()
            for r in range(args.rounds):
                if r % 2 == 0:
                    ours.append(run_ours())
                    bare.append(run_bare())
                else:
                    bare.append(run_bare())
                    ours.append(run_ours())
                time.sleep(2)  # let the server's container removals of this round settle
                print(f"round {r + 1}: API {ours[-1]:.2f} s, docker run x{args.jobs} ({PARALLEL} at a time) "
                      f"{bare[-1]:.2f} s", flush=True)
        finally:
            s.close()
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    paired = statistics.median(a / b for a, b in zip(ours, bare, strict=True))
    print(f"{args.jobs} jobs through the API: median {m_ours:.2f} s; {args.jobs} docker runs, {PARALLEL} at a "
          f"time: median {m_bare:.2f} s; median of paired ratios {paired:.2f}")
    print(f"fanout: {m_ours:.2f} s (ratio {m_ours / m_bare:.2f} vs docker run x{args.jobs}, {PARALLEL} at a time)")


if __name__ == "__main__":
    main()
