"""A private share link opened in Chromium is a page (what, by whom, until when, downloads, an
image viewer); API clients still get JSON from the same URL."""

from __future__ import annotations

import struct
import uuid
import zlib
from pathlib import Path

import httpx
import numpy as np

from tests.fixtures.browser import artifact_path, png_pixels

NASTY = "<img src=x onerror=alert(1)>&b"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _setup(server) -> tuple[httpx.Client, str, bytes]:
    c = httpx.Client(base_url=server.api, headers=server.headers, timeout=60)
    me = c.get("me").json()["username"]
    folder = f"home/{me}/uploads/share{uuid.uuid4().hex[:6]}"
    image = _png(64, 48, (250, 20, 20))
    for rel, body in ((f"{NASTY}.txt", b"escaped?"), ("red.png", image)):
        r = c.put("files/content", params={"path": f"{folder}/{rel}"}, content=body,
                  headers={"Content-Type": "application/octet-stream"})
        assert r.status_code in (200, 201), r.text
    return c, folder, image


def test_api_clients_still_get_json(chris_server) -> None:
    c, folder, _ = _setup(chris_server)
    url = c.post("links", json={"path": folder, "expires_in": 3600}).json()["url"]
    full = chris_server.url.rstrip("/") + url
    for accept in (None, "application/json", "*/*", "application/json, text/html"):
        r = httpx.get(full, headers={"Accept": accept} if accept else {})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), accept
        assert r.json()["total"] == 2
    r = httpx.get(full, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.headers["content-type"].startswith("text/html")
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;&amp;b" in r.text


def test_share_link_page_in_chromium(chris_server, page) -> None:
    c, folder, image = _setup(chris_server)
    me = c.get("me").json()["username"]
    url = chris_server.url.rstrip("/") + c.post("links", json={"path": folder, "expires_in": 3600}).json()["url"]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(url)  # a folder: what, by whom, until when, a zip download and the entries
    body = page.inner_text("body")
    assert "Shared with you" in body and f"Shared by {me}" in body and "valid until" in body
    assert f"{NASTY}.txt" in body and not dialogs  # shown as text, never run
    with page.expect_download() as zipped:
        page.click("#download")
    assert zipped.value.suggested_filename.endswith(".zip")
    assert Path(zipped.value.path()).read_bytes()[:2] == b"PK"

    page.click("text=red.png")  # a file: its download and, for an image, a viewer
    page.wait_for_selector("#image")
    page.wait_for_function("document.querySelector('#image').complete"
                           " && document.querySelector('#image').naturalWidth === 64")
    shot = page.locator("#image").screenshot(path=str(artifact_path("share-link-image.png")))
    px = png_pixels(shot)[..., :3].reshape(-1, 3).astype(int)
    assert np.median(px, axis=0).tolist() == [250, 20, 20]
    page.screenshot(path=str(artifact_path("share-link-page.png")), full_page=True)
    with page.expect_download() as got:
        page.click("#download")
    assert got.value.suggested_filename == "red.png"
    assert Path(got.value.path()).read_bytes() == image


def test_dead_links_show_a_page_in_chromium_and_json_to_api_clients(chris_server, page) -> None:
    """An expired, a revoked and an unknown link: a browser gets a page saying the link no longer
    works (the same words for all three: a guessed token learns nothing); API clients get JSON."""
    import time

    c, folder, _ = _setup(chris_server)
    expired = c.post("links", json={"path": folder, "expires_in": 1}).json()
    revoked = c.post("links", json={"path": folder, "expires_in": 3600}).json()
    assert c.delete(f"links/{revoked['id']}").status_code == 204
    unknown = revoked["url"].replace("chrislink_", "chrislink_x")
    base = chris_server.url.rstrip("/")
    deadline = time.monotonic() + 60
    while httpx.get(base + expired["url"]).status_code == 200:  # wait for the expiry (not a timing check)
        assert time.monotonic() < deadline, "the 1 s link did not expire"
        time.sleep(0.2)
    for name, url in (("expired", expired["url"]), ("revoked", revoked["url"]), ("unknown", unknown)):
        r = httpx.get(base + url, headers={"Accept": "application/json"})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json"), name
        assert "expired" in r.json()["message"]
        response = page.goto(base + url)
        assert response.status == 404 and response.headers["content-type"].startswith("text/html"), name
        assert page.inner_text("#error") == "This share link does not work any more"
        body = page.inner_text("body")
        assert "Ask them for a new link" in body and "HTTP 404" in body and "{" not in body, body
        page.screenshot(path=str(artifact_path(f"share-link-{name}.png")), full_page=True)
    # a live link asked for a path it does not hold: a page too, saying so
    live = c.post("links", json={"path": folder, "expires_in": 3600}).json()["url"]
    response = page.goto(base + live + "?path=nope.txt")
    assert response.status == 404 and page.inner_text("#error") == "This shared item cannot be shown"
