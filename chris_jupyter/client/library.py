"""Client methods for the library: files and folders (streamed up and down), sharing, links."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import NotFoundError, raise_for
from .http import CHUNK, Connection
from .progress import byte_progress
from .results import Page, Rows


class LibraryClient(Connection):
    """The library's files and folders, shares and private links."""

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
        bar = byte_progress(size, f"upload {Path(path).name}", progress)

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
        bar = byte_progress(total, f"upload {src.name}/ ({len(files)} files)", progress)
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
                raise_for(r)
            mode = "ab" if r.status_code == 206 else "wb"
            total = None if is_dir else info["size"]
            bar = byte_progress(total, f"download {name}", progress)
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
        raise_for(r)
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
