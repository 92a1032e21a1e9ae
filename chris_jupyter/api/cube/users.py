"""The caller's user resource (``users/<id>/``), linked from the root as ``user``."""

from __future__ import annotations

from tornado import web

from ..base import endpoint
from .base import CubeHandler, Resource, cube_path


def user_resource(h: CubeHandler) -> Resource:
    p = h.principal
    uid = p.user_id
    return Resource(h.url(f"users/{uid}/"),
                    {"id": uid, "username": p.username, "email": "", "is_staff": p.is_admin},
                    {"groups": h.url(f"users/{uid}/groups/"), "feed": h.url("")})


class UserHandler(CubeHandler):
    @endpoint
    async def get(self, uid: str) -> None:
        if int(uid) != self.principal.user_id:
            raise web.HTTPError(404, "Not found.")
        self.reply_item(user_resource(self), template=["password", "email"])


class UsersHandler(CubeHandler):
    """``POST users/``: CUBE's sign-up, for administrators only here (accounts are made by
    administrators on this platform, not by open sign-up). The e-mail is not kept."""

    @endpoint
    async def post(self) -> None:
        b = self.cube_args()
        if not self.principal.is_admin:
            raise web.HTTPError(403, "accounts are created by an administrator here "
                                     "(chris-jupyter user add; then chris-jupyter user passwd)")
        u = await self.run(self.backend.accounts.create_account, self.principal, b.get("username"),
                           b.get("password"))
        uid = u["id"]
        self.reply_item(Resource(self.url(f"users/{uid}/"),
                                 {"id": uid, "username": u["username"], "email": "", "is_staff": False},
                                 {"groups": self.url(f"users/{uid}/groups/"), "feed": self.url("")}), 201)


default_handlers = [
    (cube_path(r"users/(\d+)"), UserHandler),
    (cube_path("users"), UsersHandler),
]
openapi_paths = {
    "/users/{id}/": {"get": {"summary": "The caller's user (id, username, email)"}},
    "/users/": {"post": {"summary": "Create an account {username, password, email}: administrators only "
                                    "(the e-mail is not kept)"}},
}
