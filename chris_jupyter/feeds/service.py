"""Feeds: a named analysis with its folder, a note, comments and tags.

A feed's folder is ``home/<owner>/feeds/feed_<id>``; its access is that folder's access
(see :mod:`chris_jupyter.library.permissions`), so sharing a feed shares its folder.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from .. import paths
from ..db import Database
from ..db.models import Feed, FeedComment, Tag, User
from ..db.query import contains_ci
from ..errors import BadRequest, NotFound
from ..events import EventBus
from ..identity import Principal
from ..library.entries import Page
from ..library.permissions import Access, feed_access
from ..library.service import Library


def feed_json(feed: Feed, access: Access) -> dict[str, Any]:
    """A feed as the API shows it, with the caller's access."""
    return {
        "id": feed.id,
        "name": feed.name,
        "owner": feed.owner.username,
        "note": feed.note,
        "folder": paths.feed_dir(feed.owner.username, feed.id),
        "created_at": feed.created_at.isoformat(),
        "modified_at": feed.modified_at.isoformat(),
        "tags": [{"id": t.id, "name": t.name, "color": t.color} for t in feed.tags],
        "access": "write" if access >= Access.WRITE else "read",
    }


class Feeds:
    """Feeds, their notes, comments and tags; a feed's files live in its library folder."""

    def __init__(self, db: Database, library: Library, events: EventBus) -> None:
        self.db = db
        self.library = library
        self.events = events

    def _get(self, s, principal: Principal, feed_id: int, *, write: bool = False) -> tuple[Feed, Access]:
        feed = s.get(Feed, feed_id)
        g = self.library.grants(principal, s)
        acc = feed_access(s, g, feed) if feed is not None else Access.NONE
        if acc < Access.READ:
            raise NotFound(f"no such feed, or not shared with you: {feed_id}")
        if write and acc < Access.WRITE:
            raise NotFound(f"you may read but not change feed {feed_id}")
        return feed, acc

    def _publish(self, kind: str, feed: Feed, **extra: Any) -> None:
        folder = paths.feed_dir(feed.owner.username, feed.id)
        self.events.publish(kind, {"feed_id": feed.id, **extra}, users=[feed.owner.username], path=folder)

    def create(self, principal: Principal, name: str = "") -> dict[str, Any]:
        """Create a feed (and its folder) owned by the caller."""
        if principal.via == "link":
            raise NotFound("share links are read-only")
        with self.library.writing() as s:
            feed = Feed(name=name[:200], owner_id=principal.user_id)
            s.add(feed)
            s.flush()
            s.refresh(feed)
            folder = paths.feed_dir(principal.username, feed.id)
            self.library.store.makedirs(folder)
            self.library._ensure_folder(s, folder)
            out = feed_json(feed, Access.WRITE)
        self._publish("feed.created", feed)
        return out

    def get(self, principal: Principal, feed_id: int) -> dict[str, Any]:
        """One feed the caller may read."""
        with self.db.session() as s:
            feed, acc = self._get(s, principal, feed_id)
            return feed_json(feed, acc)

    def list(
        self, principal: Principal, *, name_contains: str | None = None, owner: str | None = None,
        tags: list[str] | None = None, limit: int = 50, offset: int = 0,
    ) -> Page:
        """One page of the feeds the caller may read, newest first; with ``tags``, only the feeds
        that carry every one of those tag names (compared without regard to case)."""
        with self.db.session() as s:
            g = self.library.grants(principal, s)
            conds = []
            readable = g.readable_feeds()
            if readable is not None:
                owners, feed_ids = readable
                conds.append(or_(User.username.in_(owners), Feed.id.in_(feed_ids)))
            if name_contains:
                conds.append(contains_ci(Feed.name, name_contains))
            if owner:
                conds.append(User.username == owner)
            for tag in dict.fromkeys(t.strip().lower() for t in tags or [] if t.strip()):
                conds.append(Feed.tags.any(func.lower(Tag.name) == tag))
            base = select(Feed).join(User, User.id == Feed.owner_id).where(*conds)
            total = s.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            feeds = s.scalars(base.order_by(Feed.id.desc()).offset(offset).limit(limit)).all()
            items = [feed_json(f, feed_access(s, g, f)) for f in feeds]
        page = Page(total, [], limit, offset)
        page.extra["items"] = items
        return page

    def update(self, principal: Principal, feed_id: int, *, name: str | None = None,
               note: str | None = None) -> dict[str, Any]:
        """Rename a feed or change its note (write access needed)."""
        with self.db.session() as s:
            feed, acc = self._get(s, principal, feed_id, write=True)
            if name is not None:
                feed.name = name[:200]
            if note is not None:
                feed.note = note
            s.flush()
            out = feed_json(feed, acc)
        self._publish("feed.updated", feed)
        return out

    def delete(self, principal: Principal, feed_id: int) -> None:
        """Delete a feed and its folder (write access needed)."""
        with self.db.session() as s:
            feed, _ = self._get(s, principal, feed_id, write=True)
            if feed.owner_id != principal.user_id and not principal.is_admin:
                raise NotFound("only the feed's owner may delete it")
            folder = paths.feed_dir(feed.owner.username, feed.id)
            s.delete(feed)
        self.library.delete_feed_folder(principal, folder)
        self._publish("feed.deleted", feed)

    # -- comments and tags ------------------------------------------------------------------------
    def comments(self, principal: Principal, feed_id: int) -> list[dict[str, Any]]:
        """A feed's comments, oldest first."""
        with self.db.session() as s:
            self._get(s, principal, feed_id)
            q = select(FeedComment).where(FeedComment.feed_id == feed_id).order_by(FeedComment.id)
            return [self._comment_json(c) for c in s.scalars(q)]

    @staticmethod
    def _comment_json(c: FeedComment) -> dict[str, Any]:
        return {"id": c.id, "feed_id": c.feed_id, "author": c.author.username, "title": c.title,
                "content": c.content, "created_at": c.created_at.isoformat()}

    def add_comment(self, principal: Principal, feed_id: int, *, title: str = "",
                    content: str) -> dict[str, Any]:
        """Comment on a feed the caller may read."""
        if principal.via == "link":
            raise NotFound("share links are read-only")
        if not content.strip():
            raise BadRequest("a comment needs some content")
        with self.db.session() as s:
            feed, _ = self._get(s, principal, feed_id)
            c = FeedComment(feed_id=feed.id, author_id=principal.user_id, title=title[:200], content=content)
            s.add(c)
            s.flush()
            s.refresh(c)
            out = self._comment_json(c)
        self._publish("feed.comment", feed, comment=out)
        return out

    def tags(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's tags."""
        with self.db.session() as s:
            q = select(Tag).where(Tag.owner_id == principal.user_id).order_by(Tag.name)
            return [{"id": t.id, "name": t.name, "color": t.color} for t in s.scalars(q)]

    def create_tag(self, principal: Principal, name: Any, color: Any = None) -> dict[str, Any]:
        """One of the caller's tags by name, made if it is new (names are unique per owner);
        ``color`` (when given) is set."""
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("'name' is required")
        if color is not None and (not isinstance(color, str) or len(color) > 20):
            raise BadRequest("'color' must be a string of at most 20 characters")
        name = name.strip()[:100]
        with self.db.session() as s:
            tag = s.scalar(select(Tag).where(Tag.owner_id == principal.user_id, Tag.name == name))
            if tag is None:
                tag = Tag(name=name, owner_id=principal.user_id)
                s.add(tag)
            if color:
                tag.color = color
            s.flush()
            return {"id": tag.id, "name": tag.name, "color": tag.color}

    def set_tags(self, principal: Principal, feed_id: int, names: list[str]) -> dict[str, Any]:
        """Replace the feed's tags with ``names`` (the caller's own tags, created as needed)."""
        with self.db.session() as s:
            feed, acc = self._get(s, principal, feed_id, write=True)
            tags = []
            for name in dict.fromkeys(n.strip() for n in names if n.strip()):
                tag = s.scalar(select(Tag).where(Tag.owner_id == principal.user_id, Tag.name == name))
                if tag is None:
                    tag = Tag(name=name[:100], owner_id=principal.user_id)
                    s.add(tag)
                tags.append(tag)
            feed.tags = tags
            s.flush()
            out = feed_json(feed, acc)
        self._publish("feed.updated", feed)
        return out
