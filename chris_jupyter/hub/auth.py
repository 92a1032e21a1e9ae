"""Hub credentials for the Jupyter server that runs the ChRIS service.

:class:`HubIdentityProvider` is the service's jupyter_server ``IdentityProvider``: it asks
``jupyterhub.services.auth.HubOAuth`` who the caller is, from an ``Authorization: token …``
(or ``Bearer``) header — kernels, scripts, :class:`chris_jupyter.Client` — or from the OAuth
cookie a browser got through the hub's login (``oauth_callback``). HubOAuth caches the hub's
answer per token (``HubAuth.cache_max_age``, five minutes), so a call costs no hub round trip.

Nothing else identifies a caller: request headers such as ``X-Remote-User`` or
``X-Forwarded-User`` are never read, and ``ServerApp.trust_xheaders`` stays off.

A caller the hub knows but whose credential lacks the service's access scope
(``access:services!service=chris``) is refused with 403; no credential at all leaves the
caller anonymous (the API answers 401, the landing page redirects to the hub's login).
:class:`HubAuthorizer` checks the scope again for every ``@authorized`` call and allows only
the ChRIS API's resources (``chris:files``, ``chris:compute``, …): the Jupyter server
underneath has no contents, kernels or terminals to offer in this process, which owns the
Docker engine.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from jupyter_server.auth import Authorizer, IdentityProvider, User
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httputil import url_concat
from traitlets import Instance, default

from ..api import auth_resources
from .identity import HubIdentity

SERVICE_NAME_ENV = "JUPYTERHUB_SERVICE_NAME"


class ServiceHubOAuth(HubOAuth):
    """HubOAuth whose XSRF check waits until the caller is known.

    HubOAuth replaces jupyter_server's ``JupyterHandler.check_xsrf_cookie`` (so that the XSRF
    token is bound to the hub session). Tornado calls that method once *before* ``prepare()``,
    when the credential is not yet known; jupyter_server's own version ignores that early call
    and checks in ``prepare()`` after identifying the caller, but the replacement would refuse
    every token-authenticated write right there. So the replacement is wrapped to keep
    jupyter_server's rule: skip the early call, check (the hub's way) once the caller is known.
    Cookie-authenticated writes still need the XSRF token; token-authenticated ones do not.
    """

    def _patch_xsrf(self, handler: web.RequestHandler) -> None:
        super()._patch_xsrf(handler)
        hub_check = self.check_xsrf_cookie

        def check_xsrf_cookie(h: web.RequestHandler) -> None:
            if not hasattr(h, "_jupyter_current_user"):
                return  # called by tornado before prepare(); prepare() checks again
            hub_check(h)

        JupyterHandler.check_xsrf_cookie = check_xsrf_cookie  # type: ignore[method-assign]


class HubUser(User):
    """A jupyter_server user that carries the hub's model of the caller."""

    hub_user: dict[str, Any]
    identity: HubIdentity

    def __init__(self, hub_user: dict[str, Any], identity: HubIdentity) -> None:
        self.hub_user = hub_user
        self.identity = identity
        super().__init__(username=hub_user["name"])


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """Completes the browser's OAuth login with the hub and sets the service's cookie."""

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth

    @allow_unauthenticated
    async def get(self) -> None:
        return await super().get()


class HubIdentityProvider(IdentityProvider):
    """Identify callers of the ChRIS service by their JupyterHub credentials."""

    hub_auth = Instance(HubOAuth, help="The hub client; configured from the JUPYTERHUB_* environment.")

    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        return ServiceHubOAuth(parent=self)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._groups_cache: dict[str, tuple[float, bool, frozenset[str]]] = {}

    @property
    def token(self) -> str:  # jupyter_server's own token login is not used here
        return ""

    token_generated = False

    def _hub_login_url(self, handler: web.RequestHandler) -> str:
        """The hub's OAuth authorize URL, with a state cookie that brings the browser back here."""
        params: dict[str, str] = {}
        verifier = None
        if self.hub_auth.pkce_enabled:
            verifier, challenge, method = self.hub_auth.generate_pkce_code_challenge()
            params.update(code_challenge=challenge, code_challenge_method=method)
        params["state"] = self.hub_auth.set_state_cookie(handler, next_url=handler.request.uri,
                                                         code_verifier=verifier)
        return url_concat(self.hub_auth.login_url, params)

    async def get_user(self, handler: web.RequestHandler) -> HubUser | None:
        if hasattr(handler, "_chris_hub_user"):
            return handler._chris_hub_user
        handler._chris_hub_user = None
        handler.get_login_url = lambda: self._hub_login_url(handler)  # type: ignore[method-assign]
        self.hub_auth._patch_xsrf(handler)
        model = await self.hub_auth.get_user(handler, sync=False)
        handler._chris_hub_user = await self._hub_user(model)
        return handler._chris_hub_user

    async def user_for_api_token(self, handler: web.RequestHandler, token: str) -> HubUser | None:
        """The hub user of ``token`` alone (never a cookie): for routes that take credentials only
        from headers, such as the CUBE-compatible API's ``Authorization: Token <hub token>``."""
        model = await self.hub_auth.user_for_token(token, sync=False)
        return await self._hub_user(model)

    async def _hub_user(self, model: dict[str, Any] | None) -> HubUser | None:
        """A hub model as a :class:`HubUser`, refused (403) without the service's access scope."""
        if model is None:
            return None
        if not self.hub_auth.check_scopes(self.hub_auth.access_scopes, model):
            raise web.HTTPError(
                403, f"{model.get('kind', 'user')} {model.get('name')!r} may not use the ChRIS service: "
                f"the credential lacks the scope {' or '.join(sorted(self.hub_auth.access_scopes))}")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, f"only hub users may use the ChRIS service, not the "
                                     f"{model.get('kind')} {model.get('name')!r}")
        return HubUser(model, await self._identity(model))

    async def _identity(self, model: dict[str, Any]) -> HubIdentity:
        """Name, admin flag and groups of a hub user.

        The user model that comes with a token shows only what that token may read; one limited
        to the access scope has no ``admin`` or ``groups``. Then the service asks the hub with its
        own token (its role grants ``read:users``), cached as long as HubOAuth caches tokens.
        """
        name = model["name"]
        if "admin" in model and "groups" in model:
            return HubIdentity(name, bool(model["admin"]), frozenset(model["groups"] or ()))
        now = time.monotonic()
        hit = self._groups_cache.get(name)
        if hit is None or now - hit[0] > self.hub_auth.cache_max_age:
            url = url_path_join(self.hub_auth.api_url, "users", name)
            async with httpx.AsyncClient(timeout=30) as http:
                r = await http.get(url, headers={"Authorization": f"token {self.hub_auth.api_token}"})
            if r.status_code != 200:
                raise web.HTTPError(403, f"the hub does not know the user {name!r}")
            data = r.json()
            hit = (now, bool(data.get("admin")), frozenset(data.get("groups") or ()))
            self._groups_cache[name] = hit
        return HubIdentity(name, hit[1], hit[2])

    def get_handlers(self) -> list[tuple[str, Any, dict[str, Any]]]:
        return [(r"/oauth_callback", OAuthCallbackHandler, {"hub_auth": self.hub_auth})]

    def validate_security(self, app: Any, ssl_options: Any = None) -> None:
        """The hub authenticates; jupyter_server's token warnings do not apply."""


class HubAuthorizer(Authorizer):
    """Allow hub users with the service's access scope to use the ChRIS API's resources
    (:func:`chris_jupyter.api.auth_resources`: ``chris:files``, ``chris:compute``, …), nothing else."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not isinstance(user, HubUser):
            raise web.HTTPError(403, "this ChRIS server runs as a JupyterHub service: authenticate with a "
                                     "JupyterHub token (Authorization: token …) or log in through the hub")
        hub_auth = self.identity_provider.hub_auth
        return resource in auth_resources() and bool(hub_auth.check_scopes(hub_auth.access_scopes, user.hub_user))
