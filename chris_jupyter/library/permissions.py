"""The one module that decides who may read or write what.

A principal's rights are a set of (library path prefix, access) grants, computed once per
request from the rules below; every endpoint, the event stream and the search go through
:class:`Grants`.

Rules
-----
- Admins may write everywhere.
- A user may write below ``home/<username>`` and ``PIPELINES/<username>``.
- Members of the PACS group (config ``pacs_group``) may read ``SERVICES/PACS``.
- A share on a path grants read or write on it and everything below it; a share on a feed
  grants it on the feed's folder. Shares go to a user, a group, or everyone (public, read-only).
- A private share link grants read on its one target, to whoever holds the link.
- Folders on the way to something a user may read (``home``, ``home/bob`` when bob shared a
  sub-folder) can be listed, but show only the entries that lead there.
- A change event is seen by admins, by the users its audience names, and by whoever may read
  its library path (:meth:`Grants.can_see`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import paths
from ..db.models import Feed, Share, ShareLink, User
from ..events import Event
from ..identity import Principal


class Access(enum.IntEnum):
    """What a grant allows, ordered: a write grant allows reading too."""

    NONE = 0
    READ = 1
    WRITE = 2


@dataclass
class Grants:
    """A principal's rights: the best :class:`Access` per library path prefix."""

    principal: Principal | None
    prefixes: dict[str, Access] = field(default_factory=dict)

    def grant(self, prefix: str, access: Access) -> None:
        """Add a grant on ``prefix`` (a weaker one than already held changes nothing)."""
        if access > self.prefixes.get(prefix, Access.NONE):
            self.prefixes[prefix] = access

    def access(self, path: str) -> Access:
        """The best access any grant gives on ``path``."""
        best = Access.NONE
        for prefix, acc in self.prefixes.items():
            if acc > best and paths.is_within(path, prefix):
                best = acc
        return best

    def can_read(self, path: str) -> bool:
        """Whether ``path`` (and everything below it) may be read."""
        return self.access(path) >= Access.READ

    def can_write(self, path: str) -> bool:
        """Whether ``path`` (and everything below it) may be changed."""
        return self.access(path) >= Access.WRITE

    def leads_to(self, folder: str) -> set[str] | None:
        """Names of the children of ``folder`` that lead to something readable.

        ``None`` means the whole folder is readable (every child is visible).
        """
        if self.can_read(folder):
            return None
        names: set[str] = set()
        for prefix, acc in self.prefixes.items():
            if acc >= Access.READ and paths.is_within(prefix, folder) and prefix != folder:
                rest = prefix[len(folder) :].lstrip("/") if folder else prefix
                names.add(rest.split("/", 1)[0])
        return names

    def can_list(self, folder: str) -> bool:
        """Whether ``folder`` may be listed (at least the entries that lead to something readable)."""
        return self.leads_to(folder) != set() or folder == ""

    def readable_prefixes(self) -> list[str] | None:
        """Prefixes under which everything is readable (``None``: everything, for admins)."""
        if self.prefixes.get("", Access.NONE) >= Access.READ:
            return None
        return [p for p, a in self.prefixes.items() if a >= Access.READ]

    def readable_feeds(self) -> tuple[list[str], list[int]] | None:
        """Which feeds may be read, as a database filter can use it: the owners whose whole home
        is readable and the ids of feeds shared one by one (``None``: every feed)."""
        prefixes = self.readable_prefixes()
        if prefixes is None:
            return None
        owners: list[str] = []
        feed_ids: list[int] = []
        for p in prefixes:
            owner = paths.owner_of(p)
            if owner is None:
                continue
            if p == paths.home(owner):
                owners.append(owner)
            elif (feed_id := paths.feed_id_of(p)) is not None:
                feed_ids.append(feed_id)
        return owners, feed_ids

    def can_see(self, event: Event) -> bool:
        """Whether the principal may see a change event: admins see every event, a user those
        whose audience names them and those about a library path they may read."""
        p = self.principal
        if p is not None and (p.is_admin or p.username in event.users):
            return True
        return event.path is not None and self.can_read(event.path)


def load_grants(session: Session, principal: Principal | None, *, pacs_group: str) -> Grants:
    """A principal's :class:`Grants`, from the rules above and the shares and links in the DB."""
    g = Grants(principal)
    if principal is None:
        return g
    if principal.is_admin:
        g.grant("", Access.WRITE)
        return g
    if principal.via == "link":
        link = session.get(ShareLink, principal.link_id)
        if link is not None:
            target = link.path if link.path is not None else _feed_path(session, link.feed_id)
            if target is not None:
                g.grant(target, Access.READ)
        return g
    g.grant(paths.home(principal.username), Access.WRITE)
    g.grant(paths.join(paths.PIPELINES, principal.username), Access.WRITE)
    if pacs_group and pacs_group in principal.groups:
        g.grant(paths.PACS, Access.READ)
    conds = [Share.grantee_user_id == principal.user_id, Share.public.is_(True)]
    if principal.groups:
        from ..db.models import Group

        group_ids = select(Group.id).where(Group.name.in_(principal.groups))
        conds.append(Share.grantee_group_id.in_(group_ids))
    rows = session.execute(
        select(Share.path, Share.permission, Share.public, Feed.id, User.username)
        .outerjoin(Feed, Feed.id == Share.feed_id)
        .outerjoin(User, User.id == Feed.owner_id)
        .where(or_(*conds))
    ).all()
    for path, perm, public, feed_id, feed_owner in rows:
        target = path if path is not None else (
            paths.feed_dir(feed_owner, feed_id) if feed_id is not None else None
        )
        if target is None:
            continue
        acc = Access.WRITE if perm == "w" and not public else Access.READ
        g.grant(target, acc)
    return g


def _feed_path(session: Session, feed_id: int | None) -> str | None:
    if feed_id is None:
        return None
    feed = session.get(Feed, feed_id)
    return paths.feed_dir(feed.owner.username, feed.id) if feed else None


def feed_access(session: Session, grants: Grants, feed: Feed) -> Access:
    """A feed's access is its folder's access."""
    return grants.access(paths.feed_dir(feed.owner.username, feed.id))
