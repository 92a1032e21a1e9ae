"""Plugins over REST: list and read (everyone), register and remove (administrators)."""

from __future__ import annotations

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"


class PluginsHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        items = await self.run(self.backend.compute.plugins, self.get_argument("name", None))
        self.reply({"total": len(items), "items": items})

    @endpoint
    async def post(self) -> None:
        """Register from ``{"descriptor": {…}}``, ``{"image": "name:tag"}`` or ``{"executable": "cmd"}``."""
        out = await self.run(self.backend.compute.register, self.principal, self.json_body())
        self.reply(out, 201)


class PluginHandler(ChrisHandler):
    @endpoint
    async def get(self, ref: str) -> None:
        self.reply(await self.run(self.backend.compute.plugin, int(ref) if ref.isdigit() else ref))

    @endpoint
    async def delete(self, ref: str) -> None:
        await self.run(self.backend.compute.unregister, self.principal, int(ref))
        self.set_status(204)
        await self.finish()


default_handlers = [
    (api_path("plugins"), PluginsHandler),
    (api_path(r"plugins/(\d+)"), PluginHandler),
]

openapi_paths = {
    "/plugins": {"get": {"summary": "Registered plugins (all versions)"},
                 "post": {"summary": "Admin: register a plugin from a descriptor, a local image or an executable"}},
    "/plugins/{id}": {"get": {"summary": "One plugin"}, "delete": {"summary": "Admin: remove an unused plugin"}},
}
