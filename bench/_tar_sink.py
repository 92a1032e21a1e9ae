"""The anchor side of bench/remote: a bare HTTP endpoint that pipes bytes through ``tar``.

``PUT /<job>`` streams the request body (``curl -T -``: chunked) into ``tar -x`` in
``<root>/<job>/incoming``; ``GET /<job>`` streams ``tar -c`` of ``<root>/<job>/outgoing``. No
checks, no records, no spooling: the least a PUSH and a PULL can be over HTTP.
"""

from __future__ import annotations

import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(".")


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _folder(self, part: str) -> Path:
        return ROOT / self.path.strip("/").split("/")[0] / part

    def do_PUT(self) -> None:
        dest = self._folder("incoming")
        dest.mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(["tar", "-x", "-C", str(dest)], stdin=subprocess.PIPE)
        assert tar.stdin is not None
        if self.headers.get("Transfer-Encoding") == "chunked":
            while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                tar.stdin.write(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                tar.stdin.write(chunk)
                left -= len(chunk)
        tar.stdin.close()
        code = tar.wait()
        self.send_response(201 if code == 0 else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        tar = subprocess.Popen(["tar", "-c", "-C", str(self._folder("outgoing")), "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while chunk := tar.stdout.read(1 << 20):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
        tar.wait()


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Sink).serve_forever()
