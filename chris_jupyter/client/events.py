"""The server's event stream (``GET events``, server-sent events): the one reader of it.

:func:`read_events` is used by :meth:`Client.events` (and so by ``watch`` and
``pacs_retrieve``) and by the job monitor's reader thread
(:class:`chris_jupyter.widgets.panels.jobs_model.EventFollower`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from .errors import raise_for
from .http import Connection


def read_events(
    http: httpx.Client,
    *,
    types: list[str] | None = None,
    since: int | None = None,
    timeout: float | None = None,
    on_connect: Callable[[httpx.Response], object] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Read ``GET events`` on ``http`` and yield each event (``{"id", "type", "time", "data"}``).

    Parameters
    ----------
    types
        Only these event types (default: all the user may see).
    since
        Replay the events after this id first (what a reconnecting reader missed).
    timeout
        Seconds after which the iteration ends, even when no event comes: the server's
        keep-alive lines wake the reader (every 15 s). ``None``: no end.
    on_connect
        Called with the response once the server has subscribed this stream (its first
        ``: connected`` line): nothing published after that point is missed. If it returns True
        the iteration ends at once (what the caller waits for has already happened).
    stop
        Checked at every line, keep-alives included: once set, the iteration ends.

    Raises
    ------
    ChrisApiError
        When the server refuses the stream.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    params = {"types": ",".join(types) if types else None, "since": since}
    try:
        with http.stream("GET", "events", params={k: v for k, v in params.items() if v is not None},
                         timeout=httpx.Timeout(timeout, connect=10)) as r:
            if r.status_code >= 400:
                r.read()
                raise_for(r)
            connected = False
            for line in r.iter_lines():
                if stop is not None and stop.is_set():
                    return
                if line.startswith("data: "):
                    yield json.loads(line[6:])
                elif not connected and line.startswith(": connected"):
                    connected = True
                    if on_connect is not None and on_connect(r):
                        return
                if deadline is not None and time.monotonic() > deadline:
                    return
    except httpx.ReadTimeout:
        if deadline is None:
            raise


def interrupt(response: httpx.Response | None) -> None:
    """Unblock a thread reading ``response`` by shutting its socket down (closing the client
    from another thread does not interrupt a blocked read)."""
    if response is None:
        return
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class EventsClient(Connection):
    """:meth:`events`, the change events of the server as they happen."""

    def events(self, *, types: list[str] | None = None, since: int | None = None, timeout: float | None = None,
               on_connect: Callable[[], object] | None = None) -> Iterator[dict]:
        """Yield change events as they happen (blocking iterator over the SSE stream).

        ``on_connect`` is called once the server has subscribed this stream (its ``: connected``
        line): nothing published after that point is missed, so start the work to follow, or read
        the state you wait for, there. If it returns True the iteration ends at once (what you wait
        for has already happened). ``timeout`` (seconds) ends the iteration when it has passed, even
        when no event comes: the server's keep-alive lines wake the reader (every 15 s).
        """
        return read_events(self.http, types=types, since=since, timeout=timeout,
                           on_connect=None if on_connect is None else (lambda _r: on_connect()))
