"""Pipelines the CUBE way: list, search, one pipeline with its pipings and default parameters,
and create one from a CUBE ``plugin_tree`` (as ``caw`` reads and writes them).

Pipings and their parameters have no rows of their own here: their ids are derived from the
pipeline's id and their position (see :data:`PIPING_ID_BASE`).
"""

from __future__ import annotations

import json
from typing import Any

from tornado import web

from ..base import endpoint
from .base import PARAM_ID_BASE, CubeHandler, Resource, cube_path
from .plugins import TYPE_NAMES

PIPING_ID_BASE = 1000
SEARCH_FIELDS = ("id", "name", "owner_username", "category", "description", "authors")


def pipeline_resource(h: CubeHandler, p: dict[str, Any]) -> Resource:
    pid = p["id"]
    return Resource(h.url(f"pipelines/{pid}/"), {
        "id": pid, "name": p["name"], "locked": True, "authors": p.get("authors") or "",
        "category": p.get("category") or "", "description": p.get("description") or "",
        "owner_username": p["owner"], "creation_date": p["created_at"], "modification_date": p["created_at"],
    }, {
        "plugins": h.url(f"pipelines/{pid}/plugins/"), "plugin_pipings": h.url(f"pipelines/{pid}/pipings/"),
        "default_parameters": h.url(f"pipelines/{pid}/parameters/"),
        "instances": h.url(f"pipelines/{pid}/workflows/"),
    })


def piping_id(pipeline_id: int, index: int) -> int:
    return pipeline_id * PIPING_ID_BASE + index


async def _pipeline(h: CubeHandler, pid: int) -> dict[str, Any]:
    for p in await h.run(h.backend.compute.pipelines, h.principal):
        if p["id"] == pid:
            return p
    raise web.HTTPError(404, "Not found.")


async def _pipings(h: CubeHandler, p: dict[str, Any]) -> list[tuple[Resource, dict[str, Any], dict | None]]:
    plugins = {(x["name"], x["version"]): x for x in await h.run(h.backend.compute.plugins)}
    index = {pp["title"]: n for n, pp in enumerate(p["pipings"])}
    out = []
    for n, pp in enumerate(p["pipings"]):
        plugin = plugins.get((pp["plugin_name"], pp["plugin_version"]))
        prev = index.get(pp["previous"]) if pp.get("previous") is not None else None
        iid = piping_id(p["id"], n)
        prev_id = piping_id(p["id"], prev) if prev is not None else None
        out.append((Resource(h.url(f"pipelines/pipings/{iid}/"), {
            "id": iid, "plugin_id": plugin["id"] if plugin else None, "pipeline_id": p["id"],
            "previous_id": prev_id,
        }, {
            "previous": h.url(f"pipelines/pipings/{prev_id}/") if prev_id is not None else None,
            "plugin": h.url(f"plugins/{plugin['id']}/") if plugin else None,
            "pipeline": h.url(f"pipelines/{p['id']}/"),
        }), pp, plugin))
    return out


class PipelineListHandler(CubeHandler):
    search = False

    @endpoint
    async def get(self) -> None:
        items = await self.run(self.backend.compute.pipelines, self.principal)
        if self.search:
            q = {k: self.get_argument(k) for k in SEARCH_FIELDS if self.get_argument(k, "")}
            items = [p for p in items if all(
                str(p["id"]) == v if k == "id" else
                (p["owner"] == v if k == "owner_username" else v.lower() in str(p.get(k) or "").lower())
                for k, v in q.items())]
        items.sort(key=lambda p: p["id"], reverse=True)
        limit, offset = self.page()
        self.reply_list([pipeline_resource(self, p) for p in items[offset:offset + limit]], len(items),
                        limit, offset, template=["name", "authors", "category", "description", "locked",
                                                 "plugin_tree"], queries=list(SEARCH_FIELDS))

    @endpoint
    async def post(self) -> None:
        """Create from CUBE's fields; ``plugin_tree`` is a JSON list (or its text)."""
        b = self.cube_args()
        tree = b.get("plugin_tree")
        if isinstance(tree, str):
            try:
                tree = json.loads(tree)
            except ValueError:
                raise web.HTTPError(400, "plugin_tree must be a JSON list of pipings") from None
        source = {k: b[k] for k in ("name", "authors", "category", "description", "locked") if k in b}
        source["plugin_tree"] = tree
        p = await self.run(self.backend.compute.save_pipeline, self.principal, source)
        self.reply_item(pipeline_resource(self, p), 201)


class PipelineSearchHandler(PipelineListHandler):
    search = True


class PipelineHandler(CubeHandler):
    @endpoint
    async def get(self, pid: str) -> None:
        self.reply_item(pipeline_resource(self, await _pipeline(self, int(pid))))


class PipingsHandler(CubeHandler):
    @endpoint
    async def get(self, pid: str) -> None:
        rows = [r for r, _, _ in await _pipings(self, await _pipeline(self, int(pid)))]
        limit, offset = self.page()
        self.reply_list(rows[offset:offset + limit], len(rows), limit, offset)


class PipingHandler(CubeHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        pid, n = divmod(int(iid), PIPING_ID_BASE)
        rows = await _pipings(self, await _pipeline(self, pid))
        if n >= len(rows):
            raise web.HTTPError(404, "Not found.")
        self.reply_item(rows[n][0])


class DefaultParametersHandler(CubeHandler):
    @endpoint
    async def get(self, pid: str) -> None:
        items = []
        for piping, pp, plugin in await _pipings(self, await _pipeline(self, int(pid))):
            specs = {s["name"]: (n, s) for n, s in enumerate(plugin["parameters"])} if plugin else {}
            for name, value in pp.get("params", {}).items():
                n, spec = specs.get(name, (0, {"type": "str"}))
                param_id = plugin["id"] * PARAM_ID_BASE + n if plugin else 0
                items.append(Resource(self.url(f"pipelines/{pid}/parameters/"), {
                    "id": piping.data["id"] * PIPING_ID_BASE + n, "value": value,
                    "type": TYPE_NAMES.get(spec["type"], spec["type"]),
                    "plugin_piping_id": piping.data["id"], "previous_plugin_piping_id": None,
                    "param_name": name, "param_id": param_id, "plugin_name": pp["plugin_name"],
                    "plugin_version": pp["plugin_version"], "plugin_id": plugin["id"] if plugin else None,
                }, {"plugin_piping": piping.url, "plugin_param": self.url(f"plugins/parameters/{param_id}/")}))
        limit, offset = self.page()
        self.reply_list(items[offset:offset + limit], len(items), limit, offset)


default_handlers = [
    (cube_path("pipelines"), PipelineListHandler),
    (cube_path("pipelines/search"), PipelineSearchHandler),
    (cube_path(r"pipelines/(\d+)"), PipelineHandler),
    (cube_path(r"pipelines/(\d+)/pipings"), PipingsHandler),
    (cube_path(r"pipelines/pipings/(\d+)"), PipingHandler),
    (cube_path(r"pipelines/(\d+)/parameters"), DefaultParametersHandler),
]
_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
openapi_paths = {
    "/pipelines/": {"get": {"summary": "Pipelines"},
                    "post": {"summary": "Create one: name, authors, category, description, plugin_tree"}},
    "/pipelines/search/": {"get": {"summary": "Search pipelines: " + ", ".join(SEARCH_FIELDS)}},
    "/pipelines/{id}/": {"get": {"summary": "One pipeline", "parameters": _id}},
    "/pipelines/{id}/pipings/": {"get": {"summary": "Its pipings", "parameters": _id}},
    "/pipelines/{id}/parameters/": {"get": {"summary": "Its default parameters", "parameters": _id}},
    "/pipelines/pipings/{id}/": {"get": {"summary": "One piping", "parameters": _id}},
}
