"""An incremental ``multipart/form-data`` parser: bytes in as they arrive, parts out as events.

Tornado only parses whole buffered bodies; uploads here must stream to disk, so the request
body is fed piece by piece and file contents are handed on without being kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import Message

MAX_HEADER_BYTES = 16 * 1024


class MultipartError(ValueError):
    pass


def boundary_of(content_type: str) -> bytes:
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data" or not msg.get_param("boundary"):
        raise MultipartError("expected a multipart/form-data body with a boundary")
    return str(msg.get_param("boundary")).encode("latin-1")


def disposition(headers: dict[str, str]) -> tuple[str, str | None]:
    """The form field name and file name of a part."""
    msg = Message()
    msg["content-disposition"] = headers.get("content-disposition", "")
    name = msg.get_param("name", header="content-disposition")
    filename = msg.get_filename()
    if not isinstance(name, str):
        raise MultipartError("a form part without a name")
    return name, filename


class MultipartParser:
    """Call :meth:`feed` with each body piece; parts arrive as ``start(headers)``, ``data(bytes)``
    (possibly many) and ``end()`` (all awaitables, so a receiver may do I/O)."""

    def __init__(self, boundary: bytes, start: Callable[[dict[str, str]], Awaitable[None]],
                 data: Callable[[bytes], Awaitable[None]], end: Callable[[], Awaitable[None]]) -> None:
        self.delim = b"\r\n--" + boundary
        self.buf = b"\r\n"  # the first delimiter has no line break before it
        self.state = "preamble"
        self._start, self._data, self._end = start, data, end

    @property
    def done(self) -> bool:
        return self.state == "done"

    async def feed(self, chunk: bytes) -> None:
        self.buf += chunk
        keep = len(self.delim)
        while True:
            if self.state == "preamble":
                i = self.buf.find(self.delim)
                if i < 0:
                    self.buf = self.buf[-keep:]
                    return
                self.buf = self.buf[i + keep:]
                self.state = "delimited"
            if self.state == "delimited":
                if len(self.buf) < 2:
                    return
                if self.buf.startswith(b"--"):
                    self.state, self.buf = "done", b""
                    return
                if not self.buf.startswith(b"\r\n"):
                    raise MultipartError("malformed multipart body (after a boundary)")
                self.buf = self.buf[2:]
                self.state = "headers"
            if self.state == "headers":
                i = self.buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(self.buf) > MAX_HEADER_BYTES:
                        raise MultipartError("multipart part headers are too long")
                    return
                headers: dict[str, str] = {}
                for line in self.buf[:i].decode("utf-8", "replace").split("\r\n"):
                    k, sep, v = line.partition(":")
                    if sep:
                        headers[k.strip().lower()] = v.strip()
                self.buf = self.buf[i + 4:]
                self.state = "body"
                await self._start(headers)
            if self.state == "body":
                i = self.buf.find(self.delim)
                if i < 0:
                    safe = len(self.buf) - keep + 1
                    if safe > 0:
                        piece, self.buf = self.buf[:safe], self.buf[safe:]
                        await self._data(piece)
                    return
                piece, self.buf = self.buf[:i], self.buf[i + keep:]
                if piece:
                    await self._data(piece)
                self.state = "delimited"
                await self._end()
            if self.state == "done":
                return
