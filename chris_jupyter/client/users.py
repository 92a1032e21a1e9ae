"""Client methods for identity: who am I, users and API tokens."""

from __future__ import annotations

from .http import Connection
from .results import Record


class UsersClient(Connection):
    """The user this client acts as; users and tokens (administrators)."""

    # -- identity ---------------------------------------------------------------------------------
    def me(self) -> Record:
        return self.get("me")

    @property
    def home(self) -> str:
        """This user's library home, ``home/<username>`` (for paths: ``f"{c.home}/uploads/scans"``)."""
        if getattr(self, "_home", None) is None:
            self._home = f"home/{self.me()['username']}"
        return self._home

    def create_user(self, username: str, groups: list[str] | None = None, is_admin: bool = False) -> dict:
        return self.post("users", {"username": username, "groups": groups or [], "is_admin": is_admin})

    def set_password(self, username: str, password: str | None) -> None:
        """Set (or with ``None`` remove) a user's password, for clients that log in with one
        (the CUBE-compatible ``api/v1/``). Yourself, or anyone as an administrator."""
        self.request("PUT", f"users/{username}/password", json={"password": password})

    def create_token(self, user: str | None = None, name: str = "", expires_in: float | None = None) -> dict:
        return self.post("tokens", {"user": user, "name": name, "expires_in": expires_in})
