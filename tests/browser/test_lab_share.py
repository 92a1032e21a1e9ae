"""Sharing from the Library panel, and a feed's note and comments, in real JupyterLab and Chromium.

JupyterLab (the venv's, with the chris server extension and the package's prebuilt lab
extension) runs on a library seeded with the sample data; its owner is user A. A second user B
gets an API token. A shares a folder with B from the Share dialog (a refusal of the server is
shown in the dialog first), makes a private link, copies it and revokes it, and withdraws a
share; B's own page (a second browser context whose ChRIS requests carry B's API token, so the
same JupyterLab acts as B) shows the folder under "Shared with me" live, from the event stream,
and opens it. In the Feeds tab A edits a feed's note and adds a comment; a comment and a note
change made by another client appear by themselves; both are there after a reload. No request
of either page may leave localhost. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from chris_jupyter import Client
from chris_jupyter.sample import seed_sample_library
from chris_jupyter.widgets import harness as H
from tests.fixtures.browser import artifact_path, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("lab-share-root")
    scratch = tmp_path_factory.mktemp("lab-share-scratch")
    user, _ = seed_sample_library(scratch / "data" / "chris", runner="local")
    with H.jupyterlab_server(root, scratch, artifact_path("jupyterlab-share.log")) as (base, token):
        _wait_for_api(base, token)
        owner = Client(base, token)
        bob = f"bob{uuid.uuid4().hex[:6]}"
        owner.create_user(bob)
        bob_token = owner.create_token(user=bob)["token"]
        feed = owner.create_feed("notes and comments")
        to_share = owner.create_feed("a feed for bob")
        yield {"base": base, "token": token, "user": user, "bob": bob, "bob_token": bob_token,
               "feed": feed["id"], "feed_to_share": to_share["id"]}


def _wait_for_api(base: str, token: str) -> None:
    """Jupyter answers before the chris extension's routes are all there: wait for ``me``."""
    deadline = time.monotonic() + 60
    while _api(base, token, "GET", "me")[0] != 200:
        assert time.monotonic() < deadline, "the chris API did not come up in 60 s"
        time.sleep(0.3)


def _api(base: str, token: str, method: str, resource: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{base}chris/api/v1/{resource}", method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as e:
        return e.code, {}
    except urllib.error.URLError:
        return 0, {}


@pytest.fixture
def bob_page(browser, lab) -> Iterator:
    """B's page: the same JupyterLab (logged in with its token), every ChRIS request as B (B's API
    token in the Authorization header, which the server prefers to the Jupyter login); fails the
    test if any of its requests leaves localhost."""

    def as_bob(route) -> None:
        route.continue_(headers={**route.request.headers, "authorization": f"Bearer {lab['bob_token']}"})

    with watched_page(browser, lambda context: context.route("**/chris/api/v1/**", as_bob)) as pg:
        yield pg


def _open_library(pg, lab: dict, username: str) -> None:
    pg.set_default_timeout(60_000)
    pg.goto(f"{lab['base']}lab?reset&token={lab['token']}")
    pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('chris:open-library')")
    pg.evaluate("() => jupyterapp.restored.then(() => jupyterapp.commands.execute('chris:open-library'))")
    pg.locator(".chris-lab-library").wait_for()
    pg.wait_for_function(
        "u => document.querySelector('.chris-lab-library .chris-lab-path').textContent === 'home/' + u", arg=username
    )


def _row(pg, name: str):
    return pg.locator(".chris-lab-library .chris-lab-row", has=pg.locator(".chris-lab-name", has_text=name))


@contextlib.contextmanager
def _screenshots_on_failure(name: str, *pages) -> Iterator[None]:
    try:
        yield
    except Exception:
        _failure(name, *pages)
        raise


def _failure(name: str, *pages) -> None:
    for i, pg in enumerate(pages):
        pg.screenshot(path=str(artifact_path(f"{name}-failure-{i}.png")), full_page=True)
        artifact_path(f"{name}-failure-{i}.txt").write_text(
            pg.evaluate("() => document.body.innerText") + "\n\n" + "\n".join(pg.console)
        )


def test_share_a_folder_from_the_dialog_and_the_other_user_sees_it_live(lab, page, bob_page):
    with _screenshots_on_failure("lab-share", page, bob_page):
        _drive_share(lab, page, bob_page)


def _drive_share(lab, page, bob_page) -> None:
    user, bob = lab["user"], lab["bob"]
    folder = f"home/{user}/uploads"
    _open_library(bob_page, lab, bob)
    # B's event stream is open (so "live" below cannot be a missed event's fault)
    bob_page.wait_for_function("() => chrisLab.panel.source && chrisLab.panel.source.readyState === 1")
    assert bob_page.locator(".chris-lab-shared").is_hidden()  # nothing shared with B yet
    _open_library(page, lab, user)

    # -- the row's Share button opens the dialog for that folder ---------------------------------
    _row(page, "uploads").hover()
    _row(page, "uploads").locator(".chris-lab-share").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".chris-lab-share-body").wait_for()
    assert f"Share {folder}" in dialog.locator(".jp-Dialog-header").inner_text()
    dialog.locator(".chris-lab-share-list .chris-lab-empty").wait_for()  # not shared with anyone yet

    # -- a refusal of the server is shown in the dialog, with its message --------------------------
    dialog.locator(".chris-lab-share-who").fill("no-such-user-here")
    dialog.locator(".chris-lab-share-go").click()
    error = dialog.locator(".chris-lab-error")
    error.wait_for()
    assert "no such user" in error.inner_text() and "no-such-user-here" in error.inner_text(), error.inner_text()

    # -- share with B, read and write ----------------------------------------------------------------
    dialog.locator(".chris-lab-share-who").fill(bob)
    dialog.locator(".chris-lab-share-permission").select_option("write")
    dialog.locator(".chris-lab-share-go").click()
    item = dialog.locator(".chris-lab-share-item", has_text=f"user {bob}")
    item.wait_for()
    assert "write" in item.inner_text()
    assert error.is_hidden()
    status, mine = _api(lab["base"], lab["bob_token"], "GET", "shares")
    assert status == 200
    assert [(s["path"], s["permission"]) for s in mine["items"] if s["user"] == bob] == [(folder, "write")]

    # -- B's page shows it live (no reload), and opens it as the tree's root ----------------------
    shared = bob_page.locator(f".chris-lab-shared-item[data-path='{folder}']")
    shared.wait_for()
    assert user in shared.inner_text() and "write" in shared.inner_text()
    bob_page.locator(".chris-lab-library").screenshot(path=str(artifact_path("lab-share-bob-shared.png")))
    shared.click()
    bob_page.wait_for_function(
        "p => document.querySelector('.chris-lab-library .chris-lab-path').textContent === p", arg=folder
    )
    _row(bob_page, "sample").wait_for()
    bob_page.locator(".chris-lab-home").click()
    bob_page.wait_for_function(
        "u => document.querySelector('.chris-lab-library .chris-lab-path').textContent === 'home/' + u", arg=bob
    )

    # -- a private link: shown once with a copy button, listed, usable, then revoked ---------------
    dialog.locator(".chris-lab-share-kind").select_option("link")
    assert dialog.locator(".chris-lab-share-who").is_hidden()
    dialog.locator(".chris-lab-share-expiry").select_option(str(86400))
    dialog.locator(".chris-lab-share-go").click()
    url_box = dialog.locator(".chris-lab-share-url")
    url_box.wait_for()
    url = url_box.input_value()
    assert "/chris/api/v1/links/chrislink_" in url and url.endswith("/files"), url
    dialog.locator(".chris-lab-share-copy").click()
    assert dialog.locator(".chris-lab-share-copied").inner_text() == "copied"
    link_item = dialog.locator(".chris-lab-link-item")
    link_item.wait_for()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=30) as r:
        assert json.loads(r.read())["target"] == folder  # anonymous: no credentials at all
    page.screenshot(path=str(artifact_path("lab-share-dialog.png")))
    link_item.locator(".chris-lab-share-remove").click()
    page.wait_for_function("() => !document.querySelector('.jp-Dialog .chris-lab-link-item')")
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=30)
    assert gone.value.code in (401, 403, 404, 410)

    # -- withdraw B's share: the list says so, and B's API no longer lists it -------------------------
    item.locator(".chris-lab-share-remove").click()
    dialog.locator(".chris-lab-share-list .chris-lab-empty").wait_for()
    _, mine = _api(lab["base"], lab["bob_token"], "GET", "shares")
    assert not [s for s in mine["items"] if s["path"] == folder]
    shared.wait_for(state="detached")  # B's page drops it live (the share.deleted event)
    dialog.locator(".jp-mod-accept").click()  # Close
    dialog.wait_for(state="detached")

    # -- keyboard: select a row with the arrows, "s" opens the dialog; Escape closes it --------------
    page.locator(".chris-lab-library .chris-lab-scroller").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => chrisLab.panel.selectedPath !== null")
    selected = page.evaluate("() => chrisLab.panel.selectedPath")
    page.keyboard.press("s")
    dialog.wait_for()
    assert f"Share {selected}" in dialog.locator(".jp-Dialog-header").inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")

    # -- the context menu of a row has "Share…" ------------------------------------------------------
    _row(page, "uploads").click(button="right")
    entry = page.locator(".lm-Menu-item[data-command='chris:share']")
    entry.wait_for()
    entry.click()
    dialog.wait_for()
    assert f"Share {folder}" in dialog.locator(".jp-Dialog-header").inner_text()
    page.keyboard.press("Escape")
    assert any("/chris/api/v1/events?types=" in u and "share.created" in u for u in bob_page.requested)


def test_edit_a_feed_note_and_comment_in_the_feeds_tab(lab, page):
    with _screenshots_on_failure("lab-feed-note", page):
        _drive_feed(lab, page)


def _open_feed(page, lab: dict, feed: int | None = None) -> None:
    """The Feeds tab, showing ``feed`` (the note-and-comments feed by default; 0: none)."""
    feed = lab["feed"] if feed is None else feed
    page.goto(f"{lab['base']}lab?reset&token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('chris:open-feeds')")
    page.evaluate(
        "id => jupyterapp.restored.then(() => jupyterapp.commands.execute('chris:open-feeds', id ? {feedId: id} : {}))",
        feed,
    )
    if feed:
        page.locator(f".chris-lab-feeds .chris-lab-feed-header[data-feed-id='{feed}']").wait_for()
    else:
        page.locator(".chris-lab-feeds").wait_for()


def test_share_a_feed_from_the_feeds_tab_and_the_other_user_sees_it_live(lab, page, bob_page):
    with _screenshots_on_failure("lab-feed-share", page, bob_page):
        _drive_feed_share(lab, page, bob_page)


def _drive_feed_share(lab, page, bob_page) -> None:
    feed, bob = lab["feed_to_share"], lab["bob"]
    for pg in (page, bob_page):
        pg.set_default_timeout(60_000)
    bob_item = bob_page.locator(f".chris-lab-feeds .chris-lab-feed[data-feed-id='{feed}']")
    _open_feed(bob_page, lab, 0)
    bob_page.locator(".chris-lab-feeds .chris-lab-feed-list").wait_for()
    bob_page.wait_for_function(
        "() => { const w = [...jupyterapp.shell.widgets('main')]"
        ".find(w => w.content && w.content.id === 'chris-lab-feeds');"
        " return w && w.content.source && w.content.source.readyState === 1; }"
    )
    assert bob_item.count() == 0  # not B's, not shared with B yet

    # -- A opens the feed, its Share button opens the dialog for the feed ------------------------------
    _open_feed(page, lab, feed)
    page.locator(".chris-lab-feeds .chris-lab-feed-share").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".chris-lab-share-body").wait_for()
    assert f'Share feed "a feed for bob" (#{feed})' in dialog.locator(".jp-Dialog-header").inner_text()
    dialog.locator(".chris-lab-share-list .chris-lab-empty").wait_for()
    dialog.locator(".chris-lab-share-who").fill(bob)
    dialog.locator(".chris-lab-share-go").click()
    item = dialog.locator(".chris-lab-share-item", has_text=f"user {bob}")
    item.wait_for()
    _, mine = _api(lab["base"], lab["bob_token"], "GET", "shares")
    assert [(s["feed_id"], s["path"], s["permission"]) for s in mine["items"]
            if s["user"] == bob and s["feed_id"]] == [(feed, None, "read")]

    # -- B's Feeds tab lists it live (the share.created event), and opens it -------------------------
    bob_item.wait_for()
    bob_item.click()
    bob_page.locator(f".chris-lab-feeds .chris-lab-feed-header[data-feed-id='{feed}']").wait_for()
    page.screenshot(path=str(artifact_path("lab-feed-share-dialog.png")))

    # -- withdrawn: it leaves B's list live (share.deleted) -------------------------------------------
    item.locator(".chris-lab-share-remove").click()
    dialog.locator(".chris-lab-share-list .chris-lab-empty").wait_for()
    bob_item.wait_for(state="detached")
    page.keyboard.press("Escape")


def _drive_feed(lab, page) -> None:
    page.set_default_timeout(60_000)
    feed, user = lab["feed"], lab["user"]
    _open_feed(page, lab)
    header = page.locator(".chris-lab-feeds .chris-lab-feed-header")
    header.locator(".chris-lab-comments .chris-lab-empty").wait_for()  # no comments yet

    # -- the note: edited, saved (PATCH), then what the server holds ------------------------------
    note = header.locator(".chris-lab-feed-note-input")
    note.fill("CT phantom, first look.\nCheck the slice spacing.")
    assert header.locator(".chris-lab-feed-note-status").inner_text() == "not saved"
    header.locator(".chris-lab-feed-note-save").click()
    page.wait_for_function(
        "() => document.querySelector('.chris-lab-feed-note-status').textContent === 'saved'"
    )
    _, got = _api(lab["base"], lab["token"], "GET", f"feeds/{feed}")
    assert got["note"] == "CT phantom, first look.\nCheck the slice spacing."

    # -- comments: an empty one is refused in the panel; one added from the box ---------------------
    header.locator(".chris-lab-comment-add").click()
    error = page.locator(".chris-lab-feeds .chris-lab-error")
    error.wait_for()
    assert "write a comment" in error.inner_text()
    header.locator(".chris-lab-comment-input").fill("Spacing is 1.5 mm, fine.")
    header.locator(".chris-lab-comment-add").click()
    header.locator(".chris-lab-comment", has_text="Spacing is 1.5 mm, fine.").wait_for()
    assert error.is_hidden()
    assert header.locator(".chris-lab-comment-input").input_value() == ""

    # -- another client comments: it appears by itself (the feed.comment event) ------------------------
    status, _ = _api(lab["base"], lab["token"], "POST", f"feeds/{feed}/comments", {"content": "From the API."})
    assert status == 201
    header.locator(".chris-lab-comment", has_text="From the API.").wait_for()
    page.locator(".chris-lab-feeds").screenshot(path=str(artifact_path("lab-feed-note-comments.png")))
    # ... and a note changed elsewhere replaces the one shown (not being edited here): feed.updated
    status, _ = _api(lab["base"], lab["token"], "PATCH", f"feeds/{feed}", {"note": "Spacing checked."})
    assert status == 200
    page.wait_for_function(
        "() => document.querySelector('.chris-lab-feed-note-input').value === 'Spacing checked.'"
    )
    assert header.locator(".chris-lab-feed-note-status").inner_text() == "changed elsewhere"

    # -- after a reload: the note and both comments, oldest first --------------------------------------
    _open_feed(page, lab)
    header = page.locator(".chris-lab-feeds .chris-lab-feed-header")
    header.locator(".chris-lab-comment").nth(1).wait_for()
    assert header.locator(".chris-lab-feed-note-input").input_value() == "Spacing checked."
    texts = header.locator(".chris-lab-comment-text").all_inner_texts()
    assert texts == ["Spacing is 1.5 mm, fine.", "From the API."], texts
    assert user in header.locator(".chris-lab-comment-meta").first.inner_text()
