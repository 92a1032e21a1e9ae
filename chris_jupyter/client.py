"""Python client of the ChRIS REST API, for notebooks, widgets, the CLI and remote scripts.

Inside a kernel started by a Jupyter server that runs the extension, ``Client()`` finds that
server and its token by itself. Elsewhere, give ``url`` and ``token`` (or set ``CHRIS_URL`` and
``CHRIS_TOKEN``). Errors are :class:`ChrisApiError` subclasses carrying the server's message.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from .client_compute import ComputeMixin
from .client_dicom import DicomMixin
from .progress import progress_bar
from .results import Page, Record, Rows, wrap

API = "chris/api/v1/"
CHUNK = 1024 * 1024


class ChrisApiError(Exception):
    """The server refused a request; ``str(err)`` is its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadRequestError(ChrisApiError):
    pass


class AuthenticationError(ChrisApiError):
    pass


class PermissionDeniedError(ChrisApiError):
    pass


class NotFoundError(ChrisApiError):
    pass


class ConflictError(ChrisApiError):
    pass


_ERRORS = {400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
           404: NotFoundError, 409: ConflictError}


def _raise_for(r: httpx.Response) -> None:
    if r.status_code < 400:
        return
    try:
        msg = r.json().get("message") or r.reason_phrase
    except (ValueError, AttributeError):
        msg = r.text[:500] or r.reason_phrase
    raise _ERRORS.get(r.status_code, ChrisApiError)(r.status_code, msg)


def discover_server() -> tuple[str, str] | None:
    """(url, token) of the Jupyter server this process runs under, or of the only local one."""
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


def _progress(total: int | None, desc: str, enabled: bool):  # noqa: ANN202
    return progress_bar(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                        disable=not enabled)


class Client(ComputeMixin, DicomMixin):
    """A connection to one ChRIS-for-Jupyter server.

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

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------
    def request(self, method: str, endpoint: str, /, **kw: Any) -> Any:
        r = self.http.request(method, endpoint, **kw)
        _raise_for(r)
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
        offset = 0
        while True:
            page = self.get(endpoint, limit=page_size, offset=offset, **params)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    # -- identity ---------------------------------------------------------------------------------
    def me(self) -> Record:
        return self.get("me")

    @property
    def home(self) -> str:
        """This user's library home, ``home/<username>`` (for paths: ``f"{c.home}/uploads/scans"``)."""
        if getattr(self, "_home", None) is None:
            self._home = f"home/{self.me()['username']}"
        return self._home

    def create_user(self, username: str, groups: list[str] | None = None, is_admin: bool = False) -> dict:
        return self.post("users", {"username": username, "groups": groups or [], "is_admin": is_admin})

    def create_token(self, user: str | None = None, name: str = "", expires_in: float | None = None) -> dict:
        return self.post("tokens", {"user": user, "name": name, "expires_in": expires_in})

    # -- files ------------------------------------------------------------------------------------
    def ls(self, path: str = "", *, limit: int = 100, offset: int = 0, name: str | None = None) -> Page:
        """One page of a folder: ``{"total", "items": [...]}`` (a table in a notebook)."""
        return self.get("files", path=path, limit=limit, offset=offset, name=name)

    def walk_folder(self, path: str) -> Iterator[dict[str, Any]]:
        """Every entry of a folder, all pages."""
        return self.paginate("files", path=path)

    def stat(self, path: str) -> dict[str, Any]:
        return self.get("files/stat", path=path)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except NotFoundError:
            return False

    def mkdir(self, path: str) -> dict[str, Any]:
        return self.post("files/folders", {"path": path})

    def move(self, src: str, dst: str) -> dict[str, Any]:
        return self.post("files/move", {"src": src, "dst": dst})

    def delete(self, path: str) -> None:
        self.request("DELETE", "files", params={"path": path})

    def search(self, **filters: Any) -> Page:
        """Search files: ``name``, ``path``, ``under``, ``owner``, ``created_after``/``before``."""
        return self.get("search/files", **filters)

    def upload(self, local: str | os.PathLike[str] | BinaryIO, path: str, *, overwrite: bool = False,
               progress: bool = True) -> dict[str, Any] | list[dict[str, Any]]:
        """Upload a file (streamed, never loaded in memory) or a whole folder to library ``path``."""
        if not hasattr(local, "read"):
            src = Path(local)  # type: ignore[arg-type]
            if src.is_dir():
                return self._upload_dir(src, path, overwrite=overwrite, progress=progress)
            if not src.is_file():
                raise FileNotFoundError(f"no such local file or folder: {src}")
            with open(src, "rb") as f:
                return self._upload_stream(f, path, src.stat().st_size, overwrite, progress)
        f = local  # type: ignore[assignment]
        size = None
        with contextlib.suppress(OSError, AttributeError, ValueError):
            size = os.fstat(f.fileno()).st_size - f.tell()  # type: ignore[union-attr]
        return self._upload_stream(f, path, size, overwrite, progress)  # type: ignore[arg-type]

    def _upload_stream(self, f: BinaryIO, path: str, size: int | None, overwrite: bool,
                       progress: bool) -> dict[str, Any]:
        bar = _progress(size, f"upload {Path(path).name}", progress)

        def body() -> Iterator[bytes]:
            while chunk := f.read(CHUNK):
                bar.update(len(chunk))
                yield chunk

        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        try:
            return self.request("PUT", "files/content", params={"path": path, "overwrite": str(overwrite).lower()},
                                content=body(), headers=headers, timeout=None)
        finally:
            bar.close()

    def _upload_dir(self, src: Path, path: str, *, overwrite: bool, progress: bool) -> list[dict[str, Any]]:
        files = sorted(p for p in src.rglob("*") if p.is_file())
        total = sum(p.stat().st_size for p in files)
        bar = _progress(total, f"upload {src.name}/ ({len(files)} files)", progress)
        out = []
        try:
            for p in files:
                rel = p.relative_to(src).as_posix()
                with open(p, "rb") as f:
                    out.append(self._upload_stream(f, f"{path.rstrip('/')}/{rel}", p.stat().st_size,
                                                   overwrite, False))
                bar.update(p.stat().st_size)
        finally:
            bar.close()
        return out

    def download(self, path: str, local: str | os.PathLike[str] | None = None, *, progress: bool = True,
                 deidentify: bool = False) -> Path:
        """Download a file (or a folder, as ``<name>.zip``); resumes a partial ``.part`` file.

        ``deidentify=True`` (folders): only the DICOM files, de-identified on the server
        (PS3.15 basic profile) — what to send outside the hospital.
        """
        info = self.stat(path)
        is_dir = info["kind"] == "folder"
        name = (info["name"] or "library") + ("-deidentified" if deidentify else "") + (".zip" if is_dir else "")
        dest = Path(local) if local is not None else Path(name)
        if dest.is_dir():
            dest = dest / name
        part = dest.with_name(dest.name + ".part")
        have = part.stat().st_size if part.exists() and not is_dir else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        endpoint = "files/zip" if is_dir else "files/content"
        params = {"path": path, **({"deidentify": "true"} if deidentify and is_dir else {})}
        with self.http.stream("GET", endpoint, params=params, headers=headers, timeout=None) as r:
            if r.status_code >= 400:
                r.read()
                _raise_for(r)
            mode = "ab" if r.status_code == 206 else "wb"
            total = None if is_dir else info["size"]
            bar = _progress(total, f"download {name}", progress)
            bar.update(have if mode == "ab" else 0)
            with open(part, mode) as f:
                for chunk in r.iter_bytes(CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
            bar.close()
        part.replace(dest)
        return dest

    def read_bytes(self, path: str) -> bytes:
        r = self.http.get("files/content", params={"path": path})
        _raise_for(r)
        return r.content

    # -- sharing ----------------------------------------------------------------------------------
    def share(self, path: str | None = None, *, feed_id: int | None = None, user: str | None = None,
              group: str | None = None, public: bool = False, permission: str = "read") -> dict[str, Any]:
        return self.post("shares", {"path": path, "feed_id": feed_id, "user": user, "group": group,
                                    "public": public, "permission": permission})

    def shares(self) -> Rows:
        return Rows(self.get("shares")["items"], "shares")

    def unshare(self, share_id: int) -> None:
        self.request("DELETE", f"shares/{share_id}")

    def link(self, path: str | None = None, *, feed_id: int | None = None,
             expires_in: float = 7 * 86400) -> dict[str, Any]:
        """An expiring private link; ``["url"]`` opens it without an account."""
        out = self.post("links", {"path": path, "feed_id": feed_id, "expires_in": expires_in})
        out["url"] = self.url.rstrip("/") + out["url"] if out["url"].startswith("/") else out["url"]
        return out

    # -- feeds ------------------------------------------------------------------------------------
    def feeds(self, **filters: Any) -> Rows:
        return Rows(self.paginate("feeds", page_size=200, **filters), "feeds")

    def create_feed(self, name: str = "") -> dict[str, Any]:
        return self.post("feeds", {"name": name})

    def feed(self, feed_id: int) -> dict[str, Any]:
        return self.get(f"feeds/{feed_id}")

    def update_feed(self, feed_id: int, *, name: str | None = None, note: str | None = None) -> dict:
        body = {k: v for k, v in {"name": name, "note": note}.items() if v is not None}
        return self.request("PATCH", f"feeds/{feed_id}", json=body)

    def delete_feed(self, feed_id: int) -> None:
        """Delete a feed with its jobs' outputs."""
        self.request("DELETE", f"feeds/{feed_id}")

    def comment(self, feed_id: int, content: str, title: str = "") -> dict[str, Any]:
        return self.post(f"feeds/{feed_id}/comments", {"content": content, "title": title})

    def tag_feed(self, feed_id: int, tags: list[str]) -> dict[str, Any]:
        return self.request("PUT", f"feeds/{feed_id}/tags", json={"tags": tags})

    # -- events -----------------------------------------------------------------------------------
    def events(self, *, types: list[str] | None = None, since: int | None = None, timeout: float | None = None,
               on_connect: Callable[[], object] | None = None) -> Iterator[dict]:
        """Yield change events as they happen (blocking iterator over the SSE stream).

        ``on_connect`` is called once the server has subscribed this stream (its ``: connected``
        line): nothing published after that point is missed, so start the work to follow, or read
        the state you wait for, there. If it returns True the iteration ends at once (what you wait
        for has already happened). ``timeout`` (seconds) ends the iteration when it has passed, even
        when no event comes: the server's keep-alive lines wake the reader (every 15 s).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        params = {"types": ",".join(types) if types else None, "since": since}
        try:
            with self.http.stream("GET", "events", params={k: v for k, v in params.items() if v is not None},
                                  timeout=httpx.Timeout(timeout, connect=10)) as r:
                if r.status_code >= 400:
                    r.read()
                    _raise_for(r)
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        yield json.loads(line[6:])
                    elif line.startswith(": connected") and on_connect is not None and on_connect():
                        return
                    if deadline is not None and time.monotonic() > deadline:
                        return
        except httpx.ReadTimeout:
            if deadline is None:
                raise
