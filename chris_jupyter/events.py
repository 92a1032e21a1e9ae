"""In-process event bus: the one stream of change events (files, feeds, jobs, PACS progress).

Producers call :meth:`EventBus.publish` from any thread. Consumers (the SSE handler, tests)
subscribe and receive events in order; a bounded ring buffer lets a reconnecting client replay
what it missed (``Last-Event-ID``). Each event names its audience so the API layer can show a
user only what concerns them: explicit usernames and/or a library path whose readers may see it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]
    time: float
    users: frozenset[str] = frozenset()
    path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "time": self.time, "data": self.data}


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    types: frozenset[str] | None = None
    dropped: int = 0


@dataclass
class EventBus:
    history: int = 2000
    queue_size: int = 10000
    _buffer: collections.deque[Event] = field(init=False)
    _subs: list[_Subscriber] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), init=False)

    def __post_init__(self) -> None:
        self._buffer = collections.deque(maxlen=self.history)

    def publish(
        self,
        type: str,
        data: dict[str, Any],
        *,
        users: Iterable[str] = (),
        path: str | None = None,
    ) -> Event:
        """Send an event to every subscriber; safe to call from any thread."""
        with self._lock:
            ev = Event(next(self._ids), type, data, time.time(), frozenset(users), path)
            self._buffer.append(ev)
            subs = list(self._subs)
        for sub in subs:
            if sub.types is not None and type not in sub.types:
                continue
            try:
                sub.loop.call_soon_threadsafe(self._deliver, sub, ev)
            except RuntimeError:  # loop closed: the subscriber is gone
                self._remove(sub)
        return ev

    @staticmethod
    def _deliver(sub: _Subscriber, ev: Event) -> None:
        try:
            sub.queue.put_nowait(ev)
        except asyncio.QueueFull:
            sub.dropped += 1

    def _remove(self, sub: _Subscriber) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    async def subscribe(
        self, *, since: int | None = None, types: Iterable[str] | None = None
    ) -> AsyncIterator[Event]:
        """Yield events as they come (after replaying those newer than ``since``)."""
        sub = _Subscriber(
            asyncio.get_running_loop(),
            asyncio.Queue(self.queue_size),
            frozenset(types) if types else None,
        )
        with self._lock:
            backlog = [e for e in self._buffer if since is not None and e.id > since]
            self._subs.append(sub)
        try:
            for ev in backlog:
                if sub.types is None or ev.type in sub.types:
                    yield ev
            while True:
                yield await sub.queue.get()
        finally:
            self._remove(sub)

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._buffer[-1].id if self._buffer else 0
