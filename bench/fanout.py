"""Fan-out: 20 ``ds`` jobs on one feed through the coordinator vs 20 ``docker run`` back to back.

All 20 ``pl-noop`` jobs are submitted at once on the same parent; the time is from the first
submit until every one is observed ``finishedSuccessfully``. The baseline runs the same container
20 times in a row with ``docker run --rm``. Uses the driver and setup of ``job_overhead.py`` (swap
the driver to go through the REST API).

    python bench/fanout.py [--jobs 20] [--parallel 8]

Last line: ``fanout: <seconds> s (ratio <x> vs docker run x20)``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from job_overhead import Setup  # noqa: E402

from chris_jupyter.compute import states as st  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=8, help="coordinator max_parallel")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s = Setup(work, max_parallel=args.parallel)
        try:
            s.bare_run(work, -1)  # warm-up
            t0 = time.perf_counter()
            ids = [s.driver.submit("pl-noop", {"touch": True}, s.root) for _ in range(args.jobs)]
            states = [s.driver.wait(i) for i in ids]
            ours = time.perf_counter() - t0
            bad = [(i, x) for i, x in zip(ids, states, strict=True) if x != st.SUCCESS]
            if bad:
                raise SystemExit(f"jobs did not succeed: {bad[:3]}")
            t0 = time.perf_counter()
            for i in range(args.jobs):
                s.bare_run(work, i)
            bare = time.perf_counter() - t0
        finally:
            s.close()
    print(f"{args.jobs} x docker run --rm back to back: {bare:.2f} s")
    print(f"fanout: {ours:.2f} s (ratio {ours / bare:.2f} vs docker run x{args.jobs})")


if __name__ == "__main__":
    main()
