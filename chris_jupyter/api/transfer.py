"""Streaming bytes to and from clients: range downloads and on-the-fly zip archives."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from tornado import iostream, web

from ..library.entries import Archive, Entry
from ..utils.aio import run_blocking
from .base import ChrisHandler

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _disposition(name: str, inline: bool = False) -> str:
    kind = "inline" if inline else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def send_file(handler: ChrisHandler, disk: Path, entry: Entry, *, head: bool = False) -> None:
    """Send a file, honouring a single ``Range: bytes=a-b`` request (206 / 416)."""
    size = disk.stat().st_size
    start, end = 0, size - 1
    rng = handler.request.headers.get("Range")
    handler.set_header("Accept-Ranges", "bytes")
    handler.set_header("Content-Type", entry.content_type or "application/octet-stream")
    handler.set_header("Content-Disposition", _disposition(entry.name))
    handler.set_header("ETag", f'"{entry.size}-{int(disk.stat().st_mtime_ns)}"')
    if rng:
        m = _RANGE.match(rng.strip())
        if not m or (m.group(1) == "" and m.group(2) == ""):
            handler.set_header("Content-Range", f"bytes */{size}")
            raise web.HTTPError(416, f"unsupported or malformed Range header: {rng!r}")
        if m.group(1) == "":  # suffix range: last N bytes
            start = max(0, size - int(m.group(2)))
        else:
            start = int(m.group(1))
            if m.group(2):
                end = min(int(m.group(2)), size - 1)
        if start >= size or start > end:
            handler.set_header("Content-Range", f"bytes */{size}")
            raise web.HTTPError(416, f"range {rng!r} is outside the file's {size} bytes")
        handler.set_status(206)
        handler.set_header("Content-Range", f"bytes {start}-{end}/{size}")
    length = max(0, end - start + 1)
    handler.set_header("Content-Length", str(length))
    if head:
        await handler.finish()
        return
    with open(disk, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            data = await run_blocking(f.read, min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            handler.write(data)
            try:
                await handler.flush()
            except iostream.StreamClosedError:
                return
    await handler.finish()


async def send_zip(handler: ChrisHandler, archive: Archive) -> None:
    """Send a zip archive produced on the fly (chunked transfer encoding)."""
    handler.set_header("Content-Type", "application/zip")
    handler.set_header("Content-Disposition", _disposition(archive.name + ".zip"))
    sentinel = object()
    try:
        while True:
            data = await run_blocking(next, archive.chunks, sentinel)
            if data is sentinel:
                break
            handler.write(data)
            try:
                await handler.flush()
            except iostream.StreamClosedError:
                return
    finally:
        archive.close()
    await handler.finish()
