"""Feeds over REST: list, create, read, update (name, note), delete, comments and tags."""

from __future__ import annotations

from tornado import web

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:feeds"


class FeedsHandler(ChrisHandler):
    """``GET feeds`` lists the feeds the caller may read; ``POST feeds {"name"}`` creates one."""

    @endpoint
    async def get(self) -> None:
        """One page of readable feeds, filtered by ``name``, ``owner`` and ``tag`` (repeatable:
        a feed must carry every tag given)."""
        limit, offset = self.page_args(50)
        page = await self.run(self.backend.feeds.list, self.principal,
                              name_contains=self.get_argument("name", None),
                              owner=self.get_argument("owner", None),
                              tags=self.get_arguments("tag"), limit=limit, offset=offset)
        self.reply(page)

    @endpoint
    async def post(self) -> None:
        """Create a feed (and its folder) owned by the caller."""
        b = self.json_body()
        self.reply(await self.run(self.backend.feeds.create, self.principal, str(b.get("name", ""))), 201)


class FeedHandler(ChrisHandler):
    """``GET``/``PATCH``/``DELETE feeds/<id>``: one feed."""

    @endpoint
    async def get(self, feed_id: str) -> None:
        """One feed."""
        self.reply(await self.run(self.backend.feeds.get, self.principal, int(feed_id)))

    @endpoint
    async def patch(self, feed_id: str) -> None:
        """Rename a feed or change its note: ``{"name"?, "note"?}``."""
        b = self.json_body()
        for key in ("name", "note"):
            if key in b and not isinstance(b[key], str):
                raise web.HTTPError(400, f"'{key}' must be a string")
        self.reply(await self.run(self.backend.feeds.update, self.principal, int(feed_id),
                                  name=b.get("name"), note=b.get("note")))

    @endpoint
    async def delete(self, feed_id: str) -> None:
        """Delete a feed and its folder."""
        await self.run(self.backend.feeds.delete, self.principal, int(feed_id))
        self.set_status(204)
        await self.finish()


class CommentsHandler(ChrisHandler):
    """``GET``/``POST feeds/<id>/comments``: a feed's comments."""

    @endpoint
    async def get(self, feed_id: str) -> None:
        """A feed's comments, oldest first."""
        self.reply({"items": await self.run(self.backend.feeds.comments, self.principal, int(feed_id))})

    @endpoint
    async def post(self, feed_id: str) -> None:
        """Comment on a feed: ``{"title"?, "content"}``."""
        b = self.json_body()
        out = await self.run(self.backend.feeds.add_comment, self.principal, int(feed_id),
                             title=str(b.get("title", "")), content=str(b.get("content", "")))
        self.reply(out, 201)


class FeedTagsHandler(ChrisHandler):
    """``PUT feeds/<id>/tags {"tags": [...]}`` sets a feed's tags."""

    @endpoint
    async def put(self, feed_id: str) -> None:
        """Replace a feed's tags with the given names."""
        b = self.json_body()
        names = b.get("tags")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise web.HTTPError(400, "'tags' must be a list of tag names")
        self.reply(await self.run(self.backend.feeds.set_tags, self.principal, int(feed_id), names))


class TagsHandler(ChrisHandler):
    """``GET tags``: the caller's tags."""

    @endpoint
    async def get(self) -> None:
        """The caller's tags."""
        self.reply({"items": await self.run(self.backend.feeds.tags, self.principal)})


default_handlers = [
    (api_path("feeds"), FeedsHandler),
    (api_path(r"feeds/(\d+)"), FeedHandler),
    (api_path(r"feeds/(\d+)/comments"), CommentsHandler),
    (api_path(r"feeds/(\d+)/tags"), FeedTagsHandler),
    (api_path("tags"), TagsHandler),
]

_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi_paths = {
    "/feeds": {"get": {"summary": "Feeds I may read (paginated; filters name, owner, tag)"},
               "post": {"summary": "Create an empty feed"}},
    "/feeds/{id}": {"get": {"summary": "One feed", "parameters": [_id]},
                    "patch": {"summary": "Rename a feed or edit its note", "parameters": [_id]},
                    "delete": {"summary": "Delete a feed and its folder", "parameters": [_id]}},
    "/feeds/{id}/comments": {"get": {"summary": "A feed's comments", "parameters": [_id]},
                             "post": {"summary": "Comment on a feed", "parameters": [_id]}},
    "/feeds/{id}/tags": {"put": {"summary": "Set a feed's tags", "parameters": [_id]}},
    "/tags": {"get": {"summary": "My tags"}},
}
