"""Browser tests: load the Chromium fixtures (tests/fixtures/browser.py)."""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import asyncio  # noqa: E402

import pytest  # noqa: E402

from tests.fixtures.browser import browser, page  # noqa: E402,F401


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """Neutralise pytest-jupyter's autouse loop fixture here.

    Playwright's sync API keeps its own event loop running in this thread; the
    pytest-jupyter fixture would pick that loop up and try to close it. These
    tests start JupyterLab as a real subprocess, so they need no loop of their own.
    """
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
