"""Browser tests: the Chromium fixtures come from tests/fixtures/browser.py (a plugin the
root conftest loads); imported here too so this folder also runs on its own."""

from tests.fixtures.browser import browser, jp_asyncio_loop, page  # noqa: F401
