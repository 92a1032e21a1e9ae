"""Sharing one's own JupyterHub server: share codes, through the hub's REST API.

A *share code* (JupyterHub ≥ 5) is a random string that another hub user exchanges, on the hub's
"Authorize access" page (``<hub>/hub/accept-share?code=…``), for access to the server it was made
for. The people who open that server then edit its notebooks together (jupyter-collaboration).

Inside a hub user's server the hub gives the server a token (``JUPYTERHUB_API_TOKEN``) with the
scopes of ``c.Spawner.server_token_scopes``; the repository's ``jupyterhub_config.py`` adds
``shares!server`` there, so code in that server (a kernel, a terminal, ``chris-jupyter
share-server``) may make and revoke share codes for this one server, and nothing more. Everything
else the server's location needs comes from the hub's environment variables too.

Mind what sharing means: whoever accepts runs code *as the server's owner*, with the owner's files
and the owner's ChRIS identity (see the README's "Shared notebooks").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .errors import ChrisApiError, raise_for

#: JupyterHub's bounds for a share code's lifetime (its API refuses others)
MIN_EXPIRES_IN, MAX_EXPIRES_IN = 60, 525600 * 60


class NotInHubError(ChrisApiError):
    """Sharing a server needs a JupyterHub user's server; this process does not run in one."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(0, "sharing a server works only inside a JupyterHub user's server "
                            f"(not set here: {', '.join(missing)}); on a single-user ChRIS there is "
                            "no server to share: share library folders instead (chris-jupyter share)")


@dataclass(frozen=True)
class HubServer:
    """The hub user's server this process runs in, as the hub's environment describes it."""

    api_url: str  # the hub's REST API, ending in "/"
    token: str  # the server's own hub token
    user: str
    server_name: str = ""  # "" is the user's default server
    public_url: str = ""  # where browsers reach the hub, for full links ("" if unknown)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HubServer:
        env = os.environ if environ is None else environ
        needed = ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER")
        missing = [name for name in needed if not env.get(name)]
        if missing:
            raise NotInHubError(missing)
        api = env["JUPYTERHUB_API_URL"]
        # the hub's own public URL if it has one, else the one the ChRIS config gives user servers
        public = env.get("JUPYTERHUB_PUBLIC_HUB_URL") or env.get("CHRIS_HUB_PUBLIC_URL") or ""
        return cls(api_url=api if api.endswith("/") else api + "/", token=env["JUPYTERHUB_API_TOKEN"],
                   user=env["JUPYTERHUB_USER"], server_name=env.get("JUPYTERHUB_SERVER_NAME", ""),
                   public_url=public)

    # -- the hub's API ------------------------------------------------------------------------------
    def _path(self, kind: str) -> str:
        return f"{kind}/{quote(self.user, safe='')}/{quote(self.server_name, safe='')}"

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        with httpx.Client(base_url=self.api_url, headers={"Authorization": f"token {self.token}"},
                          timeout=30) as http:
            r = http.request(method, path, **kw)
        if r.status_code == 403:
            raise ChrisApiError(403, f"the hub refused ({r.status_code}: {_message(r)}); this server's token "
                                     "needs the scope shares!server (c.Spawner.server_token_scopes) and its "
                                     "owner shares!user (the user role): ask the hub's administrator")
        raise_for(r)
        return r

    def full_url(self, path: str) -> str:
        """``path`` (the hub's absolute path, e.g. ``/hub/accept-share?code=…``) as a full link, if
        the hub's public address is known; else ``path`` itself."""
        if not self.public_url:
            return path
        origin = urlsplit(self.public_url)
        return f"{origin.scheme}://{origin.netloc}{path}"

    def create_code(self, expires_in: int = 86400) -> dict[str, Any]:
        """A new share code for this server (JupyterHub's model, with ``full_accept_url`` filled in
        whenever the hub's address is known). The code is shown only now: the hub keeps a hash."""
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or not (
                MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN):
            raise ValueError(f"expires_in is seconds from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN} (a year), "
                             f"got {expires_in!r}")
        model = self._request("POST", self._path("share-codes"), json={"expires_in": int(expires_in)}).json()
        model["full_accept_url"] = model.get("full_accept_url") or self.full_url(model["accept_url"])
        return model

    def codes(self) -> list[dict[str, Any]]:
        """The share codes of this server that are still valid (without the codes themselves)."""
        return self._request("GET", self._path("share-codes")).json()["items"]

    def shares(self) -> list[dict[str, Any]]:
        """Who has access to this server through a share (accepted codes included)."""
        return self._request("GET", self._path("shares")).json()["items"]

    def revoke_code(self, code: str | None = None) -> None:
        """Revoke one share code (``code``: the code itself, or its ``sc_<n>`` id), or all of them.
        Access already granted by accepting a code stays: see :meth:`revoke_shares`."""
        params = {} if code is None else ({"id": code} if code.startswith("sc_") else {"code": code})
        self._request("DELETE", self._path("share-codes"), params=params)

    def revoke_shares(self) -> None:
        """Take this server's access away from everyone it was shared with (codes stay valid:
        revoke them too to stop sharing altogether). A browser tab already open in the server may
        keep working until the server's cached check of its cookie expires (minutes)."""
        self._request("DELETE", self._path("shares"))


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json().get("message") or r.reason_phrase)
    except ValueError:
        return r.reason_phrase


class HubShareClient:
    """The :class:`~chris_jupyter.Client` calls for sharing the hub server it runs in."""

    def share_server_code(self, *, expires_in: int = 86400) -> dict[str, Any]:
        """Make a share code for this JupyterHub user's server; send ``["full_accept_url"]`` to
        the colleague, who accepts it on the hub's "Authorize access" page. ``expires_in``:
        seconds the code may be accepted (60 s to a year; default a day)."""
        return HubServer.from_env().create_code(expires_in)

    def revoke_share_codes(self, code: str | None = None) -> None:
        """Revoke one share code of this server, or (``None``) all of them."""
        HubServer.from_env().revoke_code(code)

    def stop_sharing_server(self) -> None:
        """Revoke every share code of this server and every access given through one."""
        server = HubServer.from_env()
        server.revoke_code()
        server.revoke_shares()
