"""What the library hands out: entries and pages of a listing, upload tickets, zip archives.

Plain data, no database: the API shapes its replies from these, and other services return them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..identity import Principal
from .store import TempUpload


@dataclass
class Entry:
    """A file or folder as the API shows it."""

    path: str
    name: str
    kind: str  # "folder" | "file"
    size: int = 0
    owner: str | None = None
    created_at: dt.datetime | None = None
    content_type: str | None = None
    id: int | None = None  # a file's numeric id (CUBE clients address files by it)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = dict(self.__dict__)
        d["created_at"] = self.created_at.isoformat() if self.created_at else None
        return d


@dataclass
class Page:
    """One page of entries (``total`` counts them all); ``extra`` adds keys to the JSON."""

    total: int
    items: list[Entry]
    limit: int
    offset: int
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": self.path,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "items": [e.to_json() for e in self.items],
            **self.extra,
        }


@dataclass
class UploadTicket:
    """An upload in progress: who writes where, and the temporary file the bytes go to."""

    principal: Principal
    path: str
    overwrite: bool
    temp: TempUpload


ZipTransform = Callable[[Path, str], tuple[str, bytes] | None]
"""Rewrites one file on its way into a zip: ``(disk path, archive name) -> (archive name, bytes)``
or ``None`` to leave the file out."""


@dataclass
class Archive:
    """A zip archive built on the fly: its download name (without ``.zip``) and its bytes.

    Iterating it yields the chunks; :meth:`close` stops the producer when a download is cut short.
    """

    name: str
    chunks: Iterator[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        """Stop building the archive (the producer thread ends at its next write)."""
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


