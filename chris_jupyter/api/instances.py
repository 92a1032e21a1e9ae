"""Plugin instances (jobs) over REST: run, list, read, logs, provenance, cancel, wait."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:compute"


def run_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``Compute.run`` from a run request's JSON body."""
    plugin = body.get("plugin")
    if plugin is None:
        raise BadRequest("'plugin' (an id, a name, 'name@version' or {name, version}) is required")
    where = body.get("compute_resource_name")
    if where is not None and not isinstance(where, str):
        raise BadRequest("'compute_resource_name' must be a string")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise BadRequest("'params' must be an object of parameter name -> value")
    return {"plugin": plugin, "params": params, "version": body.get("version"),
            "previous_id": body.get("previous_id"), "title": body.get("title"),
            "resources": body.get("resources"), "timeout": body.get("timeout"),
            "compute_resource_name": body.get("compute_resource_name")}


class InstancesHandler(ChrisHandler):
    """``GET instances`` lists plugin instances; ``POST instances`` runs a plugin."""

    @endpoint
    async def get(self) -> None:
        """One page of the caller's instances, by ``feed_id`` and ``state``."""
        limit, offset = self.page_args()
        feed = self.get_argument("feed_id", None)
        self.reply(await self.run(
            self.backend.compute.instances, self.principal,
            feed_id=self.int_arg("feed_id", 0, lo=1) if feed else None,
            state=self.get_argument("state", None), limit=limit, offset=offset))

    @endpoint
    async def post(self) -> None:
        """Run a plugin: ``{"plugin", "version"?, "params"?, "previous_id"?, "title"?, "resources"?}``."""
        args = run_arguments(self.json_body())
        self.reply(await self.run(self.backend.compute.run, self.principal, **args), 201)


class InstanceHandler(ChrisHandler):
    """``GET instances/<id>``: one plugin instance."""

    @endpoint
    async def get(self, iid: str) -> None:
        """One instance and its state."""
        self.reply(await self.run(self.backend.compute.instance, self.principal, int(iid)))


class InstanceWaitHandler(ChrisHandler):
    """``GET instances/<id>/wait?timeout=`` answers when the job is final (no client polling)."""

    @endpoint
    async def get(self, iid: str) -> None:
        """Wait (at most ``timeout`` seconds) for the instance to reach a final state."""
        timeout = self.int_arg("timeout", 60, lo=0, hi=3600)
        self.reply(await self.run(self.backend.compute.wait, self.principal, int(iid), timeout))


class LogsHandler(ChrisHandler):
    """``GET instances/<id>/logs``: the job's output as plain text."""

    @endpoint
    async def get(self, iid: str) -> None:
        """The job's log."""
        text = await self.run(self.backend.compute.logs, self.principal, int(iid))
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        await self.finish(text)


class ProvenanceHandler(ChrisHandler):
    """``GET instances/<id>/provenance``: what produced an instance's outputs."""

    @endpoint
    async def get(self, iid: str) -> None:
        """The chain of instances, plugins and parameters behind an instance."""
        self.reply(await self.run(self.backend.compute.provenance, self.principal, int(iid)))


class CancelHandler(ChrisHandler):
    """``POST instances/<id>/cancel``: stop a job (and its descendants)."""

    @endpoint
    async def post(self, iid: str) -> None:
        """Cancel the instance; answers which instances were cancelled."""
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
