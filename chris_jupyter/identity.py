"""Who is asking: principals, users, groups and the API tokens the backend issues.

Every front end reaches the core with a :class:`Principal`. Where it comes from is kept behind
this one small module: the embedded Jupyter server's user, a backend-issued API token, a
JupyterHub identity (hub mode) or a private share link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from .db import Database, utcnow
from .db.models import ApiToken, Group, User
from .errors import BadRequest, Forbidden
from .library import paths

TOKEN_PREFIX = "chris_"
MAX_TOKEN_LIFETIME = dt.timedelta(days=3650)


class AuthError(Exception):
    """Credentials were given but are not valid (unknown, revoked or expired)."""


class NotServed(Forbidden):
    """The user exists (or would) but this server does not serve them (see :meth:`Users.serve_only`)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller as the core sees it."""

    username: str
    user_id: int
    is_admin: bool = False
    groups: frozenset[str] = frozenset()
    via: str = "token"  # "jupyter" | "token" | "hub" | "link"
    link_id: int | None = None  # set for share-link access


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _principal(user: User, via: str) -> Principal:
    return Principal(
        username=user.username,
        user_id=user.id,
        is_admin=user.is_admin,
        groups=frozenset(g.name for g in user.groups),
        via=via,
    )


class Users:
    """Users, groups and tokens, on top of the metadata DB."""

    def __init__(self, db: Database, *, on_new_user=None) -> None:  # noqa: ANN001
        self.db = db
        self._on_new_user = on_new_user
        self._served: frozenset[str] | None = None
        self._not_served_reason = ""

    # -- who this server serves -------------------------------------------------------------------
    def serve_only(self, usernames: frozenset[str] | set[str], reason: str) -> None:
        """Serve only ``usernames`` and administrators from now on.

        Other users can no longer be created, be given tokens or authenticate; users that already
        exist (from a run under another configuration) stay in the DB with their data, and are
        answered :class:`NotServed` with ``reason`` until the restriction is lifted. The backend
        sets this when plugins run unconfined (the local runner): a plugin parameter could then
        write anywhere the server can, so only people trusted with the server's own account may
        use it.
        """
        self._served = frozenset(usernames)
        self._not_served_reason = reason

    def check_served(self, username: str, *, is_admin: bool) -> None:
        """Raise :class:`NotServed` unless this server serves ``username``."""
        if self._served is not None and not is_admin and username not in self._served:
            raise NotServed(f"user {username!r} is not served here: {self._not_served_reason}")

    # -- users and groups -------------------------------------------------------------------------
    def ensure_user(self, username: str, *, is_admin: bool | None = None) -> User:
        """Return the user, creating it (and its home folders) on first sight."""
        paths.check_name(username)
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            created = user is None
            will_be_admin = bool(is_admin) if is_admin is not None or user is None else user.is_admin
            self.check_served(username, is_admin=will_be_admin)
            if user is None:
                user = User(username=username, is_admin=bool(is_admin))
                s.add(user)
            elif is_admin is not None and user.is_admin != is_admin:
                user.is_admin = is_admin
            s.flush()
            s.refresh(user)
        if created and self._on_new_user:
            self._on_new_user(user)
        return user

    def get(self, username: str) -> User | None:
        with self.db.session() as s:
            return s.scalar(select(User).where(User.username == username))

    def principal(self, username: str, *, via: str) -> Principal:
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise AuthError(f"unknown user {username!r}")
            self.check_served(user.username, is_admin=user.is_admin)
            return _principal(user, via)

    def list_users(self) -> list[User]:
        with self.db.session() as s:
            return list(s.scalars(select(User).order_by(User.username)))

    def ensure_group(self, name: str) -> Group:
        paths.check_name(name)
        with self.db.session() as s:
            group = s.scalar(select(Group).where(Group.name == name))
            if group is None:
                group = Group(name=name)
                s.add(group)
                s.flush()
            return group

    def add_to_group(self, username: str, group_name: str) -> None:
        self.ensure_group(group_name)
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            group = s.scalar(select(Group).where(Group.name == group_name))
            if user is None:
                raise KeyError(f"unknown user {username!r}")
            if group not in user.groups:
                user.groups.append(group)

    # -- API tokens -------------------------------------------------------------------------------
    def issue_token(
        self, username: str, *, name: str = "", expires_in: dt.timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token; the clear text is returned once and never stored.

        ``expires_in`` (``None``: no expiry) must be positive and at most
        :data:`MAX_TOKEN_LIFETIME`; a token that is born expired is refused, not issued.
        """
        if expires_in is not None and not dt.timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            raise BadRequest(f"'expires_in' must be more than 0 seconds and at most "
                             f"{int(MAX_TOKEN_LIFETIME.total_seconds())} ({MAX_TOKEN_LIFETIME.days} days), "
                             f"got {expires_in.total_seconds():g}; leave it out for a token that does not expire")
        clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise KeyError(f"unknown user {username!r}")
            self.check_served(user.username, is_admin=user.is_admin)
            tok = ApiToken(
                user_id=user.id,
                name=name,
                token_hash=hash_token(clear),
                prefix=clear[: len(TOKEN_PREFIX) + 4],
                expires_at=utcnow() + expires_in if expires_in is not None else None,
            )
            s.add(tok)
            s.flush()
            s.refresh(tok)
        return tok, clear

    def authenticate_token(self, clear: str) -> Principal:
        """The principal a token stands for; :class:`AuthError` when it is not valid."""
        now = utcnow()
        with self.db.session() as s:
            tok = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(clear)))
            if tok is None or tok.revoked_at is not None:
                raise AuthError("invalid or revoked API token")
            if tok.expires_at is not None and tok.expires_at <= now:
                raise AuthError("API token has expired")
            self.check_served(tok.user.username, is_admin=tok.user.is_admin)
            if tok.last_used_at is None or (now - tok.last_used_at).total_seconds() > 60:
                tok.last_used_at = now
            return _principal(tok.user, "token")

    def list_tokens(self, username: str) -> list[ApiToken]:
        with self.db.session() as s:
            q = (
                select(ApiToken)
                .join(User)
                .where(User.username == username, ApiToken.revoked_at.is_(None))
                .order_by(ApiToken.id)
            )
            return list(s.scalars(q))

    def revoke_token(self, username: str, token_id: int, *, is_admin: bool = False) -> bool:
        with self.db.session() as s:
            tok = s.get(ApiToken, token_id)
            if tok is None or tok.revoked_at is not None:
                return False
            if tok.user.username != username and not is_admin:
                return False
            tok.revoked_at = utcnow()
            return True
