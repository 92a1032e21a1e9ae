"""What every REST handler shares: identity, authorization, errors, JSON and pagination.

A handler method is exposed only through one of two decorators, and a test checks that every
method of every registered handler carries one:

- :func:`endpoint` — an authenticated caller, authorized by the Jupyter server's authorizer
  for the handler's resource (read for GET/HEAD, write otherwise); the core then checks the
  caller's rights on the data itself.

Each API module names its resource in ``AUTH_RESOURCE`` (``chris:files``, ``chris:compute``,
``chris:dicom``, …), as jupyter_server's services do, so that an ``Authorizer`` can allow one
area and not another; every handler class of the module takes it as its ``auth_resource``.
- :func:`link_endpoint` — anonymous access through a private share link token in the URL,
  read-only and confined to the link's target.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.auth.identity import User
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..backend import Backend
from ..errors import ChrisError
from ..identity import TOKEN_PREFIX, AuthError, Principal
from ..paths import InvalidPath
from ..utils.aio import run_blocking
from .names import API_PREFIX

AUTH_RESOURCE = "chris"
"""The resource of a handler whose module names none (each API module names its own)."""
MAX_LIMIT = 1000
_MISSING: Any = object()
AUTH_REQUIRED = ("authentication required: send a ChRIS API token (Authorization: Bearer chris_…) "
                 "or the Jupyter server's token, or log in to Jupyter")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def api_path(suffix: str) -> str:
    """The URL pattern of an API route: ``chris/api/v1/<suffix>``."""
    return f"{API_PREFIX}/{suffix}".rstrip("/")


def _translate_errors(method: F) -> F:
    @functools.wraps(method)
    async def wrapper(self: ChrisHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except ChrisError as e:
            raise web.HTTPError(e.status, str(e), reason=type(e).__name__) from None
        except InvalidPath as e:
            raise web.HTTPError(400, str(e), reason="InvalidPath") from None

    return wrapper  # type: ignore[return-value]


def endpoint(method: F) -> F:
    """Expose a handler method to authenticated, authorized callers only."""
    action = "read" if method.__name__ in ("get", "head") else "write"
    translated = _translate_errors(method)
    checked: dict[str, Callable[..., Awaitable[Any]]] = {}  # per resource (a subclass may name another)

    @functools.wraps(method)
    async def wrapper(self: ChrisHandler, *args: Any, **kwargs: Any) -> Any:
        if self.principal is None or self.principal.via == "link":
            raise web.HTTPError(401, getattr(self.chris_app, "auth_required_message", AUTH_REQUIRED))
        resource = self.auth_resource
        if resource not in checked:
            checked[resource] = authorized(action, resource)(translated)
        return await checked[resource](self, *args, **kwargs)

    wrapper.__chris_auth__ = "user"  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def link_endpoint(method: F) -> F:
    """Expose a handler method to holders of a share link (first URL argument is the token)."""

    @functools.wraps(method)
    async def wrapper(self: ChrisHandler, token: str, *args: Any, **kwargs: Any) -> Any:
        self.principal, self.link_target = await self.run(self.backend.sharing.link_principal, token)
        return await method(self, *args, **kwargs)

    wrapped = allow_unauthenticated(_translate_errors(wrapper))
    wrapped.__chris_auth__ = "link"  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


class ChrisHandler(APIHandler):
    """The base of every REST handler: the caller's :class:`Principal`, the backend, JSON replies."""

    auth_resource = AUTH_RESOURCE
    principal: Principal | None = None
    link_target: str | None = None
    api_token: str | None = None  # the backend API token the caller authenticated with, if any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The module's AUTH_RESOURCE, unless the class names its own.
        super().__init_subclass__(**kwargs)
        if "auth_resource" not in cls.__dict__:
            module = sys.modules.get(cls.__module__)
            cls.auth_resource = getattr(module, "AUTH_RESOURCE", cls.auth_resource)

    def initialize(self, backend: Backend, chris_app: Any) -> None:
        """Receive the backend and the extension app (tornado's per-handler arguments)."""
        self.backend = backend
        self.chris_app = chris_app

    # -- identity ---------------------------------------------------------------------------------
    def _bearer(self) -> str | None:
        auth = self.request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        value = value.strip()
        if scheme.lower() in ("bearer", "token") and value.startswith(TOKEN_PREFIX):
            return value
        return None

    async def prepare(self) -> None:  # type: ignore[override]
        """Identify the caller (Jupyter user, API token or hub user) before any method runs."""
        token = self._bearer()
        if token is None:
            await super().prepare()
            user = self.current_user
            if user is not None:
                self.principal = await self.run(self.chris_app.principal_for_jupyter_user, user)
            return
        # A backend-issued API token: it identifies the caller by itself, so the Jupyter
        # server's own login (cookie or server token) is not consulted, and as a header
        # credential it needs no XSRF check.
        CallContext.set(CallContext.JUPYTER_HANDLER, self)
        if not self.check_host():
            raise web.HTTPError(403)
        try:
            self.principal = await self.run(self.backend.users.authenticate_token, token)
        except AuthError as e:
            raise web.HTTPError(401, str(e)) from None
        except ChrisError as e:  # a valid token of a user this server does not serve
            raise web.HTTPError(e.status, str(e), reason=type(e).__name__) from None
        self.api_token = token
        self.current_user = self._jupyter_current_user = User(username=self.principal.username)
        self._token_authenticated = True
        self.set_cors_headers()  # as the Jupyter path does (ServerApp.allow_origin)

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        """Finish the response, keeping the Content-Type a handler chose (files, logs, event streams).

        jupyter_server's APIHandler labels every response JSON; JSON is used only where none was chosen.
        """
        chosen = self._headers.get("Content-Type", "")
        if chosen and not chosen.startswith("text/html"):
            kwargs.setdefault("set_content_type", chosen)
        return super().finish(*args, **kwargs)

    async def credential_error(self) -> str | None:
        """Why the caller's API token is no longer valid (revoked, expired, user not served), or
        ``None`` while it is; refreshes :attr:`principal`. For long-lived responses (event streams),
        which must not outlive their credential."""
        if self.api_token is None:
            return None
        try:
            self.principal = await self.run(self.backend.users.authenticate_token, self.api_token)
        except (AuthError, ChrisError) as e:
            return str(e)
        return None

    # -- arguments ----------------------------------------------------------------------------------
    def get_arguments(self, name: str, strip: bool = False) -> list[str]:  # type: ignore[override]
        """The values of query (or form) argument ``name`` exactly as sent.

        Tornado's own ``get_argument`` turns control characters into spaces and strips
        whitespace, so ``path=a%00b`` would arrive as ``a b`` and ``path=x/%00`` as ``x/``:
        the path rule (``chris_jupyter/paths.py``) must see what was sent to refuse it. Only UTF-8
        decoding happens here (invalid UTF-8 is a 400); ``strip`` is accepted for compatibility
        and strips nothing but surrounding whitespace when asked for explicitly.
        """
        values = [self.decode_argument(v, name=name) for v in self.request.arguments.get(name, [])]
        return [v.strip() for v in values] if strip else values

    def get_argument(self, name: str, default: Any = _MISSING, strip: bool = False) -> Any:  # type: ignore[override]
        """The last value of argument ``name`` exactly as sent (see :meth:`get_arguments`)."""
        values = self.get_arguments(name, strip=strip)
        if values:
            return values[-1]
        if default is _MISSING:
            raise web.MissingArgumentError(name)
        return default

    def seconds_from(self, body: dict[str, Any], name: str, default: float | None = None, *,
                     hi: float) -> float | None:
        """A positive number of seconds from a JSON body (``default`` when absent or null)."""
        raw = body.get(name)
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise web.HTTPError(400, f"'{name}' must be a number of seconds, got {raw!r}")
        try:
            val = float(raw)
        except ValueError:
            raise web.HTTPError(400, f"'{name}' must be a number of seconds, got {raw!r}") from None
        if not math.isfinite(val) or not 0 < val <= hi:
            raise web.HTTPError(400, f"'{name}' must be more than 0 and at most {hi:g} seconds, got {raw!r}")
        return val

    # -- helpers ----------------------------------------------------------------------------------
    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call blocking core code off the event loop."""
        return await run_blocking(func, *args, **kwargs)

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object (``{}`` when empty); 400 for anything else."""
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError:
            raise web.HTTPError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "request body must be a JSON object")
        return body

    def reply(self, data: Any, status: int = 200) -> None:
        """Send what the core returned as JSON: the core shapes its results (JSON-ready dicts and
        lists, or objects with a ``to_json()`` method such as :class:`~chris_jupyter.library.entries.Page`);
        a handler adds at most an envelope (``{"items": [...]}``)."""
        if hasattr(data, "to_json"):
            data = data.to_json()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def int_arg(self, name: str, default: int, *, lo: int = 0, hi: int | None = None) -> int:
        """A whole-number query argument within ``lo``..``hi``; 400 with the rule otherwise."""
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            val = int(raw)
        except ValueError:
            raise web.HTTPError(400, f"'{name}' must be a whole number, got {raw!r}") from None
        if val < lo or (hi is not None and val > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise web.HTTPError(400, f"'{name}' must be {rng}, got {val}")
        return val

    def page_args(self, default_limit: int = 100) -> tuple[int, int]:
        """``limit`` and ``offset`` of a paginated listing."""
        return (self.int_arg("limit", default_limit, lo=1, hi=MAX_LIMIT), self.int_arg("offset", 0))

    def date_arg(self, name: str) -> dt.datetime | None:
        """A date or date-time query argument (ISO 8601), or ``None``."""
        raw = self.get_argument(name, None)
        if not raw:
            return None
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise web.HTTPError(400, f"'{name}' must be an ISO 8601 date or time, got {raw!r}") from None
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    def bool_arg(self, name: str, default: bool = False) -> bool:
        """A yes/no query argument (``1``/``true``/``yes`` or ``0``/``false``/``no``)."""
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on", ""):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise web.HTTPError(400, f"'{name}' must be true or false, got {raw!r}")

    def required_arg(self, name: str) -> str:
        """A query argument that must be given; 400 naming it otherwise."""
        raw = self.get_argument(name, None)
        if raw is None:
            raise web.HTTPError(400, f"the query argument '{name}' is required")
        return raw
