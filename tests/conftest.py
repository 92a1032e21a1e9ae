"""Shared test setup. Service fixtures (Docker, PostgreSQL, Orthanc, Chromium) live in
``tests/fixtures/`` as pytest plugins; the Jupyter server fixtures come from pytest-jupyter."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest_plugins = [
    *[
        p
        for p in ("tests.fixtures.services", "tests.fixtures.orthanc", "tests.fixtures.browser",
                  "tests.fixtures.notebooks")
        if importlib.util.find_spec(p) is not None
    ],
    "tests.fixtures.server",  # after services, which it imports
]

from chris_jupyter.backend import Backend, Settings  # noqa: E402


@pytest.fixture
def backend(tmp_path: Path, db_url: str):
    """A backend on a fresh database (SQLite and PostgreSQL, via ``db_url``) and data root."""
    b = Backend(Settings(data_root=tmp_path / "data", db_url=db_url))
    yield b
    b.close()


@pytest.fixture
def alice(backend: Backend):
    return backend.principal("alice")


@pytest.fixture
def bob(backend: Backend):
    return backend.principal("bob")


@pytest.fixture
def admin(backend: Backend):
    return backend.principal("root_admin", is_admin=True)


if importlib.util.find_spec("tests.fixtures.services") is None:  # pragma: no cover - bootstrap only

    @pytest.fixture
    def db_url(tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'test.db'}"


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, which asyncio tests after it cannot share."""
    def uses_browser(item) -> bool:
        names = getattr(item, "fixturenames", ())
        return "tests/browser/" in str(item.path).replace("\\", "/") or "browser" in names or "page" in names

    items.sort(key=uses_browser)
