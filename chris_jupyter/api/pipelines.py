"""Pipelines over REST: upload (YAML or JSON, ChRIS format), list, delete, run on an instance."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:pipelines"


class PipelinesHandler(ChrisHandler):
    """``GET pipelines`` lists saved pipelines; ``POST pipelines`` saves one (YAML or JSON)."""

    @endpoint
    async def get(self) -> None:
        """The pipelines the caller may run."""
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
    """``DELETE pipelines/<id>`` removes a pipeline."""

    @endpoint
    async def delete(self, pid: str) -> None:
        """Delete a saved pipeline (its owner or an administrator)."""
        await self.run(self.backend.compute.delete_pipeline, self.principal, int(pid))
        self.set_status(204)
        await self.finish()


class PipelineRunsHandler(ChrisHandler):
    """``POST pipelines/<id>/runs``: run a pipeline on a parent instance."""

    @endpoint
    async def post(self, pid: str) -> None:
        """Run on ``previous_id``: ``{"previous_id", "title"?, "params"?: {piping: {…}},
        "resources"?: {piping: {…}}, "compute_resources"?: {piping: name}}``."""
        body = self.json_body()
        where_to = body.get("compute_resources")
        if where_to is not None and not (isinstance(where_to, dict)
                                         and all(isinstance(v, str) for v in where_to.values())):
            raise web.HTTPError(400, "compute_resources: a mapping of piping title to compute resource name")
        self.reply(await self.run(self.backend.compute.run_pipeline, self.principal, int(pid),
                                  previous_id=body.get("previous_id"), title=body.get("title"),
                                  params=body.get("params"), resources=body.get("resources"),
                                  compute_resources=where_to), 201)


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
