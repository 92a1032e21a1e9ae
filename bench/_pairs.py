"""Side-by-side timing for the benchmarks: ours and the anchor on the same work, alternating
which goes first, so a machine getting busier or a cache warming favours neither."""

from __future__ import annotations

import statistics
from collections.abc import Callable


def alternate(mine: Callable[[int], float], theirs: Callable[[int], float], runs: int,
              line: Callable[[int, float, float], str]) -> tuple[list[float], list[float]]:
    """``runs`` timings of each side (``mine(i)``, ``theirs(i)`` return seconds); prints
    ``line(i, ours, theirs)`` after each pair."""
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        if i % 2 == 0:
            a.append(mine(i))
            b.append(theirs(i))
        else:
            b.append(theirs(i))
            a.append(mine(i))
        print(line(i, a[-1], b[-1]), flush=True)
    return a, b


def medians(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """(median of ours, median of the anchor's, median of the paired ratios)."""
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b, strict=True))
