"""The library's read side in the DB: one entry, a folder's listing, a search.

:class:`Listing` is a part of :class:`~chris_jupyter.library.service.Library` (a mixin): its
methods use the library's ``db``, ``grants()`` and the folder-count cache that
``Library.__init__`` sets up (``_generation``, ``_counts``); every change to the tree calls
:meth:`Listing._changed`, which drops the cached counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .. import paths
from ..db import Database
from ..db.models import File, Folder, User
from ..db.query import below, contains_ci
from ..errors import BadRequest, NotFound
from ..identity import Principal
from .entries import Entry, Page

#: The columns a file :class:`Entry` is made of, in its field order after ``kind``. Listings read
#: these plain columns, not ``File`` ORM objects: building 500 mapped instances a page cost about
#: three quarters of a listing's time (profiled with bench/chris_api.py).
_FILE_COLUMNS = (File.path, File.name, File.size, User.username, File.created_at, File.content_type, File.id)


def _file_entries(rows: Iterable[Any]) -> list[Entry]:
    """File entries from rows of :data:`_FILE_COLUMNS`."""
    return [Entry(p, n, "file", size, owner, created, ctype, fid) for p, n, size, owner, created, ctype, fid in rows]


class Listing:
    """Listings, searches and single entries of the library tree, read from the DB."""

    db: Database
    _generation: int
    _counts: dict[tuple, tuple[int, int]]

    # -- cached folder counts --------------------------------------------------------------------
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

    # -- listing and search -----------------------------------------------------------------------
    def stat(self, principal: Principal, path: str) -> Entry:
        """The file or folder at ``path``."""
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
            return Entry(path, file.name, "file", file.size, owner, file.created_at, file.content_type, file.id)
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
                fconds.append(contains_ci(Folder.name, name_contains))
                iconds.append(contains_ci(File.name, name_contains))
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
                    select(*_FILE_COLUMNS).outerjoin(User, User.id == File.owner_id)
                    .where(File.id.in_(ids)).order_by(File.name)
                )
                items += _file_entries(s.execute(q))
            return Page(nfold + nfile, items, limit, offset, path)

    def browse(self, principal: Principal, path: str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """What a path opens: ``{"entry": …}`` for a file, one page of its listing for a folder."""
        entry = self.stat(principal, path)
        if entry.kind == "file":
            return {"entry": entry.to_json()}
        return self.list(principal, path, limit=limit, offset=offset).to_json()

    def search(
        self, principal: Principal, *, name_contains: str | None = None, path: str | None = None,
        under: str | None = None, owner: str | None = None,
        created_after: dt.datetime | None = None, created_before: dt.datetime | None = None,
        path_contains: str | None = None, slashes: int | None = None, one_per_folder: bool = False,
        limit: int = 100, offset: int = 0,
    ) -> Page:
        """Files the caller may read that match every given filter, newest first.

        ``path_contains``: the path contains this text (case-insensitive); ``slashes``: the path
        has exactly this many ``/`` (its depth); ``one_per_folder``: only one file (the oldest
        row) of each folder, which lists the folders that hold matching files."""
        with self.db.session() as s:
            g = self.grants(principal, s)
            conds = []
            prefixes = g.readable_prefixes()
            if prefixes is not None:
                if not prefixes:
                    return Page(0, [], limit, offset)
                conds.append(or_(*[below(File.path, p) for p in prefixes]))
            if name_contains:
                conds.append(contains_ci(File.name, name_contains))
            if path:
                conds.append(File.path == paths.normalize(path))
            if under:
                conds.append(below(File.path, paths.normalize(under)))
            if owner:
                conds.append(User.username == owner)
            if created_after:
                conds.append(File.created_at >= created_after)
            if created_before:
                conds.append(File.created_at < created_before)
            if path_contains:
                conds.append(contains_ci(File.path, path_contains))
            if slashes is not None:
                conds.append(func.length(File.path) - func.length(func.replace(File.path, "/", "")) == slashes)
            if one_per_folder:
                first = (select(func.min(File.id)).select_from(File).outerjoin(User, User.id == File.owner_id)
                         .where(*conds).group_by(File.folder_id))
                conds.append(File.id.in_(first))
            base = select(*_FILE_COLUMNS).outerjoin(User, User.id == File.owner_id).where(*conds)
            total = s.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            rows = s.execute(base.order_by(File.created_at.desc(), File.id.desc()).offset(offset).limit(limit))
            return Page(total, _file_entries(rows), limit, offset)
