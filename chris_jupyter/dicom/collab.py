"""Live collaboration on a volume: saved annotations and ephemeral cursors, through the events.

Whoever may read a volume may see and add its annotations and follow the others' cursors.
Events carry the volume's library folder as their path, so the event stream's own access rule
decides who receives them (``tmp:`` volumes of a kernel reach their owner only).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select

from ..db import Database
from ..db.models import Annotation
from ..errors import BadRequest, NotFound
from ..events import EventBus
from ..identity import Principal
from ..library import paths
from .service import DicomService

KINDS = {"point": 1, "distance": 2, "roi": None}
MAX_TEXT = 2000


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


class Collaboration:
    def __init__(self, db: Database, dicom: DicomService, events: EventBus) -> None:
        self.db = db
        self.dicom = dicom
        self.events = events

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

    def cursor(self, principal: Principal, volume: str, *, position: Any, session: str = "") -> None:
        """Tell the other viewers of ``volume`` where this user's crosshair is (not stored)."""
        pos = _points([position], "point")[0]
        audience = self._audience(principal, volume)
        self.events.publish("viewer.cursor", {"volume": volume, "user": principal.username,
                                              "session": str(session)[:64], "position": pos}, **audience)
