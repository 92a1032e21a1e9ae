"""Hub identities as ChRIS principals (no web framework here).

The hub is the source of truth in hub mode: the user name, whether the user is a hub admin
(then a ChRIS admin) and the user's hub groups (then the user's ChRIS groups, exactly). A user
is created on first request. Writing the same facts again on every request would cost a
database transaction per call, so the last facts synced per user are remembered and the DB is
touched only when they change.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from sqlalchemy import select

from .. import paths
from ..backend import Backend
from ..db.models import Group, User
from ..identity import Principal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubIdentity:
    """What the hub says about a caller."""

    name: str
    admin: bool = False
    groups: frozenset[str] = frozenset()


class HubPrincipals:
    """Turns :class:`HubIdentity` into :class:`Principal`, keeping the DB in step with the hub."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._synced: dict[str, HubIdentity] = {}
        self._lock = threading.Lock()

    def principal(self, ident: HubIdentity) -> Principal:
        """The principal of ``ident``: the user is created, made (or no longer) admin and given
        exactly the hub's groups when any of that changed since the last call."""
        with self._lock:
            fresh = self._synced.get(ident.name) == ident
        if not fresh:
            self._sync(ident)
            with self._lock:
                self._synced[ident.name] = ident
        return self.backend.users.principal(ident.name, via="hub")

    def _sync(self, ident: HubIdentity) -> None:
        users = self.backend.users
        users.ensure_user(ident.name, is_admin=ident.admin)
        # group names must be valid ChRIS names; a hub group that is not one is skipped, not fatal
        wanted = set()
        for g in ident.groups:
            try:
                wanted.add(paths.check_name(g))
            except paths.InvalidPath:
                continue
        for g in wanted:
            users.ensure_group(g)
        with self.backend.db.session() as s:
            user = s.scalar(select(User).where(User.username == ident.name))
            assert user is not None
            have = {g.name for g in user.groups}
            if have != wanted:
                user.groups = list(s.scalars(select(Group).where(Group.name.in_(wanted)))) if wanted else []


class HubDirectory:
    """The hub's REST API as the directory sharing consults for a grantee the database does not have
    yet (:class:`chris_jupyter.library.sharing.Directory`): a hub user who never called the service,
    or a hub group none of whose members did. Asked with the service's own token (its role grants
    ``read:users`` and ``read:groups``); blocking, as the core calls it from a worker thread."""

    def __init__(self, principals: HubPrincipals, api_url: str, token: str, *, timeout: float = 30) -> None:
        self.principals = principals
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _get(self, kind: str, name: str) -> dict | None:
        try:
            paths.check_name(name)
        except paths.InvalidPath:
            return None
        try:
            r = httpx.get(f"{self.api_url}/{kind}/{quote(name, safe='')}", timeout=self.timeout,
                          headers={"Authorization": f"token {self.token}"})
        except httpx.HTTPError as e:
            log.warning("could not ask the hub about %s %r: %s", kind, name, e)
            return None
        if r.status_code != 200:
            if r.status_code != 404:
                log.warning("the hub answered %s about %s %r: %s", r.status_code, kind, name, r.text[:200])
            return None
        return r.json()

    def ensure_user(self, name: str) -> bool:
        model = self._get("users", name)
        if model is None:
            return False
        self.principals.principal(HubIdentity(name, bool(model.get("admin")), frozenset(model.get("groups") or ())))
        return True

    def ensure_group(self, name: str) -> bool:
        if self._get("groups", name) is None:
            return False
        self.principals.backend.users.ensure_group(name)
        return True
