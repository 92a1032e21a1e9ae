"""Small network helpers (standard library only)."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (for servers, tests and benchmarks).

    The port is only reserved while this function runs: bind it promptly, and expect a rare clash
    when many processes pick ports at once.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
