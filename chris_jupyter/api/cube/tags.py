"""Tags the CUBE way: the caller's tags (``tags/``, list, ``search/``, create), a feed's tags
(``<feed>/tags/``) and its taggings (``<feed>/taggings/``: ``POST {tag_id}`` tags the feed).

Tags and feed tags are :class:`chris_jupyter.feeds.FeedService`'s; a tagging has no row of its
own here, so its id is the tag's id (unique within one feed's taggings).
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..base import endpoint
from .base import CubeHandler, Resource, cube_path

SEARCH_FIELDS = ("id", "name", "color", "owner_username")


def tag_resource(h: CubeHandler, t: dict[str, Any]) -> Resource:
    return Resource(h.url(f"tags/{t['id']}/"), {
        "id": t["id"], "name": t["name"], "color": t["color"], "owner_username": h.principal.username,
    }, {"owner": h.url(f"users/{h.principal.user_id}/"), "feeds": h.url(f"tags/{t['id']}/feeds/"),
        "taggings": h.url(f"tags/{t['id']}/taggings/")})


def tagging_resource(h: CubeHandler, fid: int, t: dict[str, Any]) -> Resource:
    return Resource(h.url(f"{fid}/taggings/{t['id']}/"),
                    {"id": t["id"], "owner_username": h.principal.username, "tag_id": t["id"], "feed_id": fid},
                    {"tag": h.url(f"tags/{t['id']}/"), "feed": h.url(f"{fid}/")})


class TagsHandler(CubeHandler):
    search = False

    @endpoint
    async def get(self) -> None:
        tags = await self.run(self.backend.feeds.tags, self.principal)
        if self.search:
            for name in ("id", "name", "color"):
                want = self.get_argument(name, "")
                if want:
                    tags = [t for t in tags if str(t[name]) == want]
            owner = self.get_argument("owner_username", "")
            if owner and owner != self.principal.username:
                tags = []
        limit, offset = self.page()
        self.reply_list([tag_resource(self, t) for t in tags[offset:offset + limit]], len(tags), limit, offset,
                        template=["name", "color"], queries=list(SEARCH_FIELDS))

    @endpoint
    async def post(self) -> None:
        b = self.cube_args()
        tag = await self.run(self.backend.feeds.create_tag, self.principal, b.get("name"), b.get("color") or None)
        self.reply_item(tag_resource(self, tag), 201)


class TagSearchHandler(TagsHandler):
    search = True


class TagHandler(CubeHandler):
    @endpoint
    async def get(self, tid: str) -> None:
        tags = await self.run(self.backend.feeds.tags, self.principal)
        tag = next((t for t in tags if t["id"] == int(tid)), None)
        if tag is None:
            raise web.HTTPError(404, "Not found.")
        self.reply_item(tag_resource(self, tag), template=["name", "color"])


class FeedTagsHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        feed = await self.run(self.backend.feeds.get, self.principal, int(fid))
        limit, offset = self.page()
        tags = feed["tags"]
        self.reply_list([tag_resource(self, t) for t in tags[offset:offset + limit]], len(tags), limit, offset)


class FeedTaggingsHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        feed = await self.run(self.backend.feeds.get, self.principal, int(fid))
        limit, offset = self.page()
        tags = feed["tags"]
        self.reply_list([tagging_resource(self, int(fid), t) for t in tags[offset:offset + limit]], len(tags),
                        limit, offset, template=["tag_id"])

    @endpoint
    async def post(self, fid: str) -> None:
        raw = self.cube_args().get("tag_id")
        try:
            tid = int(raw)
        except (TypeError, ValueError):
            raise web.HTTPError(400, "'tag_id' (a number) is required") from None
        tags = await self.run(self.backend.feeds.tags, self.principal)
        tag = next((t for t in tags if t["id"] == tid), None)
        if tag is None:
            raise web.HTTPError(400, f"no tag {tid} of yours")
        feed = await self.run(self.backend.feeds.get, self.principal, int(fid))
        names = [t["name"] for t in feed["tags"]] + [tag["name"]]
        await self.run(self.backend.feeds.set_tags, self.principal, int(fid), names)
        self.reply_item(tagging_resource(self, int(fid), tag), 201)


_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
default_handlers = [
    (cube_path("tags"), TagsHandler),
    (cube_path("tags/search"), TagSearchHandler),
    (cube_path(r"tags/(\d+)"), TagHandler),
    (cube_path(r"(\d+)/tags"), FeedTagsHandler),
    (cube_path(r"(\d+)/taggings"), FeedTaggingsHandler),
]
openapi_paths = {
    "/tags/": {"get": {"summary": "My tags"}, "post": {"summary": "Create a tag {name, color} (or get it by name)"}},
    "/tags/search/": {"get": {"summary": "Search my tags: " + ", ".join(SEARCH_FIELDS)}},
    "/tags/{id}/": {"get": {"summary": "One of my tags", "parameters": _id}},
    "/{id}/tags/": {"get": {"summary": "A feed's tags", "parameters": _id}},
    "/{id}/taggings/": {"get": {"summary": "A feed's taggings", "parameters": _id},
                        "post": {"summary": "Tag the feed {tag_id} (needs write access to it)", "parameters": _id}},
}
