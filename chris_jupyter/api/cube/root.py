"""The root (``api/v1/``): the caller's feeds with the ``collection_links`` every client starts
from; feeds, their notes and comments; the one compute resource."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tornado import web

from ... import states
from ..base import endpoint
from .base import CubeHandler, Resource, compute_resource, cube_path

# CUBE's per-state counters of a feed -> the job states each counts (a job copying its inputs
# to a compute resource counts as scheduled, one whose outputs come back as started).
STATE_COUNTERS = {"created_jobs": (states.CREATED,), "waiting_jobs": (states.WAITING,),
                  "scheduled_jobs": (states.SCHEDULED, states.COPYING),
                  "started_jobs": (states.STARTED, states.UPLOADING),
                  "registering_jobs": (states.REGISTERING,), "finished_jobs": (states.SUCCESS,),
                  "errored_jobs": (states.ERROR,), "cancelled_jobs": (states.CANCELLED,)}
NOTE_TITLE = "Description"  # CUBE's default title of a feed's note
SEARCH_FIELDS = ("id", "name", "name_icontains", "name_exact", "owner_username")


def collection_links(h: CubeHandler) -> dict[str, str]:
    """What the root links to. JSON clients (aiochris, caw) get CUBE 5's ``uploadedfiles``,
    Collection+JSON clients (python-chrisclient) CUBE 6's ``userfiles``: aiochris refuses a
    root that has both."""
    links = {name: h.url(suffix) for name, suffix in (
        ("chrisinstance", "chrisinstance/1/"), ("compute_resources", "computeresources/"),
        ("plugin_metas", "plugins/"), ("plugins", "plugins/"), ("plugin_instances", "plugins/instances/"),
        ("pipelines", "pipelines/"), ("workflows", "pipelines/workflows/"), ("tags", "tags/"),
        ("pacsfiles", "pacsfiles/"), ("filebrowser", "filebrowser/"), ("pacsseries", "pacsseries/"),
        ("user", f"users/{h.principal.user_id}/"), ("groups", "groups/"),
        ("public_feeds", "publicfeeds/"), ("pipelinesourcefiles", "pipelines/sourcefiles/"),
        ("pacs", "pacs/"), ("pacsqueries", "pacs/queries/"),
    )}
    links["uploadedfiles" if h.wants_json else "userfiles"] = h.url("uploadedfiles/" if h.wants_json
                                                                     else "userfiles/")
    return links


async def feed_resource(h: CubeHandler, f: dict[str, Any]) -> Resource:
    fid = f["id"]
    page = await h.run(h.backend.compute.instances, h.principal, feed_id=fid, limit=10**9)
    counts = Counter(i["state"] for i in page["items"])
    data: dict[str, Any] = {"id": fid, "creation_date": f["created_at"], "modification_date": f["modified_at"],
                            "name": f["name"], "creator_username": f["owner"]}
    data.update({counter: sum(counts.get(x, 0) for x in which) for counter, which in STATE_COUNTERS.items()})
    return Resource(h.url(f"{fid}/"), data, {
        "owner": [h.url(f"users/{h.principal.user_id}/")] if f["owner"] == h.principal.username else [],
        "note": h.url(f"note{fid}/"), "tags": h.url(f"{fid}/tags/"), "taggings": h.url(f"{fid}/taggings/"),
        "comments": h.url(f"{fid}/comments/"), "files": h.url(f"{fid}/files/"),
        "plugin_instances": h.url(f"{fid}/plugininstances/"),
    })


class RootHandler(CubeHandler):
    """``api/v1/`` and ``api/v1/search/``: feeds (newest first) and the collection links."""

    search = False

    @endpoint
    async def get(self) -> None:
        limit, offset = self.page()
        name = None
        if self.search:
            name = self.get_argument("name", "") or self.get_argument("name_icontains", "") or None
            if self.get_argument("id", ""):
                feed = await self.run(self.backend.feeds.get, self.principal, self.int_arg("id", 0, lo=1))
                items = [await feed_resource(self, feed)]
                self.reply_list(items, 1, limit, offset, collection_links=collection_links(self))
                return
        page = await self.run(self.backend.feeds.list, self.principal, name_contains=name,
                              owner=self.get_argument("owner_username", None) or None,
                              limit=limit, offset=offset)
        feeds = page.extra["items"]
        if self.search and self.get_argument("name_exact", ""):
            feeds = [f for f in feeds if f["name"] == self.get_argument("name_exact")]
        items = [await feed_resource(self, f) for f in feeds]
        self.reply_list(items, page.total, limit, offset, collection_links=collection_links(self),
                        queries=list(SEARCH_FIELDS))


class SearchHandler(RootHandler):
    search = True


class FeedHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        feed = await self.run(self.backend.feeds.get, self.principal, int(fid))
        self.reply_item(await feed_resource(self, feed), template=["name", "owner"])

    @endpoint
    async def put(self, fid: str) -> None:
        b = self.cube_args()
        if b.get("owner") not in (None, "", self.principal.username):
            raise web.HTTPError(400, "changing a feed's owner is not supported here; share it instead")
        name = b.get("name")
        if name is not None and not isinstance(name, str):
            raise web.HTTPError(400, "'name' must be a string")
        feed = await self.run(self.backend.feeds.update, self.principal, int(fid), name=name, note=None)
        self.reply_item(await feed_resource(self, feed))

    @endpoint
    async def delete(self, fid: str) -> None:
        await self.run(self.backend.feeds.delete, self.principal, int(fid))
        self.set_status(204)
        await self.finish()


def note_resource(h: CubeHandler, f: dict[str, Any]) -> Resource:
    fid = f["id"]
    return Resource(h.url(f"note{fid}/"), {"id": fid, "title": NOTE_TITLE, "content": f["note"] or ""},
                    {"feed": h.url(f"{fid}/")})


class NoteHandler(CubeHandler):
    """A feed's note is its own resource in CUBE (title and content); here it is the feed's note
    text, whose title is always CUBE's default, :data:`NOTE_TITLE`."""

    @endpoint
    async def get(self, fid: str) -> None:
        feed = await self.run(self.backend.feeds.get, self.principal, int(fid))
        self.reply_item(note_resource(self, feed), template=["title", "content"])

    @endpoint
    async def put(self, fid: str) -> None:
        b = self.cube_args()
        if b.get("title") not in (None, "", NOTE_TITLE):
            raise web.HTTPError(400, f"a note's title is always {NOTE_TITLE!r} here: send only 'content'")
        content = b.get("content")
        if not isinstance(content, str):
            raise web.HTTPError(400, "'content' (a string) is required")
        feed = await self.run(self.backend.feeds.update, self.principal, int(fid), name=None, note=content)
        self.reply_item(note_resource(self, feed))


class CommentsHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        items = await self.run(self.backend.feeds.comments, self.principal, int(fid))
        res = [Resource(self.url(f"{fid}/comments/{c['id']}/"), {
            "id": c["id"], "title": c.get("title", ""), "content": c.get("content", ""),
            "owner_username": c.get("author") or c.get("owner"), "feed_id": int(fid)},
            {"feed": self.url(f"{fid}/")}) for c in items]
        limit, offset = self.page()
        self.reply_list(res[offset:offset + limit], len(res), limit, offset, template=["title", "content"])

    @endpoint
    async def post(self, fid: str) -> None:
        b = self.cube_args()
        c = await self.run(self.backend.feeds.add_comment, self.principal, int(fid),
                           title=str(b.get("title") or ""), content=str(b.get("content") or ""))
        self.reply_item(Resource(self.url(f"{fid}/comments/{c['id']}/"), {
            "id": c["id"], "title": c.get("title", ""), "content": c.get("content", ""), "feed_id": int(fid)},
            {"feed": self.url(f"{fid}/")}), 201)


class FeedInstancesHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        from .instances import list_instances

        await self.run(self.backend.feeds.get, self.principal, int(fid))
        await list_instances(self, feed_id=int(fid))


class FeedFilesHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        from .files import list_files

        feed = await self.run(self.backend.feeds.get, self.principal, int(fid))
        await list_files(self, under=feed["folder"], extra={"feed_id": int(fid)})


class ComputeResourcesHandler(CubeHandler):
    @endpoint
    async def get(self) -> None:
        self.reply_list([compute_resource(self)], 1, 1, 0)


default_handlers = [
    (r"api/v1/?", RootHandler),
    (cube_path("search"), SearchHandler),
    (cube_path(r"(\d+)"), FeedHandler),
    (cube_path(r"note(\d+)"), NoteHandler),
    (cube_path(r"(\d+)/comments"), CommentsHandler),
    (cube_path(r"(\d+)/plugininstances"), FeedInstancesHandler),
    (cube_path(r"(\d+)/files"), FeedFilesHandler),
    (cube_path("computeresources"), ComputeResourcesHandler),
    (cube_path("computeresources/search"), ComputeResourcesHandler),
]
_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
openapi_paths = {
    "/": {"get": {"summary": "My feeds (paginated) and collection_links"}},
    "/search/": {"get": {"summary": "Search feeds: " + ", ".join(SEARCH_FIELDS)}},
    "/{id}/": {"get": {"summary": "One feed with per-state job counts", "parameters": _id},
               "put": {"summary": "Rename a feed", "parameters": _id},
               "delete": {"summary": "Delete a feed", "parameters": _id}},
    "/note{id}/": {"get": {"summary": "A feed's note", "parameters": _id},
                   "put": {"summary": "Set its content", "parameters": _id}},
    "/{id}/comments/": {"get": {"summary": "Comments", "parameters": _id},
                        "post": {"summary": "Comment", "parameters": _id}},
    "/{id}/plugininstances/": {"get": {"summary": "The feed's instances", "parameters": _id}},
    "/{id}/files/": {"get": {"summary": "The feed's files", "parameters": _id}},
    "/computeresources/": {"get": {"summary": "The one compute resource (this server's runner)"}},
    "/computeresources/search/": {"get": {"summary": "The same, as a search"}},
}
