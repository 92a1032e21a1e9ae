"""What the CUBE-compatible handlers share: credentials, representations, pagination, errors.

CUBE (the original ChRIS backend) speaks two media types: ``application/json`` (what aiochris
and caw ask for) and Collection+JSON (``application/vnd.collection+json``, the default, what
python-chrisclient reads). A resource is built once as a :class:`Resource` and rendered in the
one the client asked for. The two client generations also name library paths differently;
:mod:`.paths` translates, and the media type picks the dialect of the answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jupyter_server.auth.identity import User
from jupyter_server.base.call_context import CallContext
from tornado import web

from ...errors import ChrisError
from ...identity import TOKEN_PREFIX, AuthError
from ..base import ChrisHandler

CUBE_PREFIX = "api/v1"
CJ_TYPE = "application/vnd.collection+json"
DEFAULT_PAGE = 10
MAX_PAGE = 1000


def cube_path(suffix: str) -> str:
    """A route under ``<base_url>api/v1/``; CUBE URLs end with a slash (optional here)."""
    return f"{CUBE_PREFIX}/{suffix}".rstrip("/") + "/?"


@dataclass
class Resource:
    """One CUBE item: its URL, its data fields and its links (rendered per media type)."""

    url: str
    data: dict[str, Any]
    links: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, **self.data, **self.links}

    def as_cj(self) -> dict[str, Any]:
        links = []
        for rel, href in self.links.items():
            for h in href if isinstance(href, list) else [href]:
                if h is not None:
                    links.append({"rel": rel, "href": h})
        return {"href": self.url, "data": [{"name": k, "value": v} for k, v in self.data.items()],
                "links": links}


#: The authorization resource of every CUBE-compatible route.
AUTH_RESOURCE = "chris:cube"
HUB_SCOPE = "access:services!service=chris"
HUB_LOGIN_FAILED = ("Unable to log in with provided credentials. This ChRIS runs as a JupyterHub "
                    "service: log in with a JupyterHub API token of this user (scope "
                    f"{HUB_SCOPE}) as the password, or send it as 'Authorization: Token <hub token>'.")
BACKEND_TOKEN_IN_HUB_MODE = ("Invalid token. This ChRIS runs as a JupyterHub service: ChRIS API tokens "
                             f"(chris_…) are not accepted; send a JupyterHub API token (scope {HUB_SCOPE}).")


class CubeHandler(ChrisHandler):
    """Credentials come only from headers (``Authorization: Token …`` or HTTP Basic), never from
    the Jupyter login cookie, so these routes need no XSRF token; errors are ``{"detail": …}``."""

    auth_resource = AUTH_RESOURCE
    _server_user: Any = None

    def check_xsrf_cookie(self) -> None:
        # Header credentials only (see prepare): a cross-site form cannot carry them.
        return None

    async def prepare(self) -> None:  # type: ignore[override]
        CallContext.set(CallContext.JUPYTER_HANDLER, self)
        if not self.check_host():
            raise web.HTTPError(403)
        self.set_cors_headers()
        scheme, _, value = self.request.headers.get("Authorization", "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        hub = self.chris_app.identity_from_hub
        try:
            if scheme in ("token", "bearer") and value.startswith(TOKEN_PREFIX):
                if hub:
                    raise web.HTTPError(401, BACKEND_TOKEN_IN_HUB_MODE)
                self.principal = await self.run(self.backend.users.authenticate_token, value)
                self.api_token = value
            elif scheme in ("token", "bearer") and value:
                self.principal = await self._server_token_principal(value)
            elif scheme == "basic":
                username, password = _basic(value)
                if hub:
                    self.principal = await self.hub_login(username, password)
                else:
                    self.principal = await self.run(self.backend.users.check_password, username, password)
            elif scheme:
                raise web.HTTPError(401, "Invalid token.")
        except AuthError as e:
            raise web.HTTPError(401, str(e)) from None
        except ChrisError as e:
            raise web.HTTPError(e.status, str(e)) from None
        if self.principal is not None:
            # the server's own user object when it identified the caller (the hub's authorizer
            # accepts only its HubUser), else a plain one
            user = self._server_user or User(username=self.principal.username)
            self.current_user = self._jupyter_current_user = user
            self._token_authenticated = True

    async def _server_token_principal(self, token: str) -> Any:
        """A token the server's identity provider issues (in hub mode: a JupyterHub token),
        asked about that token alone, never a cookie. Other servers have none: 401."""
        for_token = getattr(self.identity_provider, "user_for_api_token", None)
        user = await for_token(self, token) if for_token is not None else None
        if user is None:
            raise web.HTTPError(401, "Invalid token.")
        self._server_user = user
        return await self.run(self.chris_app.principal_for_jupyter_user, user)

    async def hub_login(self, username: str, secret: str) -> Any:
        """Hub mode's username and "password" (HTTP Basic, ``POST auth-token/``): the password is a
        JupyterHub API token of that user with the service's access scope; ChRIS passwords are not
        consulted (the hub is the one source of identity). Wrong guesses count towards the same
        per-user login limit as passwords (:class:`~chris_jupyter.identity.LoginThrottle`)."""
        throttle = self.backend.users.throttle
        throttle.check(username)
        user = None
        if secret and not secret.startswith(TOKEN_PREFIX):
            for_token = getattr(self.identity_provider, "user_for_api_token", None)
            user = await for_token(self, secret) if for_token is not None else None
        if user is None or user.username != username:
            throttle.failed(username)
            raise AuthError(HUB_LOGIN_FAILED)
        throttle.succeeded(username)
        self._server_user = user
        return await self.run(self.chris_app.principal_for_jupyter_user, user)

    def get_current_user(self) -> Any:
        return None  # never the Jupyter cookie (see the class docstring)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        detail = getattr(exc, "log_message", None) or self._reason
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Token realm="api"')
        if status_code == 401 and self.principal is None and not self.request.headers.get("Authorization"):
            detail = "Authentication credentials were not provided."
        if self.wants_json:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"detail": detail}))
            return
        # Collection+JSON readers (python-chrisclient) look for the collection's error.
        self.set_header("Content-Type", CJ_TYPE)
        self.finish(json.dumps({"detail": detail, "collection": {
            "version": "1.0", "href": self.request.full_url(), "items": [], "links": [],
            "error": {"title": self._reason, "code": str(status_code), "message": detail}}}))

    # -- media types, paths and URLs --------------------------------------------------------------
    @property
    def wants_json(self) -> bool:
        return "application/json" in self.request.headers.get("Accept", "")

    @property
    def old_paths(self) -> bool:
        """Answer with CUBE 5 paths (``<user>/uploads/…``) to JSON clients, CUBE 6 paths
        (``home/<user>/…``, ours) to Collection+JSON clients."""
        return self.wants_json

    def url(self, suffix: str = "", query: dict[str, Any] | None = None) -> str:
        base = f"{self.request.protocol}://{self.request.host}{self.base_url}{CUBE_PREFIX}/"
        out = base + suffix
        if query:
            out += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return out

    def cube_args(self) -> dict[str, Any]:
        """Request data: the JSON body, or a Collection+JSON ``template``'s name/value pairs."""
        body = self.json_body()
        template = body.get("template")
        if isinstance(template, dict) and isinstance(template.get("data"), list):
            return {d.get("name"): d.get("value") for d in template["data"] if isinstance(d, dict)}
        return body

    # -- pagination and rendering -----------------------------------------------------------------
    def page(self) -> tuple[int, int]:
        """``limit``/``offset`` as CUBE takes them (``limit=0`` or none: the default page)."""
        limit = self.int_arg("limit", DEFAULT_PAGE, lo=0, hi=MAX_PAGE) or DEFAULT_PAGE
        return limit, self.int_arg("offset", 0)

    def _page_link(self, limit: int, offset: int) -> str:
        args = {k: self.get_argument(k) for k in self.request.arguments}
        args.update(limit=limit, offset=offset)
        return f"{self.request.protocol}://{self.request.host}{self.request.path}?{urlencode(args)}"

    def reply_list(self, items: list[Resource], count: int, limit: int, offset: int, *,
                   collection_links: dict[str, str] | None = None, template: list[str] | None = None,
                   queries: list[str] | None = None, status: int = 200) -> None:
        nxt = self._page_link(limit, offset + limit) if offset + limit < count else None
        prev = self._page_link(limit, max(0, offset - limit)) if offset > 0 else None
        if self.wants_json:
            out: dict[str, Any] = {"count": count, "next": nxt, "previous": prev,
                                   "results": [r.as_json() for r in items]}
            if collection_links is not None:
                out["collection_links"] = collection_links
            self.reply(out, status)
            return
        links = [{"rel": rel, "href": href} for rel, href in (collection_links or {}).items()]
        links += [{"rel": rel, "href": href} for rel, href in (("next", nxt), ("previous", prev)) if href]
        coll: dict[str, Any] = {"version": "1.0", "href": self._page_link(limit, offset), "items":
                                [r.as_cj() for r in items], "links": links, "total": count}
        if template:
            coll["template"] = {"data": [{"name": n, "value": ""} for n in template]}
        if queries:
            coll["queries"] = [{"href": self.request.protocol + "://" + self.request.host
                                + self.request.path.rstrip("/").rsplit("/search", 1)[0] + "/search/",
                                "rel": "search", "data": [{"name": n, "value": ""} for n in queries]}]
        self._reply_cj({"collection": coll}, status)

    def reply_item(self, item: Resource, status: int = 200, template: list[str] | None = None) -> None:
        if self.wants_json:
            out = item.as_json()
            if template:
                out["template"] = {"data": [{"name": n, "value": ""} for n in template]}
            self.reply(out, status)
            return
        coll: dict[str, Any] = {"version": "1.0", "href": item.url, "items": [item.as_cj()], "links": []}
        if template:
            coll["template"] = {"data": [{"name": n, "value": ""} for n in template]}
        self._reply_cj({"collection": coll}, status)

    def _reply_cj(self, data: dict[str, Any], status: int) -> None:
        self.set_status(status)
        self.set_header("Content-Type", CJ_TYPE)
        self.finish(json.dumps(data, default=str))


def _basic(value: str) -> tuple[str, str]:
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise web.HTTPError(401, "Invalid basic header. Credentials not correctly base64 encoded.") from None
    if not sep:
        raise web.HTTPError(401, "Invalid basic header. No credentials provided.")
    return user, password


def login_endpoint(method: Any) -> Any:
    """Expose a method to anonymous callers: only the login itself (``auth-token/``)."""
    from jupyter_server.auth.decorator import allow_unauthenticated

    from ..base import _translate_errors

    wrapped = allow_unauthenticated(_translate_errors(method))
    wrapped.__chris_auth__ = "login"
    return wrapped


# Our descriptor type names -> CUBE's.
TYPE_NAMES = {"str": "string", "int": "integer", "float": "float", "bool": "boolean",
              "path": "path", "unextpath": "unextpath"}
PARAM_ID_BASE = 1000  # parameters have no rows of their own: id = plugin id * base + index


def compute_resource(h: CubeHandler) -> Resource:
    """The one compute resource, this server's runner, as CUBE shows compute resources."""
    return Resource(h.url("computeresources/1/"), {
        "id": 1, "creation_date": "", "modification_date": "", "name": "host", "compute_url": "",
        "compute_auth_url": "", "description": "this server's runner", "max_job_exec_seconds": 0,
    })
