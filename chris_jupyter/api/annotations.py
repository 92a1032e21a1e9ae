"""Live collaboration over REST: annotations of a volume, viewers' cursors (as events) and presence."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint
from .names import VIEWER_HEADER

AUTH_RESOURCE = "chris:annotations"


class AnnotationsHandler(ChrisHandler):
    """``GET annotations?volume=`` lists a volume's annotations; ``POST annotations`` adds one."""

    @endpoint
    async def get(self) -> None:
        """The annotations of one volume."""
        items = await self.run(self.backend.collab.list, self.principal, self.required_arg("volume"))
        self.reply({"items": items})

    @endpoint
    async def post(self) -> None:
        """Add an annotation: ``{"volume", "kind"?, "points"?, "text"?}``."""
        b = self.json_body()
        if not isinstance(b.get("volume"), str):
            raise web.HTTPError(400, "'volume' is required")
        out = await self.run(self.backend.collab.add, self.principal, b["volume"], kind=b.get("kind", "point"),
                             points=b.get("points"), text=b.get("text", ""))
        self.reply(out, 201)


class AnnotationHandler(ChrisHandler):
    """``DELETE annotations/<id>`` removes an annotation."""

    @endpoint
    async def delete(self, annotation_id: str) -> None:
        """Remove one annotation (its author or an administrator)."""
        await self.run(self.backend.collab.delete, self.principal, int(annotation_id))
        self.set_status(204)
        await self.finish()


class CursorHandler(ChrisHandler):
    """``POST annotations/cursor {"volume", "position", "session"}`` shares a cursor position."""

    @endpoint
    async def post(self) -> None:
        """Publish the caller's cursor on a volume to the others viewing it."""
        b = self.json_body()
        if not isinstance(b.get("volume"), str):
            raise web.HTTPError(400, "'volume' is required")
        self.reply(await self.run(self.backend.collab.cursor, self.principal, b["volume"],
                                  position=b.get("position"), session=b.get("session", ""),
                                  viewer=self.request.headers.get(VIEWER_HEADER, "")))


class PeersHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        self.reply(await self.run(self.backend.collab.peers, self.principal, self.required_arg("volume"),
                                  viewer=self.request.headers.get(VIEWER_HEADER, "")))


class LeaveHandler(ChrisHandler):
    @endpoint
    async def post(self) -> None:
        b = self.json_body()
        if not isinstance(b.get("volume"), str):
            raise web.HTTPError(400, "'volume' is required")
        await self.run(self.backend.collab.leave, self.principal, b["volume"], session=b.get("session", ""))
        self.set_status(204)
        await self.finish()


default_handlers = [
    (api_path("annotations"), AnnotationsHandler),
    (api_path(r"annotations/(\d+)"), AnnotationHandler),
    (api_path("collab/cursor"), CursorHandler),
    (api_path("collab/peers"), PeersHandler),
    (api_path("collab/leave"), LeaveHandler),
]

openapi_paths = {
    "/annotations": {
        "get": {"summary": "Annotations of a volume", "parameters": [
            {"name": "volume", "in": "query", "required": True, "schema": {"type": "string"}}]},
        "post": {"summary": "Add an annotation {volume, kind: point|distance|roi, points: [[x,y,z] mm], text}"},
    },
    "/annotations/{id}": {"delete": {"summary": "Delete my annotation", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]}},
    "/collab/cursor": {"post": {"summary": "Share my crosshair position {volume, position, session} (also the "
                                           "session's heartbeat); replies {user, n, sessions: [live viewers]}"}},
    "/collab/peers": {"get": {"summary": "Live viewer sessions of a volume {user, n, sessions}", "parameters": [
        {"name": "volume", "in": "query", "required": True, "schema": {"type": "string"}}]}},
    "/collab/leave": {"post": {"summary": "My viewer session {volume, session} closed: the others drop its cursor"}},
}
