"""The threads behind streamed transfers (chris_jupyter/utils/pipe.py): bytes arrive whole and in
order, and an error on either side is raised to the caller instead of leaving a thread hanging."""

from __future__ import annotations

import io
import threading

import pytest

from chris_jupyter.utils.pipe import thread_stream, write_behind


def test_write_behind_writes_every_chunk_in_order() -> None:
    chunks = [bytes([i]) * (1000 + i) for i in range(50)]
    out = io.BytesIO()
    assert write_behind(out, iter(chunks), depth=2) == sum(map(len, chunks))
    assert out.getvalue() == b"".join(chunks)


class DiskFull(io.RawIOBase):
    def __init__(self, room: int) -> None:
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if len(b) > self.room:
            raise OSError(28, "No space left on device")
        self.room -= len(b)
        return len(b)


def test_a_failed_write_is_raised_and_the_producer_stops() -> None:
    made = []

    def chunks():
        for i in range(1000):
            made.append(i)
            yield b"x" * 1000

    with pytest.raises(OSError, match="No space left"):
        write_behind(DiskFull(5000), chunks(), depth=2)
    assert len(made) < 1000  # it stopped reading soon after the writer failed
    assert not [t for t in threading.enumerate() if t.name == "write-behind"]


def test_a_failed_read_is_raised_after_the_writer_stopped() -> None:
    def chunks():
        yield b"a" * 10
        raise ValueError("the archive broke off")

    out = io.BytesIO()
    with pytest.raises(ValueError, match="broke off"):
        write_behind(out, chunks())
    assert out.getvalue() == b"a" * 10
    assert not [t for t in threading.enumerate() if t.name == "write-behind"]


def test_thread_stream_hands_the_producers_error_to_the_reader() -> None:
    def produce(sink) -> None:
        sink.write(b"x" * (3 << 20))
        raise RuntimeError("the folder went away")

    got = bytearray()
    with pytest.raises(RuntimeError, match="went away"):
        for chunk in thread_stream(produce, name="test"):
            got += chunk
    assert len(got) == 3 << 20
