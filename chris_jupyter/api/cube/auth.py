"""``POST auth-token/``: username and password for an API token, as CUBE's login does.

In hub mode (``ChrisApp.identity_from_hub``) nothing is issued here: the hub is the one issuer of
credentials, so the "password" must be a JupyterHub API token of that user with the service's
access scope, and the answer's ``token`` is that same hub token. This is what lets caw, whose
only way in is ``caw login`` with a password, work with a hub token; anything else (a ChRIS
password, another user's token) is the usual 400 with a message that says to use a hub token.
"""

from __future__ import annotations

from tornado import web

from ...errors import TooManyRequests
from ...identity import AuthError
from .base import CubeHandler, cube_path, login_endpoint

LOGIN_TOKEN_NAME = "auth-token"


class AuthTokenHandler(CubeHandler):
    @login_endpoint
    async def post(self) -> None:
        b = self.cube_args()
        username, password = b.get("username"), b.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise web.HTTPError(400, "'username' and 'password' are required.")
        users = self.backend.users
        try:
            if self.chris_app.identity_from_hub:
                # the hub issues credentials: a hub token given as the password is the token
                await self.hub_login(username, password)
                self.reply({"token": password})
                return
            await self.run(users.check_password, username, password)
        except TooManyRequests as e:
            raise web.HTTPError(429, str(e)) from None
        except AuthError as e:
            # CUBE answers a failed login 400 with non_field_errors (aiochris maps 400 to
            # IncorrectLoginError); ``detail`` is there for every other client.
            self.set_status(400)
            self.reply({"detail": str(e), "non_field_errors": [str(e)]}, 400)
            return
        _tok, clear = await self.run(users.issue_token, username, name=LOGIN_TOKEN_NAME)
        self.reply({"token": clear})


default_handlers = [(cube_path("auth-token"), AuthTokenHandler)]
openapi_paths = {"/auth-token/": {"post": {
    "summary": "Log in with username and password; answers {token} (send it as 'Authorization: Token …')",
    "security": []}}}
