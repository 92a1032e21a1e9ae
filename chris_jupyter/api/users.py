"""Who am I, API tokens, and (for administrators) users and groups."""

from __future__ import annotations

import datetime as dt

from ..identity import MAX_TOKEN_LIFETIME
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:users"


class MeHandler(ChrisHandler):
    """``GET me``: the caller's identity."""

    @endpoint
    async def get(self) -> None:
        """The caller's name, admin flag, groups and how they authenticated."""
        self.reply(self.backend.accounts.me(self.principal))


class TokensHandler(ChrisHandler):
    """``GET tokens`` lists the caller's API tokens; ``POST tokens {"name", "user", "expires_in"}`` issues one."""

    @endpoint
    async def get(self) -> None:
        """The caller's live API tokens."""
        self.reply({"items": await self.run(self.backend.accounts.tokens, self.principal)})

    @endpoint
    async def post(self) -> None:
        """Issue a token for myself or, as an administrator, for ``user``."""
        b = self.json_body()
        seconds = self.seconds_from(b, "expires_in", hi=MAX_TOKEN_LIFETIME.total_seconds())
        out = await self.run(self.backend.accounts.issue_token, self.principal, user=b.get("user") or None,
                             name=str(b.get("name", "")),
                             expires_in=dt.timedelta(seconds=seconds) if seconds is not None else None)
        self.reply(out, 201)


class TokenHandler(ChrisHandler):
    """``DELETE tokens/<id>`` revokes a token."""

    @endpoint
    async def delete(self, token_id: str) -> None:
        """Revoke a token of the caller (an administrator: anyone's)."""
        await self.run(self.backend.accounts.revoke_token, self.principal, int(token_id))
        self.set_status(204)
        await self.finish()


class UsersHandler(ChrisHandler):
    """Administrators: ``GET users`` lists users; ``POST users {"username", "groups", "is_admin"}`` creates one."""

    @endpoint
    async def get(self) -> None:
        """Every user (administrators only)."""
        self.reply({"items": await self.run(self.backend.accounts.list_users, self.principal)})

    @endpoint
    async def post(self) -> None:
        """Create a user (idempotent) with optional ``groups`` and ``is_admin``."""
        b = self.json_body()
        out = await self.run(self.backend.accounts.create_user, self.principal, b.get("username"),
                             is_admin=bool(b.get("is_admin", False)), groups=list(b.get("groups", []) or []))
        self.reply(out, 201)


class PasswordHandler(ChrisHandler):
    """``PUT users/<name>/password {"password"}``: set (``null``: remove) a user's password, for
    the clients of the CUBE-compatible API. Yourself, or anyone as an administrator."""

    @endpoint
    async def put(self, username: str) -> None:
        """Set or remove the password of ``username``."""
        await self.run(self.backend.accounts.set_password, self.principal, username,
                       self.json_body().get("password"))
        self.set_status(204)
        await self.finish()


default_handlers = [
    (api_path("me"), MeHandler),
    (api_path("tokens"), TokensHandler),
    (api_path(r"tokens/(\d+)"), TokenHandler),
    (api_path("users"), UsersHandler),
    (api_path(r"users/([\w.\-]+)/password"), PasswordHandler),
]

openapi_paths = {
    "/me": {"get": {"summary": "The caller's identity"}},
    "/tokens": {"get": {"summary": "My API tokens (never their secret)"},
                "post": {"summary": "Issue an API token (shown once)"}},
    "/tokens/{id}": {"delete": {"summary": "Revoke a token", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]}},
    "/users": {"get": {"summary": "Admin: list users"},
               "post": {"summary": "Admin: create a user, with groups"}},
    "/users/{name}/password": {"put": {"summary": "Set or remove a password (yourself, or admin)"}},
}
