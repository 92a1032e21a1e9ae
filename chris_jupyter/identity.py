"""Who is asking: principals, users, groups and the API tokens the backend issues.

Every front end reaches the core with a :class:`Principal` (``via`` says how it was found):
the embedded Jupyter server's user (``jupyter``), a backend-issued API token (``token``), a
private share link (``link``), or, when the backend runs as the JupyterHub service
(:mod:`chris_jupyter.hub`), the hub's user (``hub``; :mod:`chris_jupyter.hub.identity` keeps the
ChRIS user, its admin flag and its groups in step with the hub's).

:class:`Users` is the identity store, addressed by user name (the backend, the hub service and
the CLI use it); :class:`Accounts` is what the REST API offers on top of it, per principal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from . import paths
from .db import Database, utcnow
from .db.models import ApiToken, Group, User
from .errors import BadRequest, Forbidden, NotFound, TooManyRequests

TOKEN_PREFIX = "chris_"
MAX_TOKEN_LIFETIME = dt.timedelta(days=3650)
MIN_PASSWORD_LENGTH = 8
LOGIN_FAILURES_ALLOWED = 5        # wrong passwords per user within LOGIN_FAILURE_WINDOW ...
LOGIN_FAILURE_WINDOW = 60.0       # ... seconds, before further attempts are refused for a while
_hasher = PasswordHasher()


class LoginThrottle:
    """Per-user limit on wrong passwords: after :data:`LOGIN_FAILURES_ALLOWED` failures within
    :data:`LOGIN_FAILURE_WINDOW` seconds, every attempt for that user (right or wrong) is refused
    until the oldest failure leaves the window. In memory: one backend process serves logins."""

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_FAILURE_WINDOW) -> None:
        self.allowed = allowed
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, username: str, now: float) -> deque[float]:
        q = self._failures.setdefault(username, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def check(self, username: str) -> None:
        with self._lock:
            q = self._recent(username, time.monotonic())
            if len(q) >= self.allowed:
                wait = int(self.window - (time.monotonic() - q[0])) + 1
                raise TooManyRequests(f"too many failed logins for {username!r}: try again in {wait} s")

    def failed(self, username: str) -> None:
        with self._lock:
            self._recent(username, time.monotonic()).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)


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
    via: str = "token"  # "jupyter" | "token" | "password" | "hub" | "link"
    link_id: int | None = None  # set for share-link access


def hash_token(token: str) -> str:
    """The digest a token is stored as (the clear text never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_json(t: ApiToken) -> dict[str, Any]:
    """An API token as the API shows it: never its secret, nor its digest."""
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None}


def user_json(u: User) -> dict[str, Any]:
    """A user as the API shows it."""
    return {"username": u.username, "is_admin": u.is_admin, "groups": sorted(g.name for g in u.groups)}


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

    def __init__(self, db: Database, *, on_new_user=None) -> None:
        self.db = db
        self._on_new_user = on_new_user
        self._served: frozenset[str] | None = None
        self._not_served_reason = ""
        self.throttle = LoginThrottle()

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

    # -- passwords (optional; for clients that log in with one) -----------------------------------
    def set_password(self, username: str, password: str | None) -> None:
        """Set (argon2-hashed) or, with ``None``, remove a user's password."""
        if password is not None and (not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH):
            raise BadRequest(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise KeyError(f"unknown user {username!r}")
            user.password_hash = _hasher.hash(password) if password is not None else None

    def check_password(self, username: str, password: str) -> Principal:
        """The principal for a right username and password; :class:`AuthError` otherwise (the same
        message whether the user is unknown, has no password or gave a wrong one), and
        :class:`~chris_jupyter.errors.TooManyRequests` once :class:`LoginThrottle` trips."""
        self.throttle.check(username)
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            stored = user.password_hash if user is not None else None
            ok = False
            if stored:
                try:
                    ok = _hasher.verify(stored, password)
                except (VerificationError, InvalidHashError):
                    ok = False
                if ok and _hasher.check_needs_rehash(stored):
                    user.password_hash = _hasher.hash(password)
            if not ok:
                self.throttle.failed(username)
                raise AuthError("Unable to log in with provided credentials.")
            self.throttle.succeeded(username)
            self.check_served(user.username, is_admin=user.is_admin)
            return _principal(user, "password")

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


class Accounts:
    """The caller's own account, API tokens and (for administrators) users: what the REST API offers.

    Like every other service it takes the caller's :class:`Principal` and returns plain data; the
    rules of who may do what live here, not in the handlers. :class:`Users` underneath is the
    identity store the backend, the hub and the CLI use by user name.
    """

    def __init__(self, users: Users) -> None:
        self.users = users

    def me(self, principal: Principal) -> dict[str, Any]:
        """Who the caller is, and how they authenticated (``auth``)."""
        return {"username": principal.username, "is_admin": principal.is_admin,
                "groups": sorted(principal.groups), "auth": principal.via}

    def tokens(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's live API tokens (never their secret)."""
        return [token_json(t) for t in self.users.list_tokens(principal.username)]

    def issue_token(self, principal: Principal, *, user: str | None = None, name: str = "",
                    expires_in: dt.timedelta | None = None) -> dict[str, Any]:
        """A new token for the caller or, for an administrator, for ``user`` (created on first sight).

        The clear text is in ``token``, shown this once.
        """
        username = user or principal.username
        if username != principal.username:
            if not principal.is_admin:
                raise Forbidden("only administrators may issue tokens for other users")
            self.users.ensure_user(username)
        tok, clear = self.users.issue_token(username, name=name, expires_in=expires_in)
        return {**token_json(tok), "user": username, "token": clear}

    def revoke_token(self, principal: Principal, token_id: int) -> None:
        """Revoke one of the caller's tokens (an administrator may revoke anyone's)."""
        if not self.users.revoke_token(principal.username, token_id, is_admin=principal.is_admin):
            raise NotFound(f"no such token: {token_id}")

    def list_users(self, principal: Principal) -> list[dict[str, Any]]:
        """Administrators: every user, by name."""
        self._admin(principal)
        with self.users.db.session() as s:
            return [user_json(u) for u in s.scalars(select(User).order_by(User.username))]

    def create_user(self, principal: Principal, username: Any, *, is_admin: bool = False,
                    groups: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Administrators: create a user (idempotent: an existing one gets ``is_admin`` and ``groups``)."""
        self._admin(principal)
        if not isinstance(username, str) or not username:
            raise BadRequest("'username' is required")
        self.users.ensure_user(username, is_admin=is_admin)
        for g in groups:
            self.users.add_to_group(username, str(g))
        with self.users.db.session() as s:
            return user_json(s.scalars(select(User).where(User.username == username)).one())

    def create_account(self, principal: Principal, username: Any, password: Any) -> dict[str, Any]:
        """Administrators: a new user who logs in with ``password`` (the CUBE-compatible API's
        ``POST users/``). Unlike :meth:`create_user` an existing name is refused."""
        self._admin(principal)
        if isinstance(username, str) and self.users.get(username) is not None:
            raise BadRequest(f"a user named {username!r} already exists")
        if not isinstance(password, str) or not password:
            raise BadRequest("'password' is required")
        out = self.create_user(principal, username)
        self.set_password(principal, out["username"], password)
        user = self.users.get(out["username"])
        return {"id": user.id if user else None, **out}

    def set_password(self, principal: Principal, username: str, password: Any) -> None:
        """Set (``None``: remove) a password, for the clients of the CUBE-compatible API: the
        caller's own, or anyone's for an administrator."""
        if username != principal.username and not principal.is_admin:
            raise Forbidden("only administrators set other users' passwords")
        if password is not None and not isinstance(password, str):
            raise BadRequest("'password' must be a string or null")
        try:
            self.users.set_password(username, password)
        except KeyError:
            raise NotFound(f"no such user: {username}") from None

    @staticmethod
    def _admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("only administrators manage users")
