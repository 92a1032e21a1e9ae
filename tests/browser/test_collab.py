"""Live collaboration in the viewer, end to end with real parts: a real chris server, three
users, three Chromium contexts rendering the bundled viewer on the same ``series:<uid>`` volume.

The harness page is served on the chris server's origin (as JupyterLab is: the browser answers its
few static files from disk), and each user's view calls the backend with that user's API token
(``api_token``). Not through Jupyter's ``/files/``: that serves HTML sandboxed (an opaque origin).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from chris_jupyter import Client
from chris_jupyter.dicom import synth
from chris_jupyter.widgets import harness as H
from chris_jupyter.widgets.harness import write_harness
from tests.fixtures.browser import artifact_path, is_local_url

WAIT_MS = 5_000  # a correctness bound for "appears live", not a benchmark


#: JupyterLab on the same server: scriptable from the page, and nothing fetched from the internet.
LAB_ARGS = ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


@pytest.fixture(scope="module")
def setup(chris_server_factory, tmp_path_factory) -> dict:
    """alice uploads a CT series and shares it with bob; carol gets nothing."""
    srv = chris_server_factory(extra_args=LAB_ARGS)
    tag = uuid.uuid4().hex[:6]
    owner = Client(srv.url, srv.token)
    tokens = {}
    for who in ("alice", "bob", "carol"):
        name = f"{who}{tag}"
        owner.create_user(name)
        tokens[who] = (name, owner.create_token(user=name)["token"])
    alice = Client(srv.url, tokens["alice"][1])
    info = synth.write_ct_series(tmp_path_factory.mktemp("ct") / "ct", n_slices=24, rows=64, cols=64,
                                 patient_id=f"COL{tag}")
    folder = f"home/{tokens['alice'][0]}/uploads/ct"
    alice.upload(info.paths[0].parent, folder, progress=False)
    alice.share(folder, user=tokens["bob"][0])
    page_dir = tmp_path_factory.mktemp("collab-page")
    write_harness(page_dir, width=900)
    return {"srv": srv, "tokens": tokens, "volume": f"series:{info.series_uid}", "page_dir": page_dir}


@pytest.fixture(scope="module")
def page_url(setup) -> str:
    return f"{setup['srv'].url}collab-harness/"


@pytest.fixture
def contexts(browser, setup) -> Iterator:
    """Open pages in separate browser contexts (separate users); fail if any request leaves localhost."""
    opened = []

    def new_page():
        ctx = browser.new_context(viewport={"width": 1000, "height": 700})
        ctx.route(f"{setup['srv'].url}collab-harness/**", lambda route: serve_page_file(route, setup["page_dir"]))
        pg = ctx.new_page()
        pg.requested, pg.console, pg.responses = [], [], []
        pg.on("request", lambda req: pg.requested.append(req.url))
        pg.on("response", lambda r: pg.responses.append((r.request.method, r.url, r.status)))
        pg.on("console", lambda msg: pg.console.append(f"{msg.type}: {msg.text}"))
        pg.on("pageerror", lambda err: pg.console.append(f"pageerror: {err}"))
        opened.append((ctx, pg))
        return pg

    yield new_page
    remote = [u for _c, pg in opened for u in pg.requested if not is_local_url(u)]
    for ctx, _pg in opened:
        ctx.close()
    assert not remote, f"requests left localhost: {remote[:10]}"


def serve_page_file(route, folder: Path) -> None:
    """Answer the harness page's own files (index.html, static/*) from disk."""
    rel = urlsplit(route.request.url).path.split("/collab-harness/", 1)[1] or "index.html"
    path = (folder / rel).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        route.fulfill(status=404, body="not found")
        return
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
    route.fulfill(status=200, path=str(path), content_type=types.get(path.suffix, "application/octet-stream"))


def open_view(new_page, page_url: str, setup: dict, who: str, *, expect: str = "ready"):
    """One user's viewer on the shared volume; waits for the volume (or its error)."""
    name, token = setup["tokens"][who]
    state = {"volume_id": setup["volume"], "api_base": setup["srv"].url, "api_token": token, "user": name,
             "view_layout": "axial"}
    pg = new_page()
    pg.goto(f"{page_url}index.html?{urlencode({k: json.dumps(v) for k, v in state.items()})}")
    pg.wait_for_function("window.model && /^(ready|error)/.test(model.get('status'))", timeout=60_000)
    status = pg.evaluate("model.get('status')")
    assert status.startswith(expect), (who, status, pg.console)
    return pg


def wait_js(pg, expr: str, arg=None, timeout: int = WAIT_MS) -> None:
    pg.wait_for_function(expr, arg=arg, timeout=timeout)


def annotations(pg) -> list[dict]:
    return pg.evaluate("model.get('annotations')")


def joined(pg) -> None:
    """Wait until the view has loaded the saved annotations (its session is live)."""
    wait_js(pg, "() => model.get('session_id') !== ''")
    wait_js(pg, "() => performance.getEntriesByType('resource').some((e) => /annotations\\?volume=/.test(e.name))")


def test_two_users_see_each_others_annotations_and_cursors(contexts, page_url, setup) -> None:
    a = open_view(contexts, page_url, setup, "alice")
    b = open_view(contexts, page_url, setup, "bob")
    c = open_view(contexts, page_url, setup, "carol", expect="error")  # may not read the series
    for pg in (a, b, c):
        joined(pg)
    alice, bob, carol = (setup["tokens"][w][0] for w in ("alice", "bob", "carol"))
    assert a.evaluate("model.get('session_id')") != b.evaluate("model.get('session_id')")

    # alice adds a point annotation in her view (as the Pt tool does) -> bob's model and overlay
    a.evaluate("""() => el.chrisViewer.annotations.add("point", [model.get("position_mm")], "lesion?")""")
    wait_js(a, "() => model.get('annotations').some((x) => x.server_id != null)")
    wait_js(b, "() => model.get('annotations').some((x) => x.text === 'lesion?')")
    (got,) = annotations(b)
    assert got["author"] == alice and got["id"] == f"srv-{got['server_id']}"
    assert got["points"] == annotations(a)[0]["points"]
    assert b.evaluate("el.chrisViewer.overlay.annotations.map((x) => x.text)") == ["lesion?"]
    assert b.locator(".cjv-ann .cjv-ann-meta").first.text_content() == alice  # the list shows the author

    # bob moves his crosshair -> alice sees a peer named bob, at bob's position, with a colour
    pos = a.evaluate("model.get('position_mm')")
    moved = [pos[0] + 5.0, pos[1] - 3.0, pos[2]]
    b.evaluate("(mm) => el.chrisViewer.setPosition(mm)", moved)
    wait_js(b, "(mm) => model.get('position_mm').every((v, i) => Math.abs(v - mm[i]) < 1)", moved)
    there = b.evaluate("model.get('position_mm')")
    wait_js(a, "([u, mm]) => model.get('peers').some((p) => p.user === u"
               " && p.position.every((v, i) => Math.abs(v - mm[i]) < 1e-3))", [bob, there])
    (peer,) = [p for p in a.evaluate("model.get('peers')") if p["user"] == bob]
    assert peer["color"].startswith("#")
    assert a.evaluate("el.chrisViewer.overlay.peers.map((p) => p.user)") == [bob]  # drawn
    a.evaluate("el.chrisViewer.nv.drawScene()")
    a.screenshot(path=str(artifact_path("collab_alice_sees_bob.png")))
    b.screenshot(path=str(artifact_path("collab_bob_sees_annotation.png")))

    # bob deletes nothing of alice's; alice deletes hers -> gone for bob
    # carol: the backend refuses (404), and nothing reaches her view
    assert any(m == "GET" and "annotations?volume=" in u and s == 404 for m, u, s in c.responses), c.responses
    assert annotations(c) == [] and c.evaluate("model.get('peers')") == []

    # saved: author and time from Python; a new view of bob's loads it
    items = Client(setup["srv"].url, setup["tokens"]["bob"][1]).get("annotations", volume=setup["volume"])["items"]
    assert [(i["author"], i["text"]) for i in items] == [(alice, "lesion?")] and items[0]["created_at"]
    b2 = open_view(contexts, page_url, setup, "bob")
    wait_js(b2, "() => model.get('annotations').some((x) => x.text === 'lesion?')")
    # bob's own annotation (made in the kernel's way: a trait change) reaches alice too
    b2.evaluate("""() => model.set("annotations", [...model.get("annotations"),
        {id: "k1", kind: "distance", points: [[0, 0, 0], [10, 0, 0]], text: "bob's ruler", author: "",
         created: new Date().toISOString()}])""")
    wait_js(a, "() => model.get('annotations').some((x) => x.text === \"bob's ruler\")")
    wait_js(b, "() => model.get('annotations').some((x) => x.text === \"bob's ruler\")")
    assert b2.evaluate("model.get('annotations').filter((x) => x.text === \"bob's ruler\").length") == 1

    # alice deletes her annotation in her list -> it disappears for bob, and from the server
    a.locator(".cjv-ann-del").first.click()
    wait_js(b, "() => !model.get('annotations').some((x) => x.text === 'lesion?')")
    items = Client(setup["srv"].url, setup["tokens"]["alice"][1]).get("annotations", volume=setup["volume"])["items"]
    assert [(i["author"], i["text"]) for i in items] == [(bob, "bob's ruler")]
    # carol still saw nothing at all
    assert annotations(c) == [] and c.evaluate("model.get('peers')") == []
    pageerrors = [m for pg in (a, b, b2, c) for m in pg.console if m.startswith("pageerror")]
    assert not pageerrors, pageerrors


def test_edit_and_reconnect(contexts, page_url, setup) -> None:
    """A text edit of one's own saved annotation is saved (the others see it); a view that lost
    its event stream reconnects and catches up."""
    a = open_view(contexts, page_url, setup, "alice")
    b = open_view(contexts, page_url, setup, "bob")
    joined(a)
    joined(b)
    a.evaluate("""() => el.chrisViewer.annotations.add("point", [[1, 2, 3]], "first")""")
    wait_js(b, "() => model.get('annotations').some((x) => x.text === 'first')")
    a.evaluate("""() => model.set("annotations", model.get("annotations").map(
        (x) => x.text === "first" ? {...x, text: "second"} : x))""")
    wait_js(b, "() => model.get('annotations').some((x) => x.text === 'second')")
    wait_js(b, "() => !model.get('annotations').some((x) => x.text === 'first')")
    wait_js(a, "() => model.get('annotations').some((x) => x.text === 'second' && x.server_id != null)")
    # bob goes offline for a moment (his stream drops), alice annotates meanwhile
    b.context.set_offline(True)
    a.evaluate("""() => el.chrisViewer.annotations.add("point", [[4, 5, 6]], "while away")""")
    wait_js(a, "() => model.get('annotations').some((x) => x.text === 'while away' && x.server_id != null)")
    b.context.set_offline(False)
    wait_js(b, "() => model.get('annotations').some((x) => x.text === 'while away')", timeout=40_000)
    texts = sorted(x["text"] for x in annotations(b))
    assert texts.count("while away") == 1 and "second" in texts


def _run_cell(page, code: str) -> None:
    """Append a cell with ``code`` to the open notebook and run it."""
    page.evaluate(
        """async (code) => {
          const app = window.jupyterapp;
          await app.commands.execute('notebook:insert-cell-below');
          app.shell.currentWidget.content.activeCell.model.sharedModel.setSource(code);
          await app.commands.execute('notebook:run-cell');
        }""",
        code,
    )


def _kernel_says(page, expr: str, expected: str, attempts: int = 6) -> None:
    """Run a cell printing ``expr`` until the kernel prints ``expected``; fails with what it printed.

    Each run is tagged, so an output is never mistaken for another run's; a run is repeated (a cell
    appended and run) if the output is not yet the expected one or does not come within 30 s."""
    seen = []
    for i in range(attempts):
        tag = f"KERNEL{i}"
        _run_cell(page, f"print({tag!r}, {expr})")
        try:
            page.wait_for_function("t => document.body.innerText.includes(t + ' ')", arg=tag, timeout=30_000)
        except PlaywrightTimeout:
            seen.append(f"{tag}: no output in 30 s")
            continue
        line = page.evaluate("t => document.body.innerText.split('\\n').find(l => l.startsWith(t + ' '))", tag)
        if line == f"{tag} {expected}":
            return
        seen.append(line)
        time.sleep(1)
    raise AssertionError(f"the kernel never printed {expected}: {seen}")


def test_jupyterlab_view_collaborates_with_the_cookie(setup, page) -> None:
    """In real JupyterLab (same server) the widget needs no token: the Jupyter cookie reads,
    the _xsrf cookie as X-XSRFToken writes. Kernel, browser and another user stay in step."""
    srv = setup["srv"]
    cells = [f"from chris_jupyter.widgets import Viewer\n"
             f"v = Viewer(volume_id={setup['volume']!r}, view_layout='axial', height=300)\nv"]
    (srv.root / "notebooks" / "collab.ipynb").write_text(json.dumps(H.notebook(cells)))
    page.set_default_timeout(90_000)
    page.goto(f"{srv.url}lab/tree/collab.ipynb?reset&token={srv.token}")
    page.wait_for_function(H.KERNEL_READY_JS)
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => { const r = document.querySelector('.cjv-root');"
                           " const v = r && r.parentElement.chrisViewer;"
                           " return v && /^(ready|error)/.test(v.model.get('status')); }")
    page.evaluate("() => { window.el = document.querySelector('.cjv-root').parentElement;"
                  " window.model = el.chrisViewer.model; }")
    assert page.evaluate("model.get('status')") == "ready"
    joined(page)
    before = {a["text"] for a in annotations(page)}

    # another user (bob, the series is shared with him) annotates from Python: the view and the kernel see it
    bob_name, bob_token = setup["tokens"]["bob"]
    bob = Client(srv.url, bob_token)
    bob.post("annotations", {"volume": setup["volume"], "kind": "point", "points": [[1, 1, 1]], "text": "from bob"})
    wait_js(page, "() => model.get('annotations').some((x) => x.text === 'from bob')")
    _kernel_says(page, "[a['author'] for a in v.annotations if a['text'] == 'from bob']", f"['{bob_name}']")

    # the kernel adds one: the browser saves it (cookie + X-XSRFToken), bob can read it
    _run_cell(page, "v.add_annotation('point', [[0.0, 0.0, 0.0]], text='from the kernel')")
    wait_js(page, "() => model.get('annotations').some((x) => x.text === 'from the kernel' && x.server_id != null)",
            timeout=15_000)
    items = bob.get("annotations", volume=setup["volume"])["items"]
    (mine,) = [i for i in items if i["text"] == "from the kernel"]
    assert mine["author"] == Client(srv.url, srv.token).me()["username"]
    assert "from the kernel" not in before
    page.screenshot(path=str(artifact_path("collab-jupyterlab.png")))


def test_viewer_collab_traits(setup, browser) -> None:
    """The Python side: collaboration is on by default, the token is set only when asked.

    (``browser`` only so that the module's running Playwright loop is left alone, see
    ``tests/fixtures/browser.py: jp_asyncio_loop``.)"""
    from chris_jupyter.widgets import Viewer

    srv, (_name, token) = setup["srv"], setup["tokens"]["alice"]
    v = Viewer(volume_id=setup["volume"])
    try:
        assert v.collab is True and v.api_token == "" and v.api_base == "" and v.session_id == ""
        client = Client(srv.url, token)
        assert v.use_client(client) is v and v.api_token == token and v.api_base == ""
        v.use_client(client, api_base=True)
        assert v.api_base == srv.url
        assert v.get_state()["api_token"] == token  # synced: saved widget state would hold it
        # the browser tags saved annotations with their server id; the kernel keeps the tag
        v.annotations = [{"id": "srv-7", "server_id": 7, "kind": "point", "points": [[1, 2, 3]]}]
        assert v.annotations[0]["server_id"] == 7
    finally:
        v.close()


def test_viewers_on_one_page_share_one_event_stream(contexts, page_url, setup) -> None:
    """Browsers allow ~6 connections per host: many viewers in one notebook hold one stream."""
    a = open_view(contexts, page_url, setup, "alice")
    joined(a)
    a.evaluate("""() => {
      const div = document.createElement("div");
      div.id = "w2";
      document.body.appendChild(div);
      window.model2 = new model.constructor({...JSON.parse(JSON.stringify(model.state)),
                                             annotations: [], session_id: "", status: ""});
      widget.render({ model: model2, el: div });
    }""")
    wait_js(a, "() => model2.get('status') === 'ready'", timeout=60_000)
    wait_js(a, "() => model2.get('annotations').length === model.get('annotations').length"
               " && model2.get('session_id') !== model.get('session_id')")
    b = open_view(contexts, page_url, setup, "bob")
    joined(b)
    b.evaluate("""() => el.chrisViewer.annotations.add("point", [[7, 7, 7]], "to both views")""")
    for m in ("model", "model2"):
        wait_js(a, f"() => {m}.get('annotations').some((x) => x.text === 'to both views')")
    assert sum("/chris/api/v1/events?" in u for u in a.requested) == 1


def _open_lab_viewer(page, srv, name: str) -> str:
    """Open notebook ``name`` in JupyterLab, run it, wait for its viewer; returns its session id."""
    page.set_default_timeout(90_000)
    page.goto(f"{srv.url}lab/tree/{name}?reset&token={srv.token}")
    page.wait_for_function(H.KERNEL_READY_JS)
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => { const r = document.querySelector('.cjv-root');"
                           " const v = r && r.parentElement.chrisViewer;"
                           " return v && v.model.get('status') === 'ready' && v.model.get('session_id'); }")
    page.evaluate("() => { window.el = document.querySelector('.cjv-root').parentElement;"
                  " window.model = el.chrisViewer.model; }")
    return page.evaluate("model.get('session_id')")


PEERS_JS = "() => model.get('peers').map((p) => [p.session, p.label, p.user])"


def test_own_other_pages_are_distinct_peers_and_closed_ones_go(setup, page) -> None:
    """Two JupyterLab pages of the same user on one volume: each shows the other as one peer
    labelled "you (other view)", not as a second copy of the user's name; closing one page
    removes its cursor from the other within a few seconds."""
    srv = setup["srv"]
    me = Client(srv.url, srv.token).me()["username"]
    for name in ("ghost-a.ipynb", "ghost-b.ipynb"):
        cells = [f"from chris_jupyter.widgets import Viewer\n"
                 f"v = Viewer(volume_id={setup['volume']!r}, view_layout='axial', height=300)\nv"]
        (srv.root / "notebooks" / name).write_text(json.dumps(H.notebook(cells)))
    a = page
    b = page.context.new_page()  # the same browser profile: the same Jupyter cookie, the same user
    b.console = []
    b.on("pageerror", lambda err: b.console.append(f"pageerror: {err}"))
    sa = _open_lab_viewer(a, srv, "ghost-a.ipynb")
    sb = _open_lab_viewer(b, srv, "ghost-b.ipynb")
    assert sa != sb
    # each page sees exactly one peer for the other page, named as one's own other view
    wait_js(a, "(s) => model.get('peers').some((p) => p.session === s)", sb, timeout=15_000)
    wait_js(b, "(s) => model.get('peers').some((p) => p.session === s)", sa, timeout=15_000)
    assert a.evaluate(PEERS_JS) == [[sb, "you (other view)", me]]
    assert b.evaluate(PEERS_JS) == [[sa, "you (other view)", me]]
    a.evaluate("el.chrisViewer.nv.drawScene()")
    assert a.evaluate("el.chrisViewer.overlay.peers.map((p) => p.label)") == ["you (other view)"]
    a.screenshot(path=str(artifact_path("collab-ghost-two-pages.png")))

    # page B goes away (the tab is closed): its cursor leaves page A, without waiting for an expiry
    b.close()
    wait_js(a, "(s) => !model.get('peers').some((p) => p.session === s)", sb, timeout=10_000)
    assert a.evaluate(PEERS_JS) == []
    items = Client(srv.url, srv.token).get("collab/peers", volume=setup["volume"])["sessions"]
    assert [s["session"] for s in items] == [sa]  # the server keeps only page A's session
    a.screenshot(path=str(artifact_path("collab-ghost-after-close.png")))
    assert not [m for m in a.console + b.console if m.startswith("pageerror")]
