"""HTTP-level tests talk to a real ``jupyter server`` process (tests/fixtures/server.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest


class Api:
    """httpx clients against the running server; ``as_user`` gives a client with that user's token."""

    def __init__(self, server) -> None:
        self.server = server
        self.base = server.api
        self.clients: list[httpx.AsyncClient] = []

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=self.base, headers=headers or {}, timeout=60)
        self.clients.append(c)
        return c

    @property
    def owner(self) -> httpx.AsyncClient:
        return self.client(self.server.headers)

    @property
    def anonymous(self) -> httpx.AsyncClient:
        return self.client()

    async def new_user(self, prefix: str, groups: list[str] | None = None) -> tuple[str, httpx.AsyncClient]:
        name = f"{prefix}{uuid.uuid4().hex[:6]}"
        return name, await self.as_user(name, groups)

    async def as_user(self, username: str, groups: list[str] | None = None) -> httpx.AsyncClient:
        owner = self.owner
        r = await owner.post("users", json={"username": username, "groups": groups or []})
        assert r.status_code == 201, r.text
        r = await owner.post("tokens", json={"user": username, "name": "test"})
        assert r.status_code == 201, r.text
        return self.client({"Authorization": f"Bearer {r.json()['token']}"})

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()


@pytest.fixture
async def api(chris_server) -> AsyncIterator[Api]:
    a = Api(chris_server)
    yield a
    await a.close()


@pytest.fixture(scope="session")
def small_upload_server(chris_server_factory):
    """A server whose uploads may be at most 1000 bytes (shared by the upload-limit tests)."""
    return chris_server_factory(config={"ChrisApp": {"max_upload_size": 1000}})
