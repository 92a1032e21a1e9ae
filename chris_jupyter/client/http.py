"""The connection every part of the client is built on: the server's address, the credentials
and the JSON request helpers.

:class:`Connection` finds the server (``url``/``token``, ``CHRIS_URL``/``CHRIS_TOKEN``, or the
Jupyter server this kernel runs under), holds one ``httpx.Client`` (``.http``) and turns replies
into the display types of :mod:`.results` and error replies into :mod:`.errors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Self

import httpx

from .errors import ChrisApiError, raise_for
from .results import wrap

API = "chris/api/v1/"
CHUNK = 1024 * 1024


def discover_server() -> tuple[str, str] | None:
    """(url, token) of the Jupyter server this process runs under, or of the only local one.

    In a JupyterHub user's server in client mode (the ChRIS spawner sets ``CHRIS_HUB_SERVICE_URL``)
    it is the hub's ChRIS service, with the server's own hub token (``JUPYTERHUB_API_TOKEN``).
    """
    hub_service, hub_token = os.environ.get("CHRIS_HUB_SERVICE_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    if hub_service and hub_token:
        return hub_service, hub_token
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    servers = list(list_running_servers())
    parent = os.environ.get("JPY_PARENT_PID")
    for pids in ([int(parent)] if parent and parent.isdigit() else [], [os.getppid()]):
        for s in servers:
            if s.get("pid") in pids:
                return s["url"], s.get("token", "")
    if len(servers) == 1:
        return servers[0]["url"], servers[0].get("token", "")
    return None


class Connection:
    """A connection to one ChRIS-for-Jupyter server (the base of :class:`chris_jupyter.Client`).

    Parameters
    ----------
    url
        The Jupyter server (or JupyterHub service) URL, e.g. ``http://127.0.0.1:8888/``.
    token
        A ChRIS API token (``chris_…``) or the Jupyter server's own token.
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60) -> None:
        url = url or os.environ.get("CHRIS_URL")
        token = token if token is not None else os.environ.get("CHRIS_TOKEN")
        if not url:
            found = discover_server()
            if found is None:
                raise ChrisApiError(0, "no server given and none found: pass url= and token=, "
                                       "or set CHRIS_URL and CHRIS_TOKEN")
            url, found_token = found
            token = token if token is not None else found_token
        self.url = url if url.endswith("/") else url + "/"
        headers = {}
        if token:
            scheme = "Bearer" if token.startswith("chris_") else "token"
            headers["Authorization"] = f"{scheme} {token}"
        self.http = httpx.Client(base_url=self.url + API, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"<chris_jupyter.Client {self.url}>"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> httpx.Client:
        """A new ``httpx.Client`` with this connection's address and credentials, for a stream
        read in another thread (the caller closes it)."""
        return httpx.Client(base_url=self.http.base_url, headers=self.http.headers)

    # -- requests ---------------------------------------------------------------------------------
    def request(self, method: str, endpoint: str, /, **kw: Any) -> Any:
        """One request: the reply's JSON as a display type, bytes for other content, ``None``
        for no content; an error reply raises its :class:`~.errors.ChrisApiError`."""
        r = self.http.request(method, endpoint, **kw)
        raise_for(r)
        if r.status_code == 204 or not r.content:
            return None
        if not r.headers.get("content-type", "").startswith("application/json"):
            return r.content
        return wrap(r.json(), endpoint)

    def get(self, endpoint: str, /, **params: Any) -> Any:
        return self.request("GET", endpoint, params={k: v for k, v in params.items() if v is not None})

    def post(self, endpoint: str, body: dict[str, Any] | None = None, /) -> Any:
        return self.request("POST", endpoint, json=body or {})

    def paginate(self, endpoint: str, /, *, page_size: int = 500, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated listing, page after page."""
        offset = 0
        while True:
            page = self.get(endpoint, limit=page_size, offset=offset, **params)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return
