"""Plugins over REST: list and read (everyone), register and remove (administrators)."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:plugins"

#: Text fields of a registration request, passed on when they are strings.
REGISTER_TEXT = ("name", "version", "dock_image", "execshell", "selfpath", "selfexec", "source")


def register_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``Compute.register`` from a registration request's JSON body."""
    out: dict[str, Any] = {}
    for k in REGISTER_TEXT:
        if body.get(k) is not None:
            if not isinstance(body[k], str):
                raise BadRequest(f"'{k}' must be a string")
            out[k] = body[k]
    where = body.get("compute_resources")
    if where is not None:
        if not isinstance(where, list) or not all(isinstance(n, str) for n in where):
            raise BadRequest("'compute_resources' must be a list of compute resource names")
        out["compute_resources"] = where
    if isinstance(body.get("descriptor"), dict):
        out["descriptor"] = body["descriptor"]
    elif isinstance(body.get("image"), str):
        out["image"] = body["image"]
    elif isinstance(body.get("executable"), str):
        out["executable"] = body["executable"]
    return out


class PluginsHandler(ChrisHandler):
    """``GET plugins`` lists registered plugins; ``POST plugins`` registers one."""

    @endpoint
    async def get(self) -> None:
        """Registered plugins, optionally those called ``name``."""
        items = await self.run(self.backend.compute.plugins, self.get_argument("name", None))
        self.reply({"total": len(items), "items": items})

    @endpoint
    async def post(self) -> None:
        """Register from ``{"descriptor": {…}}``, ``{"image": "name:tag"}`` or ``{"executable": "cmd"}``."""
        out = await self.run(self.backend.compute.register, self.principal, **register_arguments(self.json_body()))
        self.reply(out, 201)


class PluginHandler(ChrisHandler):
    """``GET``/``DELETE plugins/<id or name>``: one plugin."""

    @endpoint
    async def get(self, ref: str) -> None:
        """One plugin (by id, or the newest version of a name)."""
        self.reply(await self.run(self.backend.compute.plugin, int(ref) if ref.isdigit() else ref))

    @endpoint
    async def delete(self, ref: str) -> None:
        """Unregister a plugin (administrators)."""
        await self.run(self.backend.compute.unregister, self.principal, int(ref))
        self.set_status(204)
        await self.finish()


class RunnerHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        """Which runner runs the jobs (``local``, ``docker``), and whether it runs images."""
        self.reply(self.backend.compute.runner_info())


default_handlers = [
    (api_path("plugins"), PluginsHandler),
    (api_path(r"plugins/(\d+)"), PluginHandler),
    (api_path("runner"), RunnerHandler),
]

openapi_paths = {
    "/plugins": {"get": {"summary": "Registered plugins (all versions)"},
                 "post": {"summary": "Admin: register a plugin from a descriptor, a local image or an executable"}},
    "/plugins/{id}": {"get": {"summary": "One plugin"}, "delete": {"summary": "Admin: remove an unused plugin"}},
    "/runner": {"get": {"summary": "The runner of jobs {name: local|docker, confines_jobs, runs_images}"}},
}
