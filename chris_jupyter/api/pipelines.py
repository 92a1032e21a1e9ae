"""Pipelines over REST: upload (YAML or JSON, ChRIS format), list, delete, run on an instance."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"


class PipelinesHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        items = await self.run(self.backend.compute.pipelines, self.principal)
        self.reply({"total": len(items), "items": items})

    @endpoint
    async def post(self) -> None:
        """The body is the pipeline itself: YAML (``text/yaml``) or JSON."""
        ctype = self.request.headers.get("Content-Type", "")
        if "json" in ctype:
            source: str | dict = self.json_body()
        else:
            try:
                source = self.request.body.decode()
            except UnicodeDecodeError:
                raise web.HTTPError(400, "a pipeline must be UTF-8 YAML or JSON text") from None
        self.reply(await self.run(self.backend.compute.save_pipeline, self.principal, source), 201)


class PipelineHandler(ChrisHandler):
    @endpoint
    async def delete(self, pid: str) -> None:
        await self.run(self.backend.compute.delete_pipeline, self.principal, int(pid))
        self.set_status(204)
        await self.finish()


class PipelineRunsHandler(ChrisHandler):
    @endpoint
    async def post(self, pid: str) -> None:
        """Run on ``previous_id``: ``{"previous_id", "title"?, "params"?: {piping: {…}}, "resources"?}``."""
        body = self.json_body()
        self.reply(await self.run(self.backend.compute.run_pipeline, self.principal, int(pid), body), 201)


default_handlers = [
    (api_path("pipelines"), PipelinesHandler),
    (api_path(r"pipelines/(\d+)"), PipelineHandler),
    (api_path(r"pipelines/(\d+)/runs"), PipelineRunsHandler),
]

_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
openapi_paths = {
    "/pipelines": {"get": {"summary": "Saved pipelines"},
                   "post": {"summary": "Save a pipeline (YAML or JSON in the ChRIS format)"}},
    "/pipelines/{id}": {"delete": {"summary": "Delete my pipeline", "parameters": _id}},
    "/pipelines/{id}/runs": {"post": {"summary": "Run a pipeline on a plugin instance", "parameters": _id}},
}
