"""Bytes a producer thread writes, read as an iterator of chunks: a folder streamed as a zip
download, a job's inputs or outputs streamed as an archive — never the whole stream in memory."""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

CHUNK = 1 << 20


class ChunkPipe:
    """A write-only sink whose bytes come out of :meth:`chunks` in another thread, at most
    ``depth`` chunks ahead. When the reader stops, the writer's next ``write`` raises
    ``BrokenPipeError``."""

    def __init__(self, depth: int = 8) -> None:
        self._q: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)
        self._buf = bytearray()
        self.cancelled = False

    def write(self, b: bytes) -> int:
        if self.cancelled:
            raise BrokenPipeError("the reader went away")
        if len(b) >= CHUNK and isinstance(b, bytes):  # a whole chunk already: handed on as it is
            if self._buf:  # (bytes cannot change); what came before it goes first, as it is
                self._put(bytes(self._buf))
                self._buf.clear()
            self._put(b)
            return len(b)
        self._buf += b
        if len(self._buf) >= CHUNK:
            self._put(bytes(self._buf))
            self._buf.clear()
        return len(b)

    def flush(self) -> None:
        pass

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self.cancelled:
            try:
                self._q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self, error: BaseException | None = None) -> None:
        """End the stream; with ``error``, the reader raises it after the bytes before it."""
        if self._buf and error is None:
            self._put(bytes(self._buf))
        self._buf.clear()
        self._put(error)

    def chunks(self) -> Iterator[bytes]:
        try:
            while True:
                item = self._q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancelled = True


def thread_stream(produce: Callable[[BinaryIO], None], *, name: str, depth: int = 8) -> Iterator[bytes]:
    """Start a thread running ``produce(sink)`` and return the chunks it writes to ``sink``; an
    exception in ``produce`` is raised to the reader."""
    pipe = ChunkPipe(depth)

    def run() -> None:
        try:
            produce(pipe)  # type: ignore[arg-type]
        except BaseException as e:  # handed to the reader, who raises it
            if not pipe.cancelled:
                pipe.close(e)
            return
        pipe.close()

    threading.Thread(target=run, name=name, daemon=True).start()
    return pipe.chunks()


def write_behind(out: BinaryIO, chunks: Iterator[bytes], *, depth: int = 4) -> int:
    """Write ``chunks`` to ``out`` from a second thread, so that producing the next chunk (reading
    it from a socket, parsing an archive) overlaps writing this one to disk: both release the GIL,
    and one thread doing both in turn leaves the disk idle while it reads and the reader idle while
    it writes (bench/remote.py: most of a 1 GiB PULL). Returns the bytes written; an error on
    either side is raised here, after the writer has stopped."""
    q: queue.Queue[bytes | None] = queue.Queue(depth)
    failed: list[BaseException] = []

    def writer() -> None:
        try:
            while (chunk := q.get()) is not None:
                out.write(chunk)
        except BaseException as e:  # handed to the producer's thread, which raises it
            failed.append(e)
            while q.get() is not None:  # keep taking, so the producer never blocks on a full queue
                pass

    t = threading.Thread(target=writer, name="write-behind", daemon=True)
    t.start()
    n = 0
    try:
        for chunk in chunks:
            if failed:
                break
            q.put(chunk)
            n += len(chunk)
    finally:
        q.put(None)
        t.join()
    if failed:
        raise failed[0]
    return n


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (for extracting a tar stream as it comes).

    ``readinto`` copies from the current chunk at an offset: no buffer is ever re-sliced, so a
    gigabyte read in small pieces costs one copy of each byte."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it, self._chunk, self._at = iter(chunks), memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:  # type: ignore[override]
        while self._at >= len(self._chunk):
            nxt = next(self._it, None)
            if nxt is None:
                return 0
            self._chunk, self._at = memoryview(nxt), 0
        n = min(len(b), len(self._chunk) - self._at)
        b[:n] = self._chunk[self._at:self._at + n]
        self._at += n
        return n
