"""Small text helpers shared by the CLI and the widgets."""

from __future__ import annotations


def human_size(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
