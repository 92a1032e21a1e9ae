"""Shares (with a user, a group or everyone) and expiring private share links."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import or_, select

from .. import paths
from ..db import Database, utcnow
from ..db.models import Feed, File, Folder, Group, Share, ShareLink, User
from ..errors import BadRequest, Forbidden, NotFound
from ..events import EventBus
from ..identity import Principal, hash_token
from .permissions import Access, feed_access, load_grants

LINK_PREFIX = "chrislink_"
MAX_LINK_LIFETIME = dt.timedelta(days=365)


@dataclass
class ShareTarget:
    """What a share or link points at: a library path or a feed."""

    path: str | None = None
    feed_id: int | None = None


def share_json(sh: Share, s) -> dict[str, Any]:
    """A share as the API shows it."""
    user = s.get(User, sh.grantee_user_id) if sh.grantee_user_id else None
    group = s.get(Group, sh.grantee_group_id) if sh.grantee_group_id else None
    creator = s.get(User, sh.created_by_id)
    return {
        "id": sh.id,
        "path": sh.path,
        "feed_id": sh.feed_id,
        "user": user.username if user else None,
        "group": group.name if group else None,
        "public": sh.public,
        "permission": "write" if sh.permission == "w" else "read",
        "created_by": creator.username if creator else None,
        "created_at": sh.created_at.isoformat(),
    }


def _audience(s, sh: Share, actor: str) -> dict[str, Any]:
    """Who hears of a share: its creator, the caller, the user or the group's members it names,
    and for a public share (``path``: the target) whoever may read it, which is everyone."""
    users = {actor}
    creator = s.get(User, sh.created_by_id)
    if creator is not None:
        users.add(creator.username)
    if sh.grantee_user_id:
        grantee = s.get(User, sh.grantee_user_id)
        if grantee is not None:
            users.add(grantee.username)
    if sh.grantee_group_id:
        group = s.get(Group, sh.grantee_group_id)
        if group is not None:
            users.update(m.username for m in group.members)
    path = sh.path
    if path is None and sh.feed_id is not None and (feed := s.get(Feed, sh.feed_id)) is not None:
        path = paths.feed_dir(feed.owner.username, feed.id)
    # only a public share is everyone's business; others are told to those they name (someone who
    # may read the folder for another reason does not learn who else it is shared with)
    return {"users": sorted(users), "path": path if sh.public else None}


class Directory(Protocol):
    """Where users and groups come from when they are not in the database yet (in hub mode: the hub).

    Sharing with a hub user who has never called the service must work: ChRIS creates its users on
    their first request, so without this the owner would get "no such user" for a colleague the hub
    knows well.
    """

    def ensure_user(self, name: str) -> bool:
        """Create ``name`` as the directory describes it; ``False`` when the directory does not know it."""

    def ensure_group(self, name: str) -> bool:
        """Create the group ``name`` (and its members' membership); ``False`` when unknown."""


class Sharing:
    """Shares (to a user, a group or everyone) and private links; the grants they give are in :mod:`.permissions`."""

    def __init__(self, db: Database, events: EventBus, *, pacs_group: str) -> None:
        self.db = db
        self.events = events
        self.pacs_group = pacs_group
        self.directory: Directory | None = None  # set by the hub service

    def _from_directory(self, model: type[User] | type[Group], name: str) -> None:
        """Bring a grantee the database does not have yet in from the directory (its own transaction,
        before the share's)."""
        if self.directory is None:
            return
        column = User.username if model is User else Group.name
        with self.db.session() as s:
            if s.scalar(select(model.id).where(column == name)) is not None:
                return
        if model is User:
            self.directory.ensure_user(name)
        else:
            self.directory.ensure_group(name)

    def _check_target(self, s, principal: Principal, path: str | None, feed_id: int | None):
        if (path is None) == (feed_id is None):
            raise BadRequest("give exactly one of 'path' or 'feed_id'")
        g = load_grants(s, principal, pacs_group=self.pacs_group)
        if path is not None:
            path = paths.normalize(path)
            exists = s.scalar(select(File.id).where(File.path == path)) or s.scalar(
                select(Folder.id).where(Folder.path == path)
            )
            if not exists or not g.can_read(path):
                raise NotFound(f"no such file or folder, or not shared with you: {path!r}")
            if not g.can_write(path):  # a reader knows it exists: 403, not 404
                raise Forbidden(f"you may read {path!r} but only those who may change it can share it")
            return path, None
        feed = s.get(Feed, feed_id)
        if feed is None or feed_access(s, g, feed) < Access.WRITE:
            raise NotFound(f"no such feed, or you may not share it: {feed_id}")
        return None, feed.id

    def create(
        self, principal: Principal, *, path: str | None = None, feed_id: int | None = None,
        user: str | None = None, group: str | None = None, public: bool = False,
        permission: str = "read",
    ) -> dict[str, Any]:
        """Share a path or feed the caller may change with exactly one of a user, a group or everyone."""
        if [user is not None, group is not None, bool(public)].count(True) != 1:
            raise BadRequest("share with exactly one of 'user', 'group' or 'public'")
        if permission not in ("read", "write"):
            raise BadRequest("permission must be 'read' or 'write'")
        if public and permission == "write":
            raise BadRequest("public shares are read-only")
        if user is not None:
            self._from_directory(User, user)
        if group is not None:
            self._from_directory(Group, group)
        with self.db.session() as s:
            path, feed_id = self._check_target(s, principal, path, feed_id)
            sh = Share(path=path, feed_id=feed_id, public=bool(public),
                       permission="w" if permission == "write" else "r",
                       created_by_id=principal.user_id)
            if user is not None:
                u = s.scalar(select(User).where(User.username == user))
                if u is None:
                    raise NotFound(f"no such user: {user!r}")
                sh.grantee_user_id = u.id
            if group is not None:
                gr = s.scalar(select(Group).where(Group.name == group))
                if gr is None:
                    raise NotFound(f"no such group: {group!r}")
                sh.grantee_group_id = gr.id
            s.add(sh)
            s.flush()
            out = share_json(sh, s)
            audience = _audience(s, sh, principal.username)
        # the users it names (a group's members), and for a public share everyone (through the
        # event's path: their event streams reload their grants for it)
        self.events.publish("share.created", out, **audience)
        return out

    def list(self, principal: Principal) -> list[dict[str, Any]]:
        """Shares the caller made, and shares made with them (directly or via a group)."""
        with self.db.session() as s:
            group_ids = select(Group.id).where(Group.name.in_(principal.groups or {"-"}))
            q = select(Share).where(or_(
                Share.created_by_id == principal.user_id,
                Share.grantee_user_id == principal.user_id,
                Share.grantee_group_id.in_(group_ids),
            )).order_by(Share.id)
            return [share_json(sh, s) for sh in s.scalars(q)]

    def delete(self, principal: Principal, share_id: int) -> None:
        """Withdraw a share (its creator or an administrator)."""
        with self.db.session() as s:
            sh = s.get(Share, share_id)
            if sh is None or (sh.created_by_id != principal.user_id and not principal.is_admin):
                raise NotFound(f"no such share: {share_id}")
            out = share_json(sh, s)
            audience = _audience(s, sh, principal.username)
            s.delete(sh)
        # after the delete the grantees may no longer read the target: they are named instead
        # (a public share's withdrawal reaches its creator only; everyone else sees it on reload)
        self.events.publish("share.deleted", out, users=audience["users"])

    # -- private links ----------------------------------------------------------------------------
    def create_link(
        self, principal: Principal, *, path: str | None = None, feed_id: int | None = None,
        expires_in: dt.timedelta = dt.timedelta(days=7),
    ) -> dict[str, Any]:
        """A private read-only link to a path or feed; its token is returned once."""
        if expires_in <= dt.timedelta(0) or expires_in > MAX_LINK_LIFETIME:
            raise BadRequest("a link must expire after more than 0 seconds and at most a year")
        clear = LINK_PREFIX + secrets.token_urlsafe(24)
        with self.db.session() as s:
            path, feed_id = self._check_target(s, principal, path, feed_id)
            link = ShareLink(token_hash=hash_token(clear), path=path, feed_id=feed_id,
                             created_by_id=principal.user_id, expires_at=utcnow() + expires_in)
            s.add(link)
            s.flush()
            return {**self._link_json(link), "token": clear}

    @staticmethod
    def _link_json(link: ShareLink) -> dict[str, Any]:
        return {"id": link.id, "path": link.path, "feed_id": link.feed_id,
                "created_at": link.created_at.isoformat(), "expires_at": link.expires_at.isoformat(),
                "revoked": link.revoked_at is not None}

    def list_links(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's live links (never their token)."""
        with self.db.session() as s:
            q = select(ShareLink).where(ShareLink.created_by_id == principal.user_id).order_by(ShareLink.id)
            return [self._link_json(lk) for lk in s.scalars(q)]

    def revoke_link(self, principal: Principal, link_id: int) -> None:
        """Revoke a link (its creator or an administrator)."""
        with self.db.session() as s:
            link = s.get(ShareLink, link_id)
            if link is None or (link.created_by_id != principal.user_id and not principal.is_admin):
                raise NotFound(f"no such link: {link_id}")
            link.revoked_at = utcnow()

    def link_info(self, link_id: int) -> dict[str, Any]:
        """Who made a link and until when it works (for the page a browser sees)."""
        with self.db.session() as s:
            link = s.get(ShareLink, link_id)
            if link is None:
                raise NotFound(f"no such link: {link_id}")
            creator = s.get(User, link.created_by_id)
            return {**self._link_json(link), "shared_by": creator.username}

    def link_principal(self, clear: str) -> tuple[Principal, str]:
        """The read-only principal a link stands for, and the library path it opens."""
        with self.db.session() as s:
            link = s.scalar(select(ShareLink).where(ShareLink.token_hash == hash_token(clear)))
            if link is None or link.revoked_at is not None or link.expires_at <= utcnow():
                raise NotFound("this link does not exist, has expired or was revoked")
            creator = s.get(User, link.created_by_id)
            if link.path is not None:
                target = link.path
            else:
                feed = s.get(Feed, link.feed_id)
                target = paths.feed_dir(feed.owner.username, feed.id)
            return Principal(username=f"link:{creator.username}", user_id=-link.id, via="link",
                             link_id=link.id), target
