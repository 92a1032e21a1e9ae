"""Plugins the CUBE way: list, search, one plugin, its parameters, and running it."""

from __future__ import annotations

from typing import Any

from tornado import web

from ...plugins.descriptor import RESOURCE_KEYS
from ..base import endpoint
from . import compute
from .base import PARAM_ID_BASE, TYPE_NAMES, CubeHandler, Resource, compute_resource, cube_path
from .instances import instance_resource
from .paths import from_cube_list

# Request fields that are not plugin parameters (CUBE's plugin instance fields).
INSTANCE_FIELDS = ("title", "previous_id", "compute_resource_name", *RESOURCE_KEYS)
SEARCH_FIELDS = ("id", "name", "name_exact", "version", "type", "category", "title",
                 "name_title_category", "dock_image")


def plugin_resource(h: CubeHandler, p: dict[str, Any]) -> Resource:
    pid = p["id"]
    desc = p.get("descriptor") or {}
    data = {"id": pid, "creation_date": p["created_at"], "name": p["name"], "version": p["version"],
            "dock_image": p["dock_image"], "public_repo": desc.get("public_repo", ""),
            "icon": desc.get("icon", ""), "type": p["type"], "stars": 0, "authors": desc.get("authors", ""),
            "title": p.get("title") or "", "category": p.get("category") or "",
            "description": desc.get("description", ""), "documentation": desc.get("documentation", ""),
            "license": desc.get("license", ""), "execshell": desc.get("execshell", ""),
            "selfpath": desc.get("selfpath", ""), "selfexec": desc.get("selfexec", "")}
    for k in ("min_number_of_workers", "max_number_of_workers", "min_cpu_limit", "max_cpu_limit",
              "min_memory_limit", "max_memory_limit", "min_gpu_limit", "max_gpu_limit"):
        data[k] = desc.get(k)
    return Resource(h.url(f"plugins/{pid}/"), data, {
        "meta": h.url(f"plugins/{pid}/"),
        "parameters": h.url(f"plugins/{pid}/parameters/"),
        "instances": h.url(f"plugins/{pid}/instances/"),
        "compute_resources": h.url(f"plugins/{pid}/computeresources/"),
    })


def parameter_resource(h: CubeHandler, plugin: dict[str, Any], index: int, spec: dict[str, Any]) -> Resource:
    pid = plugin["id"]
    param_id = pid * PARAM_ID_BASE + index
    data = {"id": param_id, "name": spec["name"], "type": TYPE_NAMES.get(spec["type"], spec["type"]),
            "optional": spec.get("optional", False), "default": spec.get("default"),
            "flag": spec.get("flag", ""), "short_flag": spec.get("short_flag", ""),
            "action": spec.get("action", "store"), "help": spec.get("help", ""),
            "ui_exposed": spec.get("ui_exposed", True)}
    return Resource(h.url(f"plugins/parameters/{param_id}/"), data, {"plugin": h.url(f"plugins/{pid}/")})


def matches(p: dict[str, Any], q: dict[str, str]) -> bool:
    def has(field: str, value: str) -> bool:
        return value.lower() in str(p.get(field) or "").lower()

    checks = {
        "id": lambda v: str(p["id"]) == v,
        "name": lambda v: has("name", v),
        "name_exact": lambda v: p["name"] == v,
        "version": lambda v: p["version"] == v,
        "type": lambda v: p["type"] == v,
        "category": lambda v: has("category", v),
        "title": lambda v: has("title", v),
        "dock_image": lambda v: p["dock_image"] == v,
        "name_title_category": lambda v: has("name", v) or has("title", v) or has("category", v),
    }
    return all(checks[k](v) for k, v in q.items() if k in checks and v != "")


class PluginListHandler(CubeHandler):
    search = False

    @endpoint
    async def get(self) -> None:
        plugins = await self.run(self.backend.compute.plugins)
        if self.search:
            q = {k: self.get_argument(k) for k in SEARCH_FIELDS if self.get_argument(k, None) is not None}
            plugins = [p for p in plugins if matches(p, q)]
        plugins.sort(key=lambda p: p["id"], reverse=True)
        limit, offset = self.page()
        items = [plugin_resource(self, p) for p in plugins[offset:offset + limit]]
        self.reply_list(items, len(plugins), limit, offset, queries=list(SEARCH_FIELDS))


class PluginSearchHandler(PluginListHandler):
    search = True


class PluginHandler(CubeHandler):
    @endpoint
    async def get(self, pid: str) -> None:
        self.reply_item(plugin_resource(self, await self.run(self.backend.compute.plugin, int(pid))))


class PluginParametersHandler(CubeHandler):
    @endpoint
    async def get(self, pid: str) -> None:
        plugin = await self.run(self.backend.compute.plugin, int(pid))
        params = plugin["parameters"]
        limit, offset = self.page()
        items = [parameter_resource(self, plugin, i, params[i]) for i in range(len(params))][offset:offset + limit]
        self.reply_list(items, len(params), limit, offset)


class PluginParameterHandler(CubeHandler):
    @endpoint
    async def get(self, param_id: str) -> None:
        pid, index = divmod(int(param_id), PARAM_ID_BASE)
        plugin = await self.run(self.backend.compute.plugin, pid)
        if index >= len(plugin["parameters"]):
            raise web.HTTPError(404, "Not found.")
        self.reply_item(parameter_resource(self, plugin, index, plugin["parameters"][index]))


class PluginComputeResourcesHandler(CubeHandler):
    @endpoint
    async def get(self, pid: str) -> None:
        await self.run(self.backend.compute.plugin, int(pid))
        self.reply_list([compute_resource(self)], 1, 1, 0)


class PluginInstancesHandler(CubeHandler):
    """``GET``: this plugin's instances; ``POST``: run it (CUBE's plugin instance create)."""

    @endpoint
    async def get(self, pid: str) -> None:
        from .instances import list_instances

        await list_instances(self, plugin_id=int(pid))

    @endpoint
    async def post(self, pid: str) -> None:
        plugin = await self.run(self.backend.compute.plugin, int(pid))
        body = self.cube_args()
        types = {p["name"]: p["type"] for p in plugin["parameters"]}
        params: dict[str, Any] = {}
        for k, v in body.items():
            if k in INSTANCE_FIELDS:
                continue
            if types.get(k) in ("path", "unextpath") and isinstance(v, str):
                v = from_cube_list(v)
            params[k] = v
        resources = {k: body[k] for k in RESOURCE_KEYS if body.get(k) not in (None, "")}
        prev = body.get("previous_id")
        if prev not in (None, ""):
            try:
                prev = int(prev)
            except (TypeError, ValueError):
                raise web.HTTPError(400, f"previous_id must be a plugin instance id, got {prev!r}") from None
        else:
            prev = None
        title = body.get("title")
        inst = await self.run(compute.run_plugin, self.backend, self.principal, plugin["id"], params,
                              previous_id=prev, title=str(title) if title else None, resources=resources)
        self.reply_item(instance_resource(self, inst, plugin), 201)


default_handlers = [
    (cube_path("plugins"), PluginListHandler),
    (cube_path("plugins/search"), PluginSearchHandler),
    (cube_path(r"plugins/(\d+)"), PluginHandler),
    (cube_path(r"plugins/(\d+)/parameters"), PluginParametersHandler),
    (cube_path(r"plugins/parameters/(\d+)"), PluginParameterHandler),
    (cube_path(r"plugins/(\d+)/computeresources"), PluginComputeResourcesHandler),
    (cube_path(r"plugins/(\d+)/instances"), PluginInstancesHandler),
]
_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
openapi_paths = {
    "/plugins/": {"get": {"summary": "Plugins, newest first (paginated)"}},
    "/plugins/search/": {"get": {"summary": "Search plugins: " + ", ".join(SEARCH_FIELDS)}},
    "/plugins/{id}/": {"get": {"summary": "One plugin", "parameters": _id}},
    "/plugins/{id}/parameters/": {"get": {"summary": "A plugin's parameters (CUBE type names)",
                                          "parameters": _id}},
    "/plugins/{id}/instances/": {
        "get": {"summary": "A plugin's instances", "parameters": _id},
        "post": {"summary": "Run the plugin: parameters by name, previous_id, title, resource limits; "
                            "path parameters in either path dialect", "parameters": _id}},
    "/plugins/parameters/{id}/": {"get": {"summary": "One plugin parameter", "parameters": _id}},
    "/plugins/{id}/computeresources/": {"get": {"summary": "Where the plugin runs (the one compute resource)",
                                                "parameters": _id}},
}
