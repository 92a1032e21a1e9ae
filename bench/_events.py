"""A background listener on the server's event stream, for benchmarks that stop their clock
when the server says the work is done (files registered and indexed, a retrieval ``done``).

:meth:`Listener.ready` makes sure the stream is connected before a clock starts: it creates a
folder and waits for its own ``folder.created`` event (a real signal, not a sleep).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from typing import Any

from chris_jupyter import Client


class Listener:
    def __init__(self, url: str, token: str, types: list[str]) -> None:
        self.client = Client(url, token)
        self.types = [*types, "folder.created"]
        self.q: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        threading.Thread(target=self._listen, daemon=True, name="bench-events").start()

    def _listen(self) -> None:
        try:
            for ev in self.client.events(types=self.types):
                self.q.put((time.perf_counter(), ev))
        except Exception:
            pass

    def ready(self, home: str, timeout: float = 30) -> None:
        probe = f"{home}/bench-probe-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + timeout
        for attempt in range(1000):
            name = f"{probe}-{attempt}"
            self.client.mkdir(name)
            try:
                self.next(lambda e, name=name: e["type"] == "folder.created" and name in str(e.get("data")), 2)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def next(self, match: Any, timeout: float = 120) -> tuple[float, dict[str, Any]]:
        """The (arrival time, event) of the next event for which ``match(event)`` is true."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching event")
            try:
                t, ev = self.q.get(timeout=left)
            except queue.Empty:
                raise TimeoutError("no matching event") from None
            if match(ev):
                return t, ev

    def close(self) -> None:
        self.client.close()
