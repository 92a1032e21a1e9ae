"""What the job monitor shows: the live states of plugin instances, fed by the event stream.

:class:`JobTracker` holds the jobs of one feed (or all of the user's) and applies
``plugin_instance.state`` events to them. :class:`EventFollower` is a daemon thread that reads
the server's SSE stream (``GET events``) and hands each job event to the tracker, so changes
arrive as they happen, without polling. It takes a snapshot (``GET instances``) only once the
stream is connected, so no transition falls between the two; after a dropped connection it
reconnects with ``since=<last event id>`` (the server replays what was missed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ...client.events import interrupt, read_events
from ...states import CANCELLED, ERROR, EVENT_TYPE, FINAL, REGISTERING, RUNNING, SUCCESS
from ...states import ORDER as STATE_ORDER

log = logging.getLogger(__name__)


def _rank(state: str | None) -> int:
    if state in FINAL:
        return len(STATE_ORDER)
    return STATE_ORDER.index(state) if state in STATE_ORDER else -1


def state_progress(state: str) -> float:
    """0..1: how far along the state machine a job is (final states are 1)."""
    if state in FINAL:
        return 1.0
    try:
        return (STATE_ORDER.index(state) + 1) / (len(STATE_ORDER) + 1)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class Summary:
    total: int
    finished: int
    succeeded: int
    failed: int
    cancelled: int
    running: int

    @property
    def fraction(self) -> float:
        return self.finished / self.total if self.total else 0.0


class JobTracker:
    """The jobs one monitor shows, kept current by :meth:`apply`.

    Parameters
    ----------
    feed_id
        Follow this feed's jobs; ``None``: every job of the user (events of any feed are taken).

    Listeners (``on_change(callback)``) are called with the changed instance ids, from whatever
    thread applied the change.
    """

    def __init__(self, feed_id: int | None = None) -> None:
        self.feed_id = feed_id
        self.jobs: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._listeners: list[Callable[[list[int]], None]] = []

    def on_change(self, callback: Callable[[list[int]], None]) -> None:
        self._listeners.append(callback)

    def _notify(self, ids: list[int]) -> None:
        for cb in list(self._listeners):
            try:
                cb(ids)
            except Exception:  # a broken listener must not stop the stream
                log.exception("job monitor listener failed")

    def wants(self, job: dict[str, Any]) -> bool:
        return self.feed_id is None or job.get("feed_id") == self.feed_id

    def follow(self, feed_id: int | None) -> None:
        """Switch to another feed (then :meth:`load` its snapshot: events of the new feed are
        taken from now on, so none falls between the two)."""
        with self._cond:
            self.feed_id = feed_id
            self.jobs = {}
        self._notify([])

    def load(self, instances: list[dict[str, Any]]) -> None:
        """Take a snapshot (``GET instances``); a job already final here stays final."""
        changed = []
        with self._cond:
            for inst in instances:
                if self.wants(inst) and self._merge(inst):
                    changed.append(inst["id"])
            self._cond.notify_all()
        if changed:
            self._notify(changed)

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event (``{"id", "type", "data"}`` as the stream sends it); True if it changed
        a job shown here."""
        if event.get("type") != EVENT_TYPE:
            return False
        data = event.get("data") or {}
        with self._cond:
            if not self.wants(data) or not self._merge(data):
                return False
            self._cond.notify_all()
        self._notify([data["id"]])
        return True

    def _merge(self, data: dict[str, Any]) -> bool:
        iid = int(data["id"])
        old = self.jobs.get(iid)
        if old is not None and _rank(data.get("state")) < _rank(old.get("state")):
            # States only move forward (chris_jupyter/states.py): an older snapshot or a late event
            # never takes a job back, and a final state stays final.
            return False
        new = {**(old or {}), **data}
        if new == old:
            return False
        self.jobs[iid] = new
        return True

    # -- reading --------------------------------------------------------------------------------
    def ordered(self) -> list[dict[str, Any]]:
        with self._cond:
            return [self.jobs[i] for i in sorted(self.jobs)]

    def state(self, iid: int) -> str | None:
        with self._cond:
            job = self.jobs.get(iid)
            return job.get("state") if job else None

    def summary(self) -> Summary:
        jobs = self.ordered()
        states = [j.get("state") for j in jobs]
        return Summary(
            total=len(jobs),
            finished=sum(s in FINAL for s in states),
            succeeded=states.count(SUCCESS),
            failed=states.count(ERROR),
            cancelled=states.count(CANCELLED),
            running=sum(s in RUNNING or s == REGISTERING for s in states),
        )

    def wait_for(self, iid: int, states: frozenset[str] | set[str] = FINAL, timeout: float = 60) -> str | None:
        """Block until job ``iid`` is in one of ``states`` (as seen by this tracker) or the
        timeout passes; returns its state then."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                job = self.jobs.get(iid)
                if job is not None and job.get("state") in states:
                    return job["state"]
                left = deadline - time.monotonic()
                if left <= 0:
                    return job.get("state") if job else None
                self._cond.wait(left)


class EventFollower:
    """A daemon thread feeding a :class:`JobTracker` from the server's event stream.

    Parameters
    ----------
    client
        The monitor's :class:`chris_jupyter.Client` (for snapshots); the stream is read with
        :func:`chris_jupyter.client.events.read_events` on a connection of its own
        (``client.session()``), so the thread never shares one with the widgets' requests.
    tracker
        Where events go.
    """

    def __init__(self, client: Any, tracker: JobTracker, *, max_backoff: float = 10.0) -> None:
        self.client = client
        self.tracker = tracker
        self.max_backoff = max_backoff
        self.last_event_id: int | None = None
        self.connected = threading.Event()
        self.error: str = ""
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self._thread: threading.Thread | None = None

    def snapshot(self) -> None:
        fid = self.tracker.feed_id
        self.tracker.load(self.client.instances(feed_id=fid) if fid is not None else self.client.instances())

    def start(self) -> EventFollower:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="chris-job-events", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading: the stream's socket is shut down, so a blocked read returns at once."""
        self._stop.set()
        interrupt(self._response)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _on_connect(self, response: httpx.Response) -> None:
        self._response = response
        if self._stop.is_set():  # stop() ran while connecting
            interrupt(response)
            return
        try:
            self.snapshot()
            self.error = ""
        finally:
            self.connected.set()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            http = self.client.session()
            try:
                for ev in read_events(http, types=[EVENT_TYPE], since=self.last_event_id,
                                      on_connect=self._on_connect, stop=self._stop):
                    backoff = 0.5
                    if ev.get("id") is not None:
                        self.last_event_id = int(ev["id"])
                    self.tracker.apply(ev)
                    if self._stop.is_set():
                        break
            except Exception as e:  # dropped connection, server restart: reconnect below
                if self._stop.is_set():
                    break
                self.error = f"event stream: {e}"
                log.info("job monitor: %s; reconnecting in %.1fs", self.error, backoff)
            finally:
                self._response = None
                http.close()
            self.connected.clear()
            self._stop.wait(backoff)  # back off after a failure, never a fixed poll
            backoff = min(backoff * 2, self.max_backoff)
