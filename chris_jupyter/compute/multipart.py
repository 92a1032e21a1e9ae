"""``multipart/form-data`` as streams: an encoder that yields chunks, and an incremental parser
that writes file parts straight to disk. Neither ever holds a whole file in memory.

The parser takes whatever the network delivers (:meth:`MultipartParser.feed`); plain fields are
kept in memory with a size cap, file parts go to a sink the caller opens.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

FIELD_LIMIT = 1 << 20  # bytes of all plain fields together


class MultipartError(ValueError):
    """A malformed or oversized form; the message says what."""


def boundary() -> str:
    return "chris-" + secrets.token_hex(16)


def _quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode(fields: Iterable[tuple[str, str]], files: Iterable[tuple[str, str, Iterable[bytes]]],
           bound: str) -> Iterator[bytes]:
    """The body of a form: each ``(name, value)`` field, then each ``(name, filename, chunks)``."""
    for name, value in fields:
        yield (f'--{bound}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
               ).encode() + value.encode() + b"\r\n"
    for name, filename, chunks in files:
        yield (f'--{bound}\r\nContent-Disposition: form-data; name="{_quote(name)}"; '
               f'filename="{_quote(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        yield from chunks
        yield b"\r\n"
    yield f"--{bound}--\r\n".encode()


def _params(header: str) -> dict[str, str]:
    out = {}
    for piece in header.split(";")[1:]:
        k, _, v = piece.strip().partition("=")
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1]
        out[k.strip().lower()] = v
    return out


def boundary_of(content_type: str) -> str:
    if not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError("the request must be multipart/form-data")
    b = _params(content_type).get("boundary", "")
    if not b or len(b) > 200:
        raise MultipartError("multipart/form-data without a usable boundary")
    return b


class MultipartParser:
    """Incremental parser. ``open_file(field, filename) -> BinaryIO`` gives the sink of a file
    part (closed by the parser); plain fields end up in :attr:`fields` (name -> list of values)."""

    def __init__(self, bound: str, open_file: Callable[[str, str], BinaryIO]) -> None:
        self._first = b"--" + bound.encode()
        self._delim = b"\r\n--" + bound.encode()
        self._open = open_file
        self._buf = bytearray()
        self._state = "preamble"
        self._name = ""
        self._sink: BinaryIO | None = None
        self._value = bytearray()
        self._field_bytes = 0
        self.fields: dict[str, list[str]] = {}
        self.files: dict[str, str] = {}  # field -> filename

    @property
    def done(self) -> bool:
        return self._state == "end"

    def feed(self, data: bytes | bytearray) -> None:
        self._buf += data
        while True:
            if self._state == "preamble":
                i = self._buf.find(self._first)
                if i < 0 or len(self._buf) < i + len(self._first) + 2:
                    return
                rest = self._buf[i + len(self._first): i + len(self._first) + 2]
                del self._buf[: i + len(self._first) + 2]
                self._state = "end" if rest == b"--" else "headers"
            elif self._state == "headers":
                i = self._buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(self._buf) > 16384:
                        raise MultipartError("a form part's headers are too long")
                    return
                self._start_part(bytes(self._buf[:i]).decode("utf-8", "replace"))
                del self._buf[: i + 4]
                self._state = "body"
            elif self._state == "body":
                i = self._buf.find(self._delim)
                if i < 0:
                    keep = len(self._delim) - 1
                    if len(self._buf) > keep:
                        self._data(self._take(len(self._buf) - keep))
                        del self._buf[: len(self._buf) - keep]
                    return
                if len(self._buf) < i + len(self._delim) + 2:
                    self._data(self._take(i))
                    del self._buf[:i]
                    return
                self._data(self._take(i))
                rest = self._buf[i + len(self._delim): i + len(self._delim) + 2]
                del self._buf[: i + len(self._delim) + 2]
                self._end_part()
                if rest == b"--":
                    self._state = "end"
                elif rest == b"\r\n":
                    self._state = "headers"
                else:
                    raise MultipartError("malformed multipart body")
            else:  # end: ignore the epilogue
                self._buf.clear()
                return

    def _take(self, n: int) -> bytes:
        """The buffer's first ``n`` bytes, copied once (a slice of a bytearray, then ``bytes()`` of
        it, would copy a megabyte twice)."""
        with memoryview(self._buf) as view:
            return view[:n].tobytes()

    def _start_part(self, head: str) -> None:
        disposition = ""
        for line in head.split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-disposition":
                disposition = v.strip()
        params = _params(disposition)
        if "name" not in params:
            raise MultipartError("a form part without a name")
        self._name = params["name"]
        if "filename" in params:
            self.files[self._name] = params["filename"]
            self._sink = self._open(self._name, params["filename"])
        else:
            self._sink = None
            self._value.clear()

    def _data(self, b: bytes) -> None:
        if not b:
            return
        if self._sink is not None:
            self._sink.write(b)
            return
        self._field_bytes += len(b)
        if self._field_bytes > FIELD_LIMIT:
            raise MultipartError(f"the form's fields are over {FIELD_LIMIT} bytes")
        self._value += b

    def _end_part(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        else:
            self.fields.setdefault(self._name, []).append(self._value.decode("utf-8", "replace"))

    def close(self) -> None:
        """Release an open sink (after an error)."""
        if self._sink is not None:
            self._sink.close()
            self._sink = None
