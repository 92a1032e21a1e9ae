"""A server killed in the middle of an upload leaves no partial file; the next start cleans up."""

from __future__ import annotations

import socket
import time

from chris_jupyter import Client


def test_killed_server_leaves_no_partial_upload(chris_server_factory) -> None:
    srv = chris_server_factory()
    c = Client(srv.url, srv.token)
    me = c.me()["username"]
    target = srv.data_dir / "library" / f"home/{me}/uploads/huge.bin"
    # Start a 1 GB upload by hand and send only part of it.
    host, port = "127.0.0.1", srv.port
    sock = socket.create_connection((host, port))
    head = (f"PUT /chris/api/v1/files/content?path=home/{me}/uploads/huge.bin HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nAuthorization: token {srv.token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {10**9}\r\n\r\n")
    sock.sendall(head.encode())
    chunk = b"x" * (1 << 20)
    for _ in range(20):
        sock.sendall(chunk)
    tmp = srv.data_dir / "tmp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(tmp.iterdir()):
        time.sleep(0.05)
    assert any(tmp.iterdir()), "the upload should be in progress in tmp/"
    srv.stop(kill=True)  # SIGKILL: no cleanup code runs
    sock.close()
    assert not target.exists()
    srv.start()
    assert not any(tmp.iterdir()), "left-overs of the killed upload are removed at start"
    assert not target.exists()
    assert not Client(srv.url, srv.token).exists(f"home/{me}/uploads/huge.bin")
