"""Query helpers shared by every service: ``LIKE`` escaping and the "path under a folder" filter.

Library paths are stored as text (``home/alice/uploads/a.dcm``), so "everything below a folder"
is a ``LIKE 'folder/%'`` query. User text and folder names may hold ``%``, ``_`` or ``\\``, which
``LIKE`` reads as wildcards: they are escaped here, once, with ``\\`` as the escape character.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_

ESCAPE = "\\"


def like_escape(text: str) -> str:
    """``text`` with the ``LIKE`` wildcards (and the escape character itself) escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_ci(column: Any, text: str) -> Any:
    """``column`` contains ``text``, case-insensitively (``text`` is literal, not a pattern)."""
    return func.lower(column).like("%" + like_escape(text.lower()) + "%", escape=ESCAPE)


def wildcard(column: Any, pattern: str, *, ci: bool = True) -> Any:
    """DICOM-style match: ``*`` and ``?`` are wildcards, everything else is literal; exact without them."""
    col = func.lower(column) if ci else column
    pat = pattern.lower() if ci else pattern
    if "*" not in pat and "?" not in pat:
        return col == pat
    return col.like(like_escape(pat).replace("*", "%").replace("?", "_"), escape=ESCAPE)


def below(column: Any, path: str) -> Any:
    """``column`` is a path strictly below the folder ``path`` (the library root ``''`` holds all)."""
    if path == "":
        return column.is_not(None)
    return column.like(like_escape(path) + "/%", escape=ESCAPE)


def at_or_below(column: Any, path: str) -> Any:
    """``column`` is ``path`` itself or lies below it (the library root ``''`` matches every path)."""
    if path == "":
        return column.is_not(None)
    return or_(column == path, below(column, path))
