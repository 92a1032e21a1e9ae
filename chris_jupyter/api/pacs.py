"""PACS over REST: configured nodes, C-ECHO, C-FIND, retrieve (C-GET / C-MOVE) with progress."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:pacs"


class PacsHandler(ChrisHandler):
    """``GET pacs``: our AE title, the receiver and the configured PACS nodes."""

    @endpoint
    async def get(self) -> None:
        """The PACS status."""
        self.reply(await self.run(self.backend.pacs.status, self.principal))


class EchoHandler(ChrisHandler):
    """``POST pacs/<name>/echo``: C-ECHO a PACS node."""

    @endpoint
    async def post(self, name: str) -> None:
        """Verify the association with the node; answers the round trip."""
        self.reply(await self.run(self.backend.pacs.echo, self.principal, name))


class FindHandler(ChrisHandler):
    """``POST pacs/<name>/find``: C-FIND at one query level."""

    @endpoint
    async def post(self, name: str) -> None:
        """``{"level": "STUDY", "query": {"PatientName": "DOE*", "StudyDate": "20240101-"}}``"""
        b = self.json_body()
        items = await self.run(self.backend.pacs.find, self.principal, name, str(b.get("level", "STUDY")),
                               b.get("query") or {})
        self.reply({"total": len(items), "items": items})


class RetrieveHandler(ChrisHandler):
    """``POST pacs/<name>/retrieve``: C-GET or C-MOVE a study or series into the library."""

    @endpoint
    async def post(self, name: str) -> None:
        """``{"study_uid", "series_uid"?, "method": "get"|"move"}``; progress: ``pacs.progress`` events."""
        b = self.json_body()
        if not isinstance(b.get("study_uid"), str):
            raise web.HTTPError(400, "'study_uid' is required")
        job = await self.run(self.backend.pacs.retrieve, self.principal, name, study_uid=b["study_uid"],
                             series_uid=b.get("series_uid"), method=b.get("method", "get"))
        self.reply(job, 202)


class RetrievalsHandler(ChrisHandler):
    """``GET pacs/retrievals``: the caller's retrievals."""

    @endpoint
    async def get(self) -> None:
        """The caller's retrievals and their progress."""
        self.reply({"items": await self.run(self.backend.pacs.retrievals, self.principal)})


class RetrievalHandler(ChrisHandler):
    """``GET pacs/retrievals/<id>``: one retrieval."""

    @endpoint
    async def get(self, job_id: str) -> None:
        """One retrieval and its progress."""
        self.reply(await self.run(self.backend.pacs.retrieval, self.principal, int(job_id)))


_NAME = r"([\w.\-]+)"
default_handlers = [
    (api_path("pacs"), PacsHandler),
    (api_path("pacs/retrievals"), RetrievalsHandler),
    (api_path(r"pacs/retrievals/(\d+)"), RetrievalHandler),
    (api_path(f"pacs/{_NAME}/echo"), EchoHandler),
    (api_path(f"pacs/{_NAME}/find"), FindHandler),
    (api_path(f"pacs/{_NAME}/retrieve"), RetrieveHandler),
]

_n = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
openapi_paths = {
    "/pacs": {"get": {"summary": "Our AE title, the receiver and the configured PACS nodes"}},
    "/pacs/retrievals": {"get": {"summary": "My retrievals and their progress"}},
    "/pacs/retrievals/{id}": {"get": {"summary": "One retrieval", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]}},
    "/pacs/{name}/echo": {"post": {"summary": "C-ECHO a PACS", "parameters": _n}},
    "/pacs/{name}/find": {"post": {"summary": "C-FIND at PATIENT/STUDY/SERIES/IMAGE level", "parameters": _n}},
    "/pacs/{name}/retrieve": {"post": {"summary": "Retrieve a study or series (C-GET or C-MOVE)",
                                       "parameters": _n}},
}
