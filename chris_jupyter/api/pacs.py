"""PACS over REST: configured nodes, C-ECHO, C-FIND, retrieve (C-GET / C-MOVE) with progress."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"


class PacsHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        pacs = self.backend.pacs
        status = await self.run(pacs.status, self.principal)
        status["nodes"] = await self.run(pacs.list_nodes, self.principal)
        self.reply(status)


class EchoHandler(ChrisHandler):
    @endpoint
    async def post(self, name: str) -> None:
        self.reply(await self.run(self.backend.pacs.echo, self.principal, name))


class FindHandler(ChrisHandler):
    @endpoint
    async def post(self, name: str) -> None:
        """``{"level": "STUDY", "query": {"PatientName": "DOE*", "StudyDate": "20240101-"}}``"""
        b = self.json_body()
        items = await self.run(self.backend.pacs.find, self.principal, name, str(b.get("level", "STUDY")),
                               b.get("query") or {})
        self.reply({"total": len(items), "items": items})


class RetrieveHandler(ChrisHandler):
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
    @endpoint
    async def get(self) -> None:
        self.reply({"items": await self.run(self.backend.pacs.retrievals, self.principal)})


class RetrievalHandler(ChrisHandler):
    @endpoint
    async def get(self, job_id: str) -> None:
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
