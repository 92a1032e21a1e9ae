"""Plugin instances the CUBE way: read, poll or cancel with ``PUT``, list, files, parameters."""

from __future__ import annotations

from typing import Any

from tornado import web

from ... import states
from ...compute.instances import DEFAULT_REQUEST
from ...plugins.descriptor import RESOURCE_KEYS
from ..base import endpoint
from .base import PARAM_ID_BASE, TYPE_NAMES, CubeHandler, Resource, cube_path
from .paths import to_cube5

# The CUBE clients know CUBE 5's statuses only (aiochris 0.10 refuses others): a job whose data
# travels to or from a remote compute resource shows as scheduled or started there.
CUBE_STATUS = {states.COPYING: states.SCHEDULED, states.UPLOADING: states.STARTED}
SEARCH_FIELDS = ("id", "feed_id", "plugin_id", "plugin_name", "plugin_version", "status",
                 "previous_id", "title", "owner_username")


def instance_resource(h: CubeHandler, i: dict[str, Any], plugin: dict[str, Any] | None) -> Resource:
    iid = i["id"]
    res = i.get("resources") or {}
    out_path = i.get("output_path") or ""
    if h.old_paths and out_path:
        out_path = to_cube5(out_path)
    data = {
        "id": iid, "title": i.get("title") or "", "compute_resource_name": "host",
        "plugin_id": plugin["id"] if plugin else None, "plugin_name": i["plugin"],
        "plugin_version": i["plugin_version"], "plugin_type": plugin["type"] if plugin else None,
        "pipeline_inst": i.get("pipeline_run_id"), "feed_id": i["feed_id"],
        "start_date": i.get("started_at") or i["created_at"],
        "end_date": i.get("ended_at") or i.get("started_at") or i["created_at"],
        "output_path": out_path, "status": CUBE_STATUS.get(i["state"], i["state"]), "summary": "", "raw": "",
        "owner_username": i["owner"], "size": 0,
        **{key: res.get(key, DEFAULT_REQUEST[key]) for key in RESOURCE_KEYS},
        "error_code": "" if i["state"] != states.ERROR else "CODE99",
        "previous_id": i.get("previous_id"),
    }
    prev = i.get("previous_id")
    return Resource(h.url(f"plugins/instances/{iid}/"), data, {
        "previous": h.url(f"plugins/instances/{prev}/") if prev else None,
        "feed": h.url(f"{i['feed_id']}/"),
        "plugin": h.url(f"plugins/{plugin['id']}/") if plugin else None,
        "descendants": h.url(f"plugins/instances/{iid}/descendants/"),
        "files": h.url(f"plugins/instances/{iid}/files/"),
        "parameters": h.url(f"plugins/instances/{iid}/parameters/"),
        "compute_resource": h.url("computeresources/1/"),
        "splits": h.url(f"plugins/instances/{iid}/splits/"),
    })


async def plugin_index(h: CubeHandler) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["name"], p["version"]): p for p in await h.run(h.backend.compute.plugins)}


async def one_instance(h: CubeHandler, iid: int) -> Resource:
    inst = await h.run(h.backend.compute.instance, h.principal, iid)
    index = await plugin_index(h)
    return instance_resource(h, inst, index.get((inst["plugin"], inst["plugin_version"])))


async def list_instances(h: CubeHandler, *, plugin_id: int | None = None, feed_id: int | None = None,
                         search: bool = False) -> None:
    limit, offset = h.page()
    page = await h.run(h.backend.compute.instances, h.principal, feed_id=feed_id,
                       limit=10**9, offset=0)
    index = await plugin_index(h)
    rows = [instance_resource(h, i, index.get((i["plugin"], i["plugin_version"]))) for i in page["items"]]
    q: dict[str, str] = {}
    if search:
        q = {k: h.get_argument(k) for k in SEARCH_FIELDS if h.get_argument(k, None) not in (None, "")}
    if plugin_id is not None:
        q["plugin_id"] = str(plugin_id)
    rows = [r for r in rows if all(str(r.data.get(k)) == v for k, v in q.items())]
    rows.sort(key=lambda r: r.data["id"], reverse=True)
    h.reply_list(rows[offset:offset + limit], len(rows), limit, offset, queries=list(SEARCH_FIELDS))


class InstanceListHandler(CubeHandler):
    search = False

    @endpoint
    async def get(self) -> None:
        await list_instances(self, search=self.search)


class InstanceSearchHandler(InstanceListHandler):
    search = True


class InstanceHandler(CubeHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        self.reply_item(await one_instance(self, int(iid)), template=["title", "status"])

    @endpoint
    async def put(self, iid: str) -> None:
        """CUBE's update: ``status: cancelled`` cancels; an empty body reads (aiochris polls so)."""
        b = self.cube_args()
        current = await one_instance(self, int(iid))
        status = b.get("status")
        if status not in (None, "", current.data["status"]):
            if status != "cancelled":
                raise web.HTTPError(400, f"status can only be set to 'cancelled', not {status!r}")
            if current.data["status"] not in states.FINAL:
                await self.run(self.backend.compute.cancel, self.principal, int(iid))
        title = b.get("title")
        if title not in (None, current.data["title"]):
            raise web.HTTPError(400, "renaming a plugin instance is not supported here")
        self.reply_item(await one_instance(self, int(iid)))


class InstanceFilesHandler(CubeHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        from .files import list_files

        inst = await self.run(self.backend.compute.instance, self.principal, int(iid))
        if not inst.get("output_path"):
            limit, offset = self.page()
            self.reply_list([], 0, limit, offset)
            return
        await list_files(self, under=inst["output_path"], extra={"plugin_inst_id": int(iid),
                                                                 "feed_id": inst["feed_id"]})


class InstanceParametersHandler(CubeHandler):
    @endpoint
    async def get(self, iid: str) -> None:
        inst = await self.run(self.backend.compute.instance, self.principal, int(iid))
        index = await plugin_index(self)
        plugin = index.get((inst["plugin"], inst["plugin_version"]))
        specs = {p["name"]: (n, p) for n, p in enumerate(plugin["parameters"])} if plugin else {}
        items = []
        for name, value in sorted((inst.get("params") or {}).items()):
            n, spec = specs.get(name, (0, {"type": "str"}))
            pid = plugin["id"] * PARAM_ID_BASE + n if plugin else 0
            items.append(Resource(
                self.url(f"plugins/instances/{iid}/parameters/"),
                {"id": pid, "param_name": name, "value": value,
                 "type": TYPE_NAMES.get(spec["type"], spec["type"])},
                {"plugin_inst": self.url(f"plugins/instances/{iid}/"),
                 "plugin_param": self.url(f"plugins/parameters/{pid}/")}))
        self.reply_list(items, len(items), len(items) or 1, 0)


default_handlers = [
    (cube_path("plugins/instances"), InstanceListHandler),
    (cube_path("plugins/instances/search"), InstanceSearchHandler),
    (cube_path(r"plugins/instances/(\d+)"), InstanceHandler),
    (cube_path(r"plugins/instances/(\d+)/files"), InstanceFilesHandler),
    (cube_path(r"plugins/instances/(\d+)/parameters"), InstanceParametersHandler),
]
_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
openapi_paths = {
    "/plugins/instances/": {"get": {"summary": "My plugin instances"}},
    "/plugins/instances/search/": {"get": {"summary": "Search instances: " + ", ".join(SEARCH_FIELDS)}},
    "/plugins/instances/{id}/": {
        "get": {"summary": "One instance (status, plugin_id, plugin_type, dates)", "parameters": _id},
        "put": {"summary": "Read it again, or cancel it with status=cancelled", "parameters": _id}},
    "/plugins/instances/{id}/files/": {"get": {"summary": "The instance's output files", "parameters": _id}},
    "/plugins/instances/{id}/parameters/": {"get": {"summary": "The values it ran with", "parameters": _id}},
}
