"""Live collaboration on a volume: saved annotations and ephemeral cursors, through the events.

Whoever may read a volume may see and add its annotations and follow the others' cursors.
Events carry the volume's library folder as their path, so the event stream's own access rule
decides who receives them (``tmp:`` volumes of a kernel reach their owner only).

Cursors are not stored, but the backend keeps who is viewing what (:class:`Presence`, in memory):
each viewer session (one per page view of a widget) gets a number among its user's sessions on
that volume, so that two views of one person show as "alice · 1" and "alice · 2" (and one's own
other views as "you"); a session that says goodbye (``viewer.left``) or stops sending its
heartbeat for :data:`PRESENCE_TTL` seconds is dropped for everyone.

In a shared hub server everyone acts as the server's owner, so two people there are one ChRIS
user. The owner's server tells the service who is at the page (the Jupyter user; see
:mod:`chris_jupyter.api.forward`), and each session carries that as its ``viewer``: a label for
the crosshair, never an identity (access is always the ChRIS user's).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .. import paths
from ..db import Database
from ..db.models import Annotation
from ..errors import BadRequest, NotFound
from ..events import EventBus
from ..identity import Principal
from .service import DicomService

KINDS = {"point": 1, "distance": 2, "roi": None}
MAX_TEXT = 2000
#: Seconds without news after which a viewer session is gone (viewers send a heartbeat every 2 s).
PRESENCE_TTL = 6.0
MAX_SESSION = 64
MAX_VIEWER = 64


def _points(raw: Any, kind: str) -> list[list[float]]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'points' must be a list of [x, y, z] positions in mm")
    pts = []
    for p in raw:
        if not isinstance(p, list | tuple) or len(p) != 3:
            raise BadRequest("each point is [x, y, z] in mm")
        try:
            xyz = [float(v) for v in p]
        except (TypeError, ValueError):
            raise BadRequest("point coordinates must be numbers") from None
        if not all(math.isfinite(v) for v in xyz):
            raise BadRequest("point coordinates must be finite")
        pts.append(xyz)
    want = KINDS[kind]
    if want is not None and len(pts) != want:
        raise BadRequest(f"a {kind} annotation has {want} point{'s' if want > 1 else ''}")
    if kind == "roi" and len(pts) < 3:
        raise BadRequest("an roi annotation has at least 3 points")
    return pts


def annotation_json(a: Annotation) -> dict[str, Any]:
    return {"id": a.id, "volume": a.volume, "kind": a.kind, "points": a.points, "text": a.text,
            "author": a.author.username, "created_at": a.created_at.isoformat()}


@dataclass
class _Session:
    user: str
    session: str
    n: int  # its number among the user's live sessions on the volume, from 1
    position: list[float]
    seen: float
    viewer: str = ""  # who is at the page, when not the user (a shared hub server)

    def json(self, volume: str) -> dict[str, Any]:
        out = {"volume": volume, "user": self.user, "session": self.session, "n": self.n,
               "position": self.position}
        if self.viewer:
            out["viewer"] = self.viewer
        return out


class Presence:
    """Who views which volume now: live viewer sessions, dropped when they leave or fall silent.

    Memory only (cursors are ephemeral); safe to call from several threads. ``clock`` is for tests.
    """

    def __init__(self, ttl: float = PRESENCE_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._volumes: dict[str, dict[tuple[str, str], _Session]] = {}

    def touch(self, volume: str, user: str, session: str, position: list[float],
              viewer: str = "") -> tuple[_Session, list[_Session]]:
        """Record a session's position; returns it and the sessions of ``volume`` that expired."""
        with self._lock:
            gone = self._expire(volume)
            for other in [v for v in self._volumes if v != volume]:  # forgotten volumes: no one to tell
                self._expire(other)
            live = self._volumes.setdefault(volume, {})
            s = live.get((user, session))
            if s is None:
                taken = {x.n for x in live.values() if x.user == user}
                n = next(i for i in range(1, len(taken) + 2) if i not in taken)
                s = live[(user, session)] = _Session(user, session, n, position, self.clock(), viewer)
            else:
                s.position, s.seen, s.viewer = position, self.clock(), viewer
            return s, gone

    def leave(self, volume: str, user: str, session: str) -> _Session | None:
        with self._lock:
            live = self._volumes.get(volume, {})
            s = live.pop((user, session), None)
            if not live:
                self._volumes.pop(volume, None)
            return s

    def expire(self, volume: str) -> list[_Session]:
        with self._lock:
            return self._expire(volume)

    def sessions(self, volume: str) -> list[_Session]:
        with self._lock:
            return sorted(self._volumes.get(volume, {}).values(), key=lambda x: (x.user, x.n))

    def _expire(self, volume: str) -> list[_Session]:
        live = self._volumes.get(volume, {})
        now = self.clock()
        gone = [s for s in live.values() if now - s.seen > self.ttl]
        for s in gone:
            del live[(s.user, s.session)]
        if not live:
            self._volumes.pop(volume, None)
        return gone


class Collaboration:
    def __init__(self, db: Database, dicom: DicomService, events: EventBus,
                 presence: Presence | None = None) -> None:
        self.db = db
        self.dicom = dicom
        self.events = events
        self.presence = presence or Presence()

    def _audience(self, principal: Principal, volume: str) -> dict[str, Any]:
        """Check the caller may read the volume; return the events' audience for it."""
        kind, _, ref = volume.partition(":")
        if kind == "tmp":
            self.dicom.volume(principal, volume)  # raises NotFound for others
            return {"users": [principal.username]}
        if kind == "series":
            first = self.dicom.series(principal, ref)[0]["path"]
            return {"path": paths.parent(first)}
        if kind == "path":
            ref = paths.normalize(ref)
            if not self.dicom.library.grants(principal).can_read(ref):
                raise NotFound(f"no such volume, or not shared with you: {volume!r}")
            self.dicom.library.readable_disk(principal, ref)  # a link elsewhere: refused too
            return {"path": ref}
        raise BadRequest("a volume id is 'series:<uid>', 'path:<library path>' or 'tmp:<id>'")

    def list(self, principal: Principal, volume: str) -> list[dict[str, Any]]:
        self._audience(principal, volume)
        with self.db.session() as s:
            q = select(Annotation).where(Annotation.volume == volume).order_by(Annotation.id)
            return [annotation_json(a) for a in s.scalars(q)]

    def add(self, principal: Principal, volume: str, *, kind: str, points: Any, text: str = "") -> dict:
        if kind not in KINDS:
            raise BadRequest(f"'kind' must be one of {', '.join(KINDS)}")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise BadRequest(f"'text' must be a string of at most {MAX_TEXT} characters")
        pts = _points(points, kind)
        audience = self._audience(principal, volume)
        with self.db.session() as s:
            a = Annotation(volume=volume, kind=kind, points=pts, text=text, author_id=principal.user_id)
            s.add(a)
            s.flush()
            s.refresh(a)
            out = annotation_json(a)
        self.events.publish("annotation.created", out, **audience)
        return out

    def delete(self, principal: Principal, annotation_id: int) -> None:
        with self.db.session() as s:
            a = s.get(Annotation, annotation_id)
            if a is None:
                raise NotFound(f"no such annotation: {annotation_id}")
            audience = self._audience(principal, a.volume)
            if a.author_id != principal.user_id and not principal.is_admin:
                raise BadRequest("only its author may delete an annotation")
            volume = a.volume
            s.delete(a)
        self.events.publish("annotation.deleted", {"id": annotation_id, "volume": volume}, **audience)

    def cursor(self, principal: Principal, volume: str, *, position: Any, session: str = "",
               viewer: str = "") -> dict[str, Any]:
        """Tell the other viewers of ``volume`` where this session's crosshair is (not stored).

        Also the session's heartbeat. Returns who the caller is, the session's number among the
        caller's sessions and every live session of the volume (the caller's own included).
        ``viewer``: who is at the page when that is not the user (a label only).
        """
        pos = _points([position], "point")[0]
        session = _session(session)
        viewer = _viewer(viewer, principal)
        audience = self._audience(principal, volume)
        me, gone = self.presence.touch(volume, principal.username, session, pos, viewer)
        for s in gone:
            self.events.publish("viewer.left", s.json(volume), **audience)
        self.events.publish("viewer.cursor", me.json(volume), **audience)
        return self._peers_reply(principal, volume, me.n, viewer)

    def peers(self, principal: Principal, volume: str, *, viewer: str = "") -> dict[str, Any]:
        """The live viewer sessions of ``volume`` (and who the caller is), without joining."""
        audience = self._audience(principal, volume)
        for s in self.presence.expire(volume):
            self.events.publish("viewer.left", s.json(volume), **audience)
        return self._peers_reply(principal, volume, None, _viewer(viewer, principal))

    def leave(self, principal: Principal, volume: str, *, session: str = "") -> None:
        """This session stops viewing ``volume`` (its page closed): the others drop its cursor now."""
        audience = self._audience(principal, volume)
        s = self.presence.leave(volume, principal.username, _session(session))
        if s is not None:
            self.events.publish("viewer.left", s.json(volume), **audience)

    def _peers_reply(self, principal: Principal, volume: str, n: int | None, viewer: str) -> dict[str, Any]:
        out: dict[str, Any] = {"user": principal.username, "n": n,
                               "sessions": [s.json(volume) for s in self.presence.sessions(volume)]}
        if viewer:
            out["viewer"] = viewer
        return out


def _viewer(raw: Any, principal: Principal) -> str:
    """A viewer label worth keeping: a short printable name that is not the user's own."""
    if not isinstance(raw, str) or len(raw) > MAX_VIEWER or not raw.isprintable():
        return ""
    raw = raw.strip()
    return "" if raw == principal.username else raw


def _session(raw: Any) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_SESSION:
        raise BadRequest(f"'session' must be a string of at most {MAX_SESSION} characters")
    return raw
