"""The library: folders and files in the DB kept in step with the tree on disk.

Listings and searches come from the DB (indexed, paginated; the queries are in
:mod:`~chris_jupyter.library.listing`); bytes come from
:class:`~chris_jupyter.library.store.Store`. Every public method takes the caller's
:class:`~chris_jupyter.identity.Principal` and checks it through
:mod:`~chris_jupyter.library.permissions` before anything is touched.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import paths
from ..db import Database
from ..db.models import File, Folder, User
from ..db.query import at_or_below, below
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..events import EventBus
from ..identity import Principal
from .entries import Archive, Entry, UploadTicket, ZipTransform
from .listing import Listing
from .permissions import Grants, load_grants
from .store import Store, StoreError

TOP_FOLDERS = ("home", paths.SERVICES, paths.PACS, paths.PIPELINES)


def _fixed(path: str) -> bool:
    """Folders of the ChRIS layout that no one moves or deletes through the library: the top
    level, homes with their ``uploads`` and ``feeds``, ``PIPELINES/<user>``, and feed folders
    (a feed's rows point at its folder: a feed is deleted as a feed, never as a folder)."""
    if paths.parent(path) == "" or path in TOP_FOLDERS:
        return True
    if paths.parent(path) == paths.PIPELINES:
        return True
    owner = paths.owner_of(path)
    if owner is None:
        return False
    if path in (paths.home(owner), paths.uploads(owner), paths.feeds_root(owner)):
        return True
    return paths.feed_id_of(path) is not None


class Library(Listing):
    """The library service: every public method takes the caller's principal and checks it first."""

    def __init__(
        self, db: Database, store: Store, events: EventBus, *, pacs_group: str = "pacs_users",
        fsync: bool = False,
    ) -> None:
        self.db = db
        self.store = store
        self.events = events
        self.pacs_group = pacs_group
        self.fsync = fsync
        # Called with (removed library paths) and (old prefix, new prefix): the DICOM index and
        # other derived data keep in step through these.
        self.on_removed: list[Callable[[str], None]] = []
        self.on_moved: list[Callable[[str, str], None]] = []
        # Called with every batch of files that entered the library (uploads, plugin outputs,
        # PACS): the DICOM index reads their headers.
        self.on_registered: list[Callable[[list[str]], None]] = []
        # Folder child counts (Listing._count), valid while ``_generation`` is unchanged. Every
        # write to the tree goes through this object (one backend process owns a data root), so
        # this is exact.
        self._generation = 0
        self._counts: dict[tuple, tuple[int, int]] = {}

    # -- grants -----------------------------------------------------------------------------------
    def grants(self, principal: Principal | None, session: Session | None = None) -> Grants:
        """The caller's rights (``session``: compute them in this transaction)."""
        if session is not None:
            return load_grants(session, principal, pacs_group=self.pacs_group)
        with self.db.session() as s:
            return load_grants(s, principal, pacs_group=self.pacs_group)

    def _need(self, grants: Grants, path: str, *, write: bool = False) -> None:
        if write:
            if not grants.can_write(path):
                if grants.can_read(path):
                    raise Forbidden(f"you may read but not change {path!r}")
                raise NotFound(f"no such file or folder, or not shared with you: {path!r}")
        elif not grants.can_read(path):
            raise NotFound(f"no such file or folder, or not shared with you: {path!r}")

    # -- folder rows ------------------------------------------------------------------------------
    def _user_ids(self, s: Session) -> dict[str, int]:
        return dict(s.execute(select(User.username, User.id)).tuples().all())

    def _ensure_folder(self, s: Session, path: str, cache: dict[str, int] | None = None) -> int:
        """The folder row id of ``path``, creating it and its ancestors when missing."""
        if cache is not None and path in cache:
            return cache[path]
        row = s.execute(select(Folder.id).where(Folder.path == path)).scalar()
        if row is None:
            parent_id = None if path == "" else self._ensure_folder(s, paths.parent(path), cache)
            owner = paths.owner_of(path)
            owner_id = (
                s.execute(select(User.id).where(User.username == owner)).scalar() if owner else None
            )
            # Another writer (a parallel upload into the same new folder) may create the row
            # between our look-up and our insert: then use its row.
            try:
                with s.begin_nested():
                    folder = Folder(path=path, parent_id=parent_id, name=paths.basename(path),
                                    owner_id=owner_id)
                    s.add(folder)
                    s.flush()
                row = folder.id
            except IntegrityError:
                row = s.execute(select(Folder.id).where(Folder.path == path)).scalar_one()
        if cache is not None:
            cache[path] = row
        return row

    def init_tree(self) -> None:
        """Create the top-level folders of the ChRIS layout (idempotent)."""
        with self.writing() as s:
            for p in ("", *TOP_FOLDERS):
                self._ensure_folder(s, p)
                self.store.makedirs(p)

    def init_home(self, username: str) -> None:
        """Create a user's home layout (``home/<user>``, its uploads and feeds folders); idempotent."""
        with self.writing() as s:
            for p in (paths.uploads(username), paths.feeds_root(username)):
                self._ensure_folder(s, p)
                self.store.makedirs(p)

    # -- changing the tree ------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """A session for changing the tree; cached counts are dropped once it has committed."""
        try:
            with self.db.session() as s:
                yield s
        finally:
            self._changed()

    def mkdir(self, principal: Principal, path: str) -> Entry:
        """Create a folder (and its parents) where the caller may write."""
        path = paths.normalize(path)
        g = self.grants(principal)
        self._need(g, path, write=True)
        self.store.disk(path, allowed=g.can_write)  # a link on the way must lead somewhere writable
        with self.writing() as s:
            if s.execute(select(File.id).where(File.path == path)).scalar() is not None:
                raise Conflict(f"a file exists at {path!r}")
            self.store.makedirs(path)
            self._ensure_folder(s, path)
            entry = self._entry(s, path)
        self.events.publish("folder.created", {"path": path}, path=path)
        return entry

    def begin_upload(self, principal: Principal, path: str, *, overwrite: bool = False) -> UploadTicket:
        """Check an upload may happen, then open its temporary file."""
        path = paths.normalize(path)
        g = self.grants(principal)
        self._need(g, path, write=True)
        self.store.disk(path, allowed=g.can_write)  # a link on the way must lead somewhere writable
        with self.db.session() as s:
            if s.execute(select(Folder.id).where(Folder.path == path)).scalar() is not None:
                raise Conflict(f"a folder exists at {path!r}")
            if not overwrite and s.execute(select(File.id).where(File.path == path)).scalar():
                raise Conflict(f"a file already exists at {path!r} (pass overwrite to replace it)")
            anc = paths.parent(path)
            while anc:
                if s.execute(select(File.id).where(File.path == anc)).scalar() is not None:
                    raise Conflict(f"{anc!r} is a file, not a folder")
                anc = paths.parent(anc)
        return UploadTicket(principal, path, overwrite, self.store.begin())

    def finish_upload(self, ticket: UploadTicket) -> Entry:
        """Make an upload appear at its path (one rename) and index it."""
        try:
            size = self.store.commit(ticket.temp, ticket.path, overwrite=ticket.overwrite, fsync=self.fsync)
        except StoreError as e:
            raise Conflict(str(e)) from None
        self.register_files([ticket.path], sizes={ticket.path: size})
        with self.db.session() as s:
            entry = self._entry(s, ticket.path)
        self.events.publish("file.created", {"path": ticket.path, "size": size}, path=ticket.path)
        return entry

    def abort_upload(self, ticket: UploadTicket) -> None:
        """Drop an upload; nothing appears."""
        self.store.abort(ticket.temp)

    def readable_disk(self, principal: Principal | Grants, path: str) -> Path:
        """Where a library path the caller may read lives on disk: the one check before a file
        is opened for a caller (content, zip, volumes, indexing).

        Access is decided on the requested path *and* on where it resolves: a path that goes
        through a symbolic link into another owner's area, or anywhere the caller may not
        read, is refused (:class:`~chris_jupyter.paths.LinkRefused`, a 400 that does
        not say where the link leads).
        """
        path = paths.normalize(path, allow_root=True)
        g = principal if isinstance(principal, Grants) else self.grants(principal)
        self._need(g, path)
        return self.store.disk(path, allowed=g.can_read)

    def open_file(self, principal: Principal, path: str) -> tuple[Path, Entry]:
        """The disk path and entry of a file the caller may read (for sending it)."""
        path = paths.normalize(path)
        with self.db.session() as s:
            g = self.grants(principal, s)
            self._need(g, path)
            entry = self._entry(s, path)
        if entry.kind != "file":
            raise BadRequest(f"not a file: {path!r} (download a folder as a zip)")
        disk = self.readable_disk(g, path)
        if not disk.is_file():
            raise NotFound(f"the file {path!r} is indexed but missing on disk")
        return disk, entry

    def file_path(self, principal: Principal, file_id: int) -> str:
        """The library path of the file with this id, if the caller may read it."""
        with self.db.session() as s:
            path = s.execute(select(File.path).where(File.id == file_id)).scalar()
            if path is None or not self.grants(principal, s).can_read(path):
                raise NotFound(f"no file {file_id}, or not shared with you")
            return path

    def zip(self, principal: Principal, path: str, *, transform: ZipTransform | None = None,
            suffix: str = "") -> Archive:
        """A folder download: its files from the DB, each opened under :meth:`readable_disk`'s
        rule (a file that resolves somewhere the caller may not read is left out).

        ``transform(disk_path, archive_name)`` may rewrite each file on the way into the archive
        (it returns the new ``(archive_name, bytes)``, or ``None`` to leave the file out): the
        de-identified DICOM export is this call with a de-identifying transform. The archive is
        named after the folder (``library`` for the root), plus ``suffix``.
        """
        g = self.grants(principal)
        names = self.zip_names(g, path)
        chunks = self.store.iter_zip(paths.normalize(path), names=names, transform=transform,
                                     allowed=g.can_read)
        return Archive((paths.basename(paths.normalize(path, allow_root=True)) or "library") + suffix, chunks)

    def zip_names(self, principal: Principal | Grants, path: str) -> list[tuple[str, str]]:
        """The (library path, archive name) pairs of a folder download, from the DB."""
        path = paths.normalize(path)
        g = principal if isinstance(principal, Grants) else self.grants(principal)
        self.readable_disk(g, path)
        with self.db.session() as s:
            if s.execute(select(Folder.id).where(Folder.path == path)).scalar() is None:
                raise NotFound(f"no such folder: {path!r}")
            base = paths.basename(path) or "library"
            q = select(File.path).where(below(File.path, path))
            return [(p, base + "/" + p[len(path):].lstrip("/")) for p in s.scalars(q.order_by(File.path))]

    def move(self, principal: Principal, src: str, dst: str) -> Entry:
        """Move or rename a file or folder (everything below moves along, in the DB and on disk)."""
        src, dst = paths.normalize(src), paths.normalize(dst)
        g = self.grants(principal)
        self._need(g, src, write=True)
        self._need(g, dst, write=True)
        for p in (src, dst):
            self.store.disk(p, allowed=g.can_write)  # links on the way: decided on where they lead
        if paths.is_within(dst, src):
            raise BadRequest("cannot move a folder into itself")
        if _fixed(src):
            raise Forbidden(f"{src!r} is part of the library's fixed layout and cannot be moved")
        src_owner = paths.owner_of(src)
        if (src_owner != paths.owner_of(dst) and src_owner != principal.username
                and not principal.is_admin):
            # A write share lets you change someone's data in place, not take it: a move out of
            # a home would hand the files (and their ownership) to another user.
            who = f"its owner ({src_owner})" if src_owner else "an administrator"
            raise Forbidden(f"you may change {src!r} where it is; only {who} may move it to "
                            f"{dst!r}")
        with self.writing() as s:
            try:
                self.store.move(src, dst)
            except StoreError as e:
                raise Conflict(str(e)) from None
            n = len(src)
            owner = paths.owner_of(dst)
            owner_id = self._user_ids(s).get(owner) if owner else None
            new_parent = self._ensure_folder(s, paths.parent(dst))
            for model in (Folder, File):
                s.execute(
                    update(model).where(below(model.path, src))
                    .values(path=literal(dst) + func.substr(model.path, n + 1), owner_id=owner_id)
                    .execution_options(synchronize_session=False)
                )
            s.execute(update(Folder).where(Folder.path == src).values(
                path=dst, name=paths.basename(dst), parent_id=new_parent, owner_id=owner_id))
            s.execute(update(File).where(File.path == src).values(
                path=dst, name=paths.basename(dst), folder_id=new_parent, owner_id=owner_id))
            entry = self._entry(s, dst)
        for hook in self.on_moved:
            hook(src, dst)
        self.events.publish("file.moved", {"src": src, "dst": dst}, path=dst)
        return entry

    def delete(self, principal: Principal, path: str) -> None:
        """Delete a file or folder with everything below it (not the fixed layout, not a feed's folder)."""
        path = paths.normalize(path)
        g = self.grants(principal)
        self._need(g, path, write=True)
        if _fixed(path):
            raise Forbidden(f"{path!r} is part of the library's fixed layout and cannot be deleted")
        self.store.disk(path, allowed=g.can_write)
        self._remove(path)

    def delete_feed_folder(self, principal: Principal, path: str) -> None:
        """Remove a feed's folder: only the feeds service calls this, once the feed row is gone."""
        path = paths.normalize(path)
        if paths.feed_id_of(path) is None:
            raise BadRequest(f"not a feed folder: {path!r}")
        g = self.grants(principal)
        self._need(g, path, write=True)
        self.store.disk(path, allowed=g.can_write)
        self._remove(path)

    def _remove(self, path: str) -> None:
        with self.writing() as s:
            self._entry(s, path)  # 404 when absent
            s.execute(delete(File).where(at_or_below(File.path, path)))
            s.execute(delete(Folder).where(at_or_below(Folder.path, path)))
            self.store.delete(path)
        for hook in self.on_removed:
            hook(path)
        self.events.publish("file.deleted", {"path": path}, path=path)

    # -- registering what others wrote (plugins, PACS) --------------------------------------------
    def register_files(self, lib_paths: Iterable[str], *, sizes: dict[str, int] | None = None) -> int:
        """Index files that are already on disk (idempotent); returns how many were new."""
        lib_paths = list(lib_paths)
        if not lib_paths:
            return 0
        with self.writing() as s:
            users = self._user_ids(s)
            cache: dict[str, int] = {}
            existing: set[str] = set()
            for i in range(0, len(lib_paths), 500):
                chunk = lib_paths[i : i + 500]
                existing.update(s.scalars(select(File.path).where(File.path.in_(chunk))))
            rows = []
            for p in lib_paths:
                size = sizes[p] if sizes and p in sizes else self.store.disk(p).stat().st_size
                if p in existing:
                    s.execute(update(File).where(File.path == p).values(size=size))
                    continue
                owner = paths.owner_of(p)
                rows.append({
                    "path": p, "folder_id": self._ensure_folder(s, paths.parent(p), cache),
                    "name": paths.basename(p), "size": size,
                    "owner_id": users.get(owner) if owner else None,
                    "content_type": mimetypes.guess_type(p)[0] or "application/octet-stream",
                })
            if rows:
                s.execute(insert(File), rows)
        for hook in self.on_registered:
            hook(lib_paths)
        return len(rows)

    def register_tree(self, path: str) -> int:
        """Index everything below ``path`` on disk (plugin outputs); returns the new file count."""
        path = paths.normalize(path)
        files: list[str] = []
        sizes: dict[str, int] = {}
        with self.writing() as s:
            self._ensure_folder(s, path)
            cache: dict[str, int] = {}
            for e in self.store.walk(path):
                if e.is_dir:
                    self._ensure_folder(s, e.path, cache)
                else:
                    files.append(e.path)
                    sizes[e.path] = e.size
        n = self.register_files(files, sizes=sizes)
        if n:
            self.events.publish("files.registered", {"path": path, "count": n}, path=path)
        return n
