"""Client mode: a hub user's Jupyter server forwards ``chris/api/v1/…`` to the ChRIS service.

The browser side of the extension (the viewer's volume fetches with ``Range``, the event stream,
the panels) calls ``<base_url>chris/api/v1/…`` on the page's own server exactly as in the embedded
default. In a hub user's server those routes are this handler: the Jupyter server has already
authenticated the browser (the hub's cookie for this server, plus ``_xsrf`` for writes), and the
request goes on to the service with the server's own hub token (``JUPYTERHUB_API_TOKEN``, which
``c.Spawner.server_token_scopes`` lets reach the service), so the service sees the server's owner.
The browser's cookies and credentials are never passed on. Responses are streamed back chunk by
chunk, so Server-Sent Events and large downloads are not buffered.

Anyone the hub lets into this server (its owner, or a user it is shared with) acts as the owner:
the hub's rule for shared servers ("a shared server runs code as its owner"). The request carries
who that is (``X-Chris-Viewer``, the Jupyter user), so that a viewer's crosshair in a shared
notebook is labelled with the person, not only the account.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.iostream import StreamClosedError

from .names import API_PREFIX, VIEWER_HEADER

REQUEST_HEADERS = ("Content-Type", "Range", "If-Range", "If-None-Match", "If-Modified-Since", "Accept",
                   "Last-Event-ID")
RESPONSE_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified",
                    "Cache-Control", "Content-Disposition", "Content-Security-Policy", "X-Accel-Buffering")


class ForwardHandler(JupyterHandler):
    """``<base_url>chris/api/v1/<path>`` → ``<service>chris/api/v1/<path>`` as this server's user."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    #: Asked of the server's authorizer (``read`` for GET/HEAD, ``write`` otherwise); the service
    #: then applies the ChRIS rules to the server's owner.
    auth_resource = "chris:forward"

    def initialize(self, http: httpx.AsyncClient, service_url: str, token: str) -> None:
        self.http = http
        self.target = f"{service_url.rstrip('/')}/{API_PREFIX}/"
        self.hub_token = token

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if not self.check_origin():  # as Jupyter's API handlers: another origin's page gets nothing
            raise web.HTTPError(404)

    def get_login_url(self) -> str:
        """A script's request without valid credentials is refused, never sent to the hub's login.

        A redirect would send an ``EventSource`` or a ``fetch`` through the OAuth dance, which
        replaces the page's cookie (and so its ``_xsrf``) each time round, and loops.
        """
        if not self.current_user:
            raise web.HTTPError(403, "not logged in to this server, or the request has no _xsrf")
        return super().get_login_url()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors of the forwarder itself are JSON ``{"message": …}``, as the service's own are."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = (exc.log_message if isinstance(exc, web.HTTPError) else None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._forward(path)

    head = post = put = patch = delete = get

    async def _forward(self, path: str) -> None:
        # the page's own credentials stay here (an event stream sends its _xsrf as an argument)
        query = urlencode([(k, v) for k, v in parse_qsl(self.request.query, keep_blank_values=True)
                           if k not in ("_xsrf", "token")])
        url = self.target + path + (f"?{query}" if query else "")
        headers = {h: self.request.headers[h] for h in REQUEST_HEADERS if h in self.request.headers}
        headers["Authorization"] = f"token {self.hub_token}"
        headers["Accept-Encoding"] = "identity"  # chunks pass through as they are
        # who is at the page (in a shared server: perhaps not the owner), for viewers' crosshair labels;
        # set here, never passed on from the browser
        headers[VIEWER_HEADER] = getattr(self.current_user, "username", "") or ""
        method = self.request.method or "GET"
        body = self.request.body if method in ("POST", "PUT", "PATCH", "DELETE") else None
        try:
            async with self.http.stream(method, url, headers=headers, content=body) as r:
                self.set_status(r.status_code, r.reason_phrase or None)
                for h in RESPONSE_HEADERS:
                    if h in r.headers:
                        self.set_header(h, r.headers[h])
                if method == "HEAD":
                    self.finish()
                    return
                async for chunk in r.aiter_raw():
                    self.write(chunk)
                    await self.flush()
        except StreamClosedError:
            return  # the browser went away (e.g. closed an event stream)
        except httpx.TransportError as e:
            if not self._headers_written:
                self.set_status(502)
                self.finish({"message": f"the ChRIS service cannot be reached ({type(e).__name__}: {e})"})
            return
        if not self._finished:
            self.finish()


def client_mode_handlers(service_url: str) -> list[tuple[str, type, dict]]:
    """The client-mode routes: everything under ``chris/api/v1/``, with this server's hub token."""
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not token:
        raise RuntimeError("client mode (CHRIS_HUB_SERVICE_URL is set) works only in a JupyterHub user's "
                           "server: JUPYTERHUB_API_TOKEN is not set")
    http = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10))
    return [(rf"{API_PREFIX}/?(.*)", ForwardHandler, {"http": http, "service_url": service_url, "token": token})]
