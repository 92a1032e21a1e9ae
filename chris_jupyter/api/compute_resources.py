"""Compute resources over REST: list (everyone), add and remove (administrators), and the
resources a plugin is registered for."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:compute"


def resource_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``Compute.add_compute_resource`` from a request body."""
    for key in ("name", "kind"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise BadRequest(f"'{key}' (a string) is required")
    unknown = set(body) - {"name", "kind", "settings", "description", "max_job_time"}
    if unknown:
        raise BadRequest(f"unknown field {sorted(unknown)[0]!r}: give name, kind, settings, description, "
                         "max_job_time")
    if not isinstance(body.get("description", ""), str):
        raise BadRequest("'description' must be a string")
    return {"name": body["name"], "kind": body["kind"], "settings": body.get("settings"),
            "description": body.get("description", ""), "max_job_time": body.get("max_job_time")}


class ComputeResourcesHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        items = await self.run(self.backend.compute.compute_resources, self.principal)
        self.reply({"total": len(items), "items": items})

    @endpoint
    async def post(self) -> None:
        """Add ``{"name", "kind", "settings"?, "description"?, "max_job_time"?}`` (administrators)."""
        args = resource_arguments(self.json_body())
        self.reply(await self.run(self.backend.compute.add_compute_resource, self.principal, **args), 201)


class ComputeResourceHandler(ChrisHandler):
    @endpoint
    async def delete(self, name: str) -> None:
        await self.run(self.backend.compute.remove_compute_resource, self.principal, name)
        self.set_status(204)
        await self.finish()


class PluginComputeResourcesHandler(ChrisHandler):
    @endpoint
    async def put(self, pid: str) -> None:
        """Register the plugin for exactly ``{"compute_resources": [names]}`` (first: its default)."""
        names = self.json_body().get("compute_resources")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRequest("'compute_resources' must be a list of compute resource names")
        self.reply(await self.run(self.backend.compute.assign_compute_resources, self.principal,
                                  int(pid), names))


default_handlers = [
    (api_path("compute_resources"), ComputeResourcesHandler),
    (api_path(r"compute_resources/([\w.\-]+)"), ComputeResourceHandler),
    (api_path(r"plugins/(\d+)/compute_resources"), PluginComputeResourcesHandler),
]

openapi_paths = {
    "/compute_resources": {"get": {"summary": "Where plugin jobs can run"},
                           "post": {"summary": "Admin: add a compute resource (name, kind, settings)"}},
    "/compute_resources/{name}": {"delete": {"summary": "Admin: remove a compute resource without unfinished jobs"}},
    "/plugins/{id}/compute_resources": {"put": {"summary": "Admin: the compute resources a plugin runs on"}},
}
