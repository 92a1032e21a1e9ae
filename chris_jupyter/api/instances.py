"""Plugin instances (jobs) over REST: run, list, read, logs, provenance, cancel, wait."""

from __future__ import annotations

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"


class InstancesHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        limit, offset = self.page_args()
        feed = self.get_argument("feed_id", None)
        self.reply(await self.run(
            self.backend.compute.instances, self.principal,
            feed_id=self.int_arg("feed_id", 0, lo=1) if feed else None,
            state=self.get_argument("state", None), limit=limit, offset=offset))

    @endpoint
    async def post(self) -> None:
        """Run a plugin: ``{"plugin", "version"?, "params"?, "previous_id"?, "title"?, "resources"?}``."""
        self.reply(await self.run(self.backend.compute.run, self.principal, self.json_body()), 201)


class InstanceHandler(ChrisHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        self.reply(await self.run(self.backend.compute.instance, self.principal, int(iid)))


class InstanceWaitHandler(ChrisHandler):
    """``GET instances/<id>/wait?timeout=`` answers when the job is final (no client polling)."""

    @endpoint
    async def get(self, iid: str) -> None:
        timeout = self.int_arg("timeout", 60, lo=0, hi=3600)
        self.reply(await self.run(self.backend.compute.wait, self.principal, int(iid), timeout))


class LogsHandler(ChrisHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        text = await self.run(self.backend.compute.logs, self.principal, int(iid))
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        await self.finish(text)


class ProvenanceHandler(ChrisHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        self.reply(await self.run(self.backend.compute.provenance, self.principal, int(iid)))


class CancelHandler(ChrisHandler):
    @endpoint
    async def post(self, iid: str) -> None:
        cancelled = await self.run(self.backend.compute.cancel, self.principal, int(iid))
        self.reply({"cancelled": cancelled})


default_handlers = [
    (api_path("instances"), InstancesHandler),
    (api_path(r"instances/(\d+)"), InstanceHandler),
    (api_path(r"instances/(\d+)/wait"), InstanceWaitHandler),
    (api_path(r"instances/(\d+)/logs"), LogsHandler),
    (api_path(r"instances/(\d+)/provenance"), ProvenanceHandler),
    (api_path(r"instances/(\d+)/cancel"), CancelHandler),
]

_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
openapi_paths = {
    "/instances": {"get": {"summary": "Plugin instances (filter feed_id, state)"},
                   "post": {"summary": "Run a plugin (fs: new feed; ds: after previous_id; ts: joins)"}},
    "/instances/{id}": {"get": {"summary": "One instance and its state", "parameters": _id}},
    "/instances/{id}/wait": {"get": {"summary": "Answer when the instance is final", "parameters": _id}},
    "/instances/{id}/logs": {"get": {"summary": "The job's output (live while it runs)", "parameters": _id}},
    "/instances/{id}/provenance": {"get": {"summary": "Everything needed to re-run it", "parameters": _id}},
    "/instances/{id}/cancel": {"post": {"summary": "Cancel it and its descendants", "parameters": _id}},
}
