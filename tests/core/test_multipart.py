"""The streaming multipart parser of compute serve (chris_jupyter/compute/multipart.py): whatever
sizes the body arrives in (bytes or bytearray), the fields and the file come out exact."""

from __future__ import annotations

import io
import os
import random

import pytest

from chris_jupyter.compute import multipart


class Sink(io.BytesIO):
    def close(self) -> None:  # keep the bytes for the test (the parser closes its sinks)
        self.closed_by_parser = True


@pytest.mark.parametrize("seed", range(5))
def test_any_split_of_the_body_parses_to_the_same_form(seed: int) -> None:
    rng = random.Random(seed)
    payload = os.urandom(3 << 20) + b"\r\n--almost-a-boundary\r\n"  # delimiter-like bytes inside
    bound = multipart.boundary()
    body = b"".join(multipart.encode([("jid", "j-1"), ("args", "--a"), ("args", "b c")],
                                     [("data_file", "d.tar", [payload[:1000], payload[1000:]])], bound))
    sinks: list[Sink] = []

    def open_file(name: str, filename: str) -> Sink:
        sinks.append(Sink())
        return sinks[-1]

    parser = multipart.MultipartParser(bound, open_file)
    at = 0
    while at < len(body):
        n = rng.choice([1, 7, 4096, 65536, 1 << 20, 3 << 20])
        piece = body[at:at + n]
        parser.feed(bytearray(piece) if rng.random() < 0.5 else piece)
        at += n
    assert parser.done
    assert parser.fields == {"jid": ["j-1"], "args": ["--a", "b c"]}
    assert parser.files == {"data_file": "d.tar"}
    assert len(sinks) == 1 and sinks[0].getvalue() == payload and sinks[0].closed_by_parser
