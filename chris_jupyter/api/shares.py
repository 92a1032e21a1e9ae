"""Shares with users, groups or everyone, and private share links (plus their anonymous use)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tornado import web

from .. import paths
from ..library.sharing import MAX_LINK_LIFETIME
from . import share_page
from .base import ChrisHandler, api_path, endpoint, link_endpoint
from .transfer import send_file, send_zip

AUTH_RESOURCE = "chris:shares"


class SharesHandler(ChrisHandler):
    """``GET shares`` lists the caller's shares; ``POST shares`` shares a path or feed."""

    @endpoint
    async def get(self) -> None:
        """Shares the caller made or received."""
        self.reply({"items": await self.run(self.backend.sharing.list, self.principal)})

    @endpoint
    async def post(self) -> None:
        """Share a path or feed with a user, a group or everyone: ``{"path"|"feed_id", "user"|"group"|"public",
        "permission"}``.
        """
        b = self.json_body()
        out = await self.run(
            self.backend.sharing.create, self.principal, path=b.get("path"), feed_id=b.get("feed_id"),
            user=b.get("user"), group=b.get("group"), public=bool(b.get("public", False)),
            permission=b.get("permission", "read"),
        )
        self.reply(out, status=201)


class ShareHandler(ChrisHandler):
    """``DELETE shares/<id>`` withdraws a share."""

    @endpoint
    async def delete(self, share_id: str) -> None:
        """Withdraw one share."""
        await self.run(self.backend.sharing.delete, self.principal, int(share_id))
        self.set_status(204)
        await self.finish()


class LinksHandler(ChrisHandler):
    """``GET links`` lists the caller's private links; ``POST links`` makes one."""

    @endpoint
    async def get(self) -> None:
        """The caller's live share links (never their token)."""
        self.reply({"items": await self.run(self.backend.sharing.list_links, self.principal)})

    @endpoint
    async def post(self) -> None:
        """Make a private read-only link to a path or feed (the token and URL are shown once)."""
        b = self.json_body()
        seconds = self.seconds_from(b, "expires_in", 7 * 86400, hi=MAX_LINK_LIFETIME.total_seconds())
        out = await self.run(
            self.backend.sharing.create_link, self.principal, path=b.get("path"),
            feed_id=b.get("feed_id"), expires_in=dt.timedelta(seconds=seconds),
        )
        out["url"] = f"{self.base_url.rstrip('/')}/{api_path('links')}/{out['token']}/files"
        self.reply(out, status=201)


class LinkHandler(ChrisHandler):
    """``DELETE links/<id>`` revokes a link."""

    @endpoint
    async def delete(self, link_id: str) -> None:
        """Revoke one link."""
        await self.run(self.backend.sharing.revoke_link, self.principal, int(link_id))
        self.set_status(204)
        await self.finish()


def _link_path(h: ChrisHandler) -> str:
    """The path asked for through a link: relative to the link's target, never above it."""
    rel = h.get_argument("path", "")
    rel = paths.normalize(rel, allow_root=True)
    return paths.join(h.link_target or "", rel) if rel else (h.link_target or "")


class LinkFilesHandler(ChrisHandler):
    """``GET links/<token>/files?path=`` lists (or describes) what a link opens.

    A browser (``Accept: text/html`` before JSON) gets a page with downloads and an image
    viewer; API clients get the JSON.
    """

    @link_endpoint
    async def get(self) -> None:
        """The link's target (or a path below it): JSON, or an HTML page for a browser."""
        limit, offset = self.page_args()
        found = await self.run(self.backend.library.browse, self.principal, _link_path(self),
                               limit=limit, offset=offset)
        out = {"target": self.link_target, **found}
        self.set_header("Vary", "Accept")
        if not share_page.wants_html(self.request.headers.get("Accept")):
            self.reply(out)
            return
        info = await self.run(self.backend.sharing.link_info, self.principal.link_id)
        rel = paths.normalize(self.get_argument("path", ""), allow_root=True)
        self.set_header("Content-Security-Policy", share_page.CSP)
        await self.finish(share_page.render(info, self.link_target or "", rel, out),
                          set_content_type="text/html; charset=utf-8")  # APIHandler's finish sets JSON


    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A browser gets a page for a link that opens nothing (expired, revoked, unknown); API
        clients the usual JSON error."""
        if not share_page.wants_html(self.request.headers.get("Accept")):
            return super().write_error(status_code, **kwargs)
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.set_header("Vary", "Accept")
        self.set_header("Content-Security-Policy", share_page.CSP)
        self.finish(share_page.render_error(status_code, str(message)), set_content_type="text/html; charset=utf-8")
        return None


class LinkContentHandler(ChrisHandler):
    """``GET links/<token>/content?path=``: a file through a link."""

    @link_endpoint
    async def get(self) -> None:
        """Send a file below the link's target."""
        disk, entry = await self.run(self.backend.library.open_file, self.principal, _link_path(self))
        await send_file(self, disk, entry)


class LinkZipHandler(ChrisHandler):
    """``GET links/<token>/zip?path=``: a folder through a link, as a zip."""

    @link_endpoint
    async def get(self) -> None:
        """Stream a folder below the link's target as a zip."""
        await send_zip(self, await self.run(self.backend.library.zip, self.principal, _link_path(self)))


_TOKEN = r"(chrislink_[A-Za-z0-9_\-]+)"
default_handlers = [
    (api_path("shares"), SharesHandler),
    (api_path(r"shares/(\d+)"), ShareHandler),
    (api_path("links"), LinksHandler),
    (api_path(r"links/(\d+)"), LinkHandler),
    (api_path(f"links/{_TOKEN}/files"), LinkFilesHandler),
    (api_path(f"links/{_TOKEN}/content"), LinkContentHandler),
    (api_path(f"links/{_TOKEN}/zip"), LinkZipHandler),
]

_share_body = {"type": "object", "properties": {
    "path": {"type": "string"}, "feed_id": {"type": "integer"}, "user": {"type": "string"},
    "group": {"type": "string"}, "public": {"type": "boolean"},
    "permission": {"type": "string", "enum": ["read", "write"]}}}
_tok = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi_paths = {
    "/shares": {"get": {"summary": "Shares I made and shares with me"},
                "post": {"summary": "Share a path or feed with a user, a group or everyone",
                         "requestBody": {"content": {"application/json": {"schema": _share_body}}}}},
    "/shares/{id}": {"delete": {"summary": "Remove a share", "parameters": [_id]}},
    "/links": {"get": {"summary": "My private share links"},
               "post": {"summary": "Create an expiring private link to a path or feed",
                        "requestBody": {"content": {"application/json": {"schema": {"type": "object",
                            "properties": {"path": {"type": "string"}, "feed_id": {"type": "integer"},
                                           "expires_in": {"type": "number"}}}}}}}},
    "/links/{id}": {"delete": {"summary": "Revoke a link", "parameters": [_id]}},
    "/links/{token}/files": {"get": {"summary": "Anonymous: list what a link opens",
                                     "parameters": [_tok], "security": []}},
    "/links/{token}/content": {"get": {"summary": "Anonymous: download a file through a link",
                                       "parameters": [_tok], "security": []}},
    "/links/{token}/zip": {"get": {"summary": "Anonymous: download a folder through a link as zip",
                                   "parameters": [_tok], "security": []}},
}
