"""Live collaboration over REST: annotations of a volume, and viewers' cursors (as events)."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"


class AnnotationsHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        items = await self.run(self.backend.collab.list, self.principal, self.required_arg("volume"))
        self.reply({"items": items})

    @endpoint
    async def post(self) -> None:
        b = self.json_body()
        if not isinstance(b.get("volume"), str):
            raise web.HTTPError(400, "'volume' is required")
        out = await self.run(self.backend.collab.add, self.principal, b["volume"], kind=b.get("kind", "point"),
                             points=b.get("points"), text=b.get("text", ""))
        self.reply(out, 201)


class AnnotationHandler(ChrisHandler):
    @endpoint
    async def delete(self, annotation_id: str) -> None:
        await self.run(self.backend.collab.delete, self.principal, int(annotation_id))
        self.set_status(204)
        await self.finish()


class CursorHandler(ChrisHandler):
    @endpoint
    async def post(self) -> None:
        b = self.json_body()
        if not isinstance(b.get("volume"), str):
            raise web.HTTPError(400, "'volume' is required")
        await self.run(self.backend.collab.cursor, self.principal, b["volume"], position=b.get("position"),
                       session=b.get("session", ""))
        self.set_status(204)
        await self.finish()


default_handlers = [
    (api_path("annotations"), AnnotationsHandler),
    (api_path(r"annotations/(\d+)"), AnnotationHandler),
    (api_path("collab/cursor"), CursorHandler),
]

openapi_paths = {
    "/annotations": {
        "get": {"summary": "Annotations of a volume", "parameters": [
            {"name": "volume", "in": "query", "required": True, "schema": {"type": "string"}}]},
        "post": {"summary": "Add an annotation {volume, kind: point|distance|roi, points: [[x,y,z] mm], text}"},
    },
    "/annotations/{id}": {"delete": {"summary": "Delete my annotation", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]}},
    "/collab/cursor": {"post": {"summary": "Share my crosshair position {volume, position, session}"}},
}
