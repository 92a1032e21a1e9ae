"""Who am I, API tokens, and (for administrators) users and groups."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tornado import web

from ..db.models import ApiToken, User
from ..identity import MAX_TOKEN_LIFETIME
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"


def token_json(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None}


def user_json(u: User) -> dict[str, Any]:
    return {"username": u.username, "is_admin": u.is_admin, "groups": sorted(g.name for g in u.groups)}


class MeHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        p = self.principal
        self.reply({"username": p.username, "is_admin": p.is_admin, "groups": sorted(p.groups),
                    "auth": p.via})


class TokensHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        toks = await self.run(self.backend.users.list_tokens, self.principal.username)
        self.reply({"items": [token_json(t) for t in toks]})

    @endpoint
    async def post(self) -> None:
        """Issue a token for myself or, as an administrator, for ``user``."""
        b = self.json_body()
        username = b.get("user") or self.principal.username
        if username != self.principal.username and not self.principal.is_admin:
            raise web.HTTPError(403, "only administrators may issue tokens for other users")
        seconds = self.seconds_from(b, "expires_in", hi=MAX_TOKEN_LIFETIME.total_seconds())
        delta = dt.timedelta(seconds=seconds) if seconds is not None else None
        if username != self.principal.username:
            await self.run(self.backend.users.ensure_user, username)
        tok, clear = await self.run(self.backend.users.issue_token, username,
                                    name=str(b.get("name", "")), expires_in=delta)
        self.reply({**token_json(tok), "user": username, "token": clear}, 201)


class TokenHandler(ChrisHandler):
    @endpoint
    async def delete(self, token_id: str) -> None:
        ok = await self.run(self.backend.users.revoke_token, self.principal.username, int(token_id),
                            is_admin=self.principal.is_admin)
        if not ok:
            raise web.HTTPError(404, f"no such token: {token_id}")
        self.set_status(204)
        await self.finish()


class UsersHandler(ChrisHandler):
    def _admin(self) -> None:
        if not self.principal.is_admin:
            raise web.HTTPError(403, "only administrators manage users")

    @endpoint
    async def get(self) -> None:
        self._admin()
        users = await self.run(self.backend.users.list_users)
        self.reply({"items": [user_json(u) for u in users]})

    @endpoint
    async def post(self) -> None:
        """Create a user (idempotent) with optional ``groups`` and ``is_admin``."""
        self._admin()
        b = self.json_body()
        name = b.get("username")
        if not isinstance(name, str) or not name:
            raise web.HTTPError(400, "'username' is required")
        users = self.backend.users
        await self.run(users.ensure_user, name, is_admin=bool(b.get("is_admin", False)))
        for g in b.get("groups", []) or []:
            await self.run(users.add_to_group, name, str(g))
        self.reply(user_json(await self.run(users.get, name)), 201)


default_handlers = [
    (api_path("me"), MeHandler),
    (api_path("tokens"), TokensHandler),
    (api_path(r"tokens/(\d+)"), TokenHandler),
    (api_path("users"), UsersHandler),
]

openapi_paths = {
    "/me": {"get": {"summary": "The caller's identity"}},
    "/tokens": {"get": {"summary": "My API tokens (never their secret)"},
                "post": {"summary": "Issue an API token (shown once)"}},
    "/tokens/{id}": {"delete": {"summary": "Revoke a token", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]}},
    "/users": {"get": {"summary": "Admin: list users"},
               "post": {"summary": "Admin: create a user, with groups"}},
}
