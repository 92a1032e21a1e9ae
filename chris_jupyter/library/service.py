"""The library: folders and files in the DB kept in step with the tree on disk.

Listings and searches come from the DB (indexed, paginated); bytes come from
:class:`~chris_jupyter.library.store.Store`. Every public method takes the caller's
:class:`~chris_jupyter.identity.Principal` and checks it through
:mod:`~chris_jupyter.library.permissions` before anything is touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from ..db import Database
from ..db.models import File, Folder, User
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..events import EventBus
from ..identity import Principal
from . import paths
from .permissions import Grants, load_grants
from .store import Store, StoreError, TempUpload

TOP_FOLDERS = ("home", paths.SERVICES, paths.PACS, paths.PIPELINES)


@dataclass
class Entry:
    path: str
    name: str
    kind: str  # "folder" | "file"
    size: int = 0
    owner: str | None = None
    created_at: dt.datetime | None = None
    content_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["created_at"] = self.created_at.isoformat() if self.created_at else None
        return d


@dataclass
class Page:
    total: int
    items: list[Entry]
    limit: int
    offset: int
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "items": [e.to_json() for e in self.items],
            **self.extra,
        }


@dataclass
class UploadTicket:
    principal: Principal
    path: str
    overwrite: bool
    temp: TempUpload


_FEED_FOLDER = re.compile(r"feed_[0-9]+")


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
    return paths.parent(path) == paths.feeds_root(owner) and bool(_FEED_FOLDER.fullmatch(paths.basename(path)))


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Library:
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
        # Folder child counts, valid while ``_generation`` is unchanged. Every write to the tree
        # goes through this object (one backend process owns a data root), so this is exact.
        self._generation = 0
        self._counts: dict[tuple, tuple[int, int]] = {}

    # -- grants -----------------------------------------------------------------------------------
    def grants(self, principal: Principal | None, session: Session | None = None) -> Grants:
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
            folder = Folder(path=path, parent_id=parent_id, name=paths.basename(path), owner_id=owner_id)
            s.add(folder)
            s.flush()
            row = folder.id
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
        with self.writing() as s:
            for p in (paths.uploads(username), paths.feeds_root(username)):
                self._ensure_folder(s, p)
                self.store.makedirs(p)

    # -- listing and search -----------------------------------------------------------------------
    def _changed(self) -> None:
        """Every change to the tree goes through here: cached folder counts are dropped."""
        self._generation += 1

    def _count(self, s: Session, model: type, conds: list, key: tuple) -> int:
        """Count children, cached until the tree changes (a 300,000-file folder costs ~20 ms)."""
        key = (key[0], key[1], tuple(sorted(key[2])) if key[2] is not None else None, key[3])
        gen = self._generation  # read before the query: a write committed meanwhile invalidates it
        hit = self._counts.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        n = s.execute(select(func.count()).select_from(model).where(*conds)).scalar_one()
        if len(self._counts) > 10000:
            self._counts.clear()
        self._counts[key] = (gen, n)
        return n

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """A session for changing the tree; cached counts are dropped once it has committed."""
        try:
            with self.db.session() as s:
                yield s
        finally:
            self._changed()

    def stat(self, principal: Principal, path: str) -> Entry:
        path = paths.normalize(path, allow_root=True)
        with self.db.session() as s:
            g = self.grants(principal, s)
            if not (g.can_read(path) or g.leads_to(path)):
                raise NotFound(f"no such file or folder, or not shared with you: {path!r}")
            return self._entry(s, path)

    def _entry(self, s: Session, path: str) -> Entry:
        f = s.execute(
            select(File, User.username).outerjoin(User, User.id == File.owner_id).where(File.path == path)
        ).first()
        if f is not None:
            file, owner = f
            return Entry(path, file.name, "file", file.size, owner, file.created_at, file.content_type)
        d = s.execute(
            select(Folder, User.username).outerjoin(User, User.id == Folder.owner_id).where(Folder.path == path)
        ).first()
        if d is None:
            raise NotFound(f"no such file or folder: {path!r}")
        folder, owner = d
        return Entry(path, folder.name, "folder", 0, owner, folder.created_at)

    def list(
        self, principal: Principal, path: str, *, limit: int = 100, offset: int = 0,
        name_contains: str | None = None,
    ) -> Page:
        """One page of a folder's children: folders first, then files, each sorted by name."""
        path = paths.normalize(path, allow_root=True)
        with self.db.session() as s:
            g = self.grants(principal, s)
            only = g.leads_to(path)
            if only == set() and not g.can_read(path):
                raise NotFound(f"no such folder, or not shared with you: {path!r}")
            fid = s.execute(select(Folder.id).where(Folder.path == path)).scalar()
            if fid is None:
                if s.execute(select(File.id).where(File.path == path)).scalar() is not None:
                    raise BadRequest(f"not a folder: {path!r}")
                raise NotFound(f"no such folder: {path!r}")
            fconds = [Folder.parent_id == fid]
            iconds = [File.folder_id == fid]
            if only is not None:
                fconds.append(Folder.name.in_(only))
                iconds.append(File.name.in_(only))
            if name_contains:
                pat = f"%{_like_escape(name_contains.lower())}%"
                fconds.append(func.lower(Folder.name).like(pat, escape="\\"))
                iconds.append(func.lower(File.name).like(pat, escape="\\"))
            nfold = self._count(s, Folder, fconds, (fid, "d", only, name_contains))
            nfile = self._count(s, File, iconds, (fid, "f", only, name_contains))
            items: list[Entry] = []
            if offset < nfold:
                q = (
                    select(Folder, User.username).outerjoin(User, User.id == Folder.owner_id)
                    .where(*fconds).order_by(Folder.name).offset(offset).limit(limit)
                )
                items += [Entry(f.path, f.name, "folder", 0, o, f.created_at) for f, o in s.execute(q)]
            left = limit - len(items)
            if left > 0:
                # Deferred join: skip rows on the (folder_id, name) index alone, then fetch the page.
                ids = (select(File.id).where(*iconds).order_by(File.name)
                       .offset(max(0, offset - nfold)).limit(left).scalar_subquery())
                q = (
                    select(File, User.username).outerjoin(User, User.id == File.owner_id)
                    .where(File.id.in_(ids)).order_by(File.name)
                )
                items += [
                    Entry(f.path, f.name, "file", f.size, o, f.created_at, f.content_type)
                    for f, o in s.execute(q)
                ]
            return Page(nfold + nfile, items, limit, offset, path)

    def search(
        self, principal: Principal, *, name_contains: str | None = None, path: str | None = None,
        under: str | None = None, owner: str | None = None,
        created_after: dt.datetime | None = None, created_before: dt.datetime | None = None,
        limit: int = 100, offset: int = 0,
    ) -> Page:
        """Files the caller may read that match every given filter, newest first."""
        with self.db.session() as s:
            g = self.grants(principal, s)
            conds = []
            prefixes = g.readable_prefixes()
            if prefixes is not None:
                if not prefixes:
                    return Page(0, [], limit, offset)
                conds.append(or_(*[
                    (File.path.like(_like_escape(p) + "/%", escape="\\") if p else literal(True))
                    for p in prefixes
                ]))
            if name_contains:
                pat = f"%{_like_escape(name_contains.lower())}%"
                conds.append(func.lower(File.name).like(pat, escape="\\"))
            if path:
                conds.append(File.path == paths.normalize(path))
            if under:
                conds.append(File.path.like(_like_escape(paths.normalize(under)) + "/%", escape="\\"))
            if owner:
                conds.append(User.username == owner)
            if created_after:
                conds.append(File.created_at >= created_after)
            if created_before:
                conds.append(File.created_at < created_before)
            base = select(File, User.username).outerjoin(User, User.id == File.owner_id).where(*conds)
            total = s.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            rows = s.execute(base.order_by(File.created_at.desc(), File.id.desc()).offset(offset).limit(limit))
            items = [
                Entry(f.path, f.name, "file", f.size, o, f.created_at, f.content_type) for f, o in rows
            ]
            return Page(total, items, limit, offset)

    # -- changing the tree ------------------------------------------------------------------------
    def mkdir(self, principal: Principal, path: str) -> Entry:
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
        self.store.abort(ticket.temp)

    def readable_disk(self, principal: Principal | Grants, path: str) -> Path:
        """Where a library path the caller may read lives on disk: the one check before a file
        is opened for a caller (content, zip, volumes, indexing).

        Access is decided on the requested path *and* on where it resolves: a path that goes
        through a symbolic link into another owner's area, or anywhere the caller may not
        read, is refused (:class:`~chris_jupyter.library.paths.LinkRefused`, a 400 that does
        not say where the link leads).
        """
        path = paths.normalize(path, allow_root=True)
        g = principal if isinstance(principal, Grants) else self.grants(principal)
        self._need(g, path)
        return self.store.disk(path, allowed=g.can_read)

    def open_file(self, principal: Principal, path: str) -> tuple[Path, Entry]:
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

    def zip(self, principal: Principal, path: str, *,
            transform: Callable[[Path, str], tuple[str, bytes] | None] | None = None) -> Iterator[bytes]:
        """A folder download: its files from the DB, each opened under :meth:`readable_disk`'s
        rule (a file that resolves somewhere the caller may not read is left out)."""
        g = self.grants(principal)
        names = self.zip_names(g, path)
        return self.store.iter_zip(paths.normalize(path), names=names, transform=transform,
                                   allowed=g.can_read)

    def zip_names(self, principal: Principal | Grants, path: str) -> list[tuple[str, str]]:
        """The (library path, archive name) pairs of a folder download, from the DB."""
        path = paths.normalize(path)
        g = principal if isinstance(principal, Grants) else self.grants(principal)
        self.readable_disk(g, path)
        with self.db.session() as s:
            if s.execute(select(Folder.id).where(Folder.path == path)).scalar() is None:
                raise NotFound(f"no such folder: {path!r}")
            base = paths.basename(path) or "library"
            q = select(File.path).where(File.path.like(_like_escape(path) + "/%", escape="\\"))
            if not path:
                q = select(File.path)
            return [(p, base + "/" + p[len(path):].lstrip("/")) for p in s.scalars(q.order_by(File.path))]

    def move(self, principal: Principal, src: str, dst: str) -> Entry:
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
            like = _like_escape(src) + "/%"
            for model in (Folder, File):
                s.execute(
                    update(model).where(model.path.like(like, escape="\\"))
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
        owner = paths.owner_of(path)
        if owner is None or not (paths.parent(path) == paths.feeds_root(owner)
                                 and _FEED_FOLDER.fullmatch(paths.basename(path))):
            raise BadRequest(f"not a feed folder: {path!r}")
        g = self.grants(principal)
        self._need(g, path, write=True)
        self.store.disk(path, allowed=g.can_write)
        self._remove(path)

    def _remove(self, path: str) -> None:
        with self.writing() as s:
            self._entry(s, path)  # 404 when absent
            like = _like_escape(path) + "/%"
            s.execute(delete(File).where(or_(File.path == path, File.path.like(like, escape="\\"))))
            s.execute(delete(Folder).where(or_(Folder.path == path, Folder.path.like(like, escape="\\"))))
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
