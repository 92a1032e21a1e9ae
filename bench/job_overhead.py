"""bench/job_overhead: a no-op plugin through the REST API vs a bare ``docker run --rm``.

Through the whole stack: POST instances (a ``ds`` job of ``pl-noop``) to a real server with the
Docker runner, then the client observes ``finishedSuccessfully`` (the server answers
``instances/<id>/wait`` the moment the job is final, outputs registered). Against: ``docker run
--network none`` of the same image, command, user and mounts, clock stopped when it returns (the
container exited, its outcome known).

Both clocks stop at the same point, the job's end known to the caller; neither includes removing
the container: the server removes it after it reported the end, and the bare container is removed
with ``docker rm`` after its clock stopped. (Before, the anchor was ``docker run --rm``, which also
waited for the removal.) Median of ``--runs`` (>= 10), alternating, and the median of the paired
ratios.

Last line: ``job_overhead: <median> s (ratio <x> vs docker run)``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _stack import Stack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    runs = max(10, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s = Stack(work)
        try:
            s.bare_run(work, -1)  # warm the engine's caches for both
            s.remove_bare()
            s.wait(s.submit())
            ours, bare = [], []
            for i in range(runs):
                t0 = time.perf_counter()
                state = s.wait(s.submit())
                ours.append(time.perf_counter() - t0)
                if state != "finishedSuccessfully":
                    raise SystemExit(f"a job ended {state}")
                bare.append(s.bare_run(work, i))
                s.remove_bare()  # outside the clock, as the server's cleanup is
                print(f"run {i + 1:2d}: REST job {ours[-1]:.3f} s   docker run {bare[-1]:.3f} s", flush=True)
        finally:
            s.close()
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    paired = statistics.median(a / b for a, b in zip(ours, bare, strict=True))
    print(f"docker run median: {m_bare:.3f} s over {runs} runs; median of paired ratios {paired:.2f}")
    print(f"job_overhead: {m_ours:.3f} s (ratio {m_ours / m_bare:.2f} vs docker run)")


if __name__ == "__main__":
    main()
