"""Shared notebooks, live: JupyterHub's share codes and jupyter-collaboration, end to end.

alice makes a share code from a kernel of her server (``Client().share_server_code()``, the
server's own hub token); bob opens the link in Chromium, logs in, accepts the invitation, sees the
hub's "Authorize access" page for alice's server, authorizes, and opens alice's notebook; each
types into it and sees the other's edit, and the file saved on alice's server has both. In her
server bob is himself to Jupyter but alice to ChRIS (JupyterHub's rule: a shared server runs code
as its owner). A code revoked, a code expired, and a share revoked give clear errors and no access.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from chris_jupyter.cli import main as cli_main
from chris_jupyter.client import Client, HubServer, NotInHubError

from .conftest import Hub, hub_login_in_browser
from .test_hub_spawner import auth, run_in_kernel, start_server, stop_server


def hub_e2e(test):
    """The marks of a test with the session's hub (its first session builds the single-user image)."""
    for mark in (pytest.mark.slow, pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(1800)):
        test = mark(test)
    return test

WAIT_MS = 30_000  # a correctness bound for "the edit arrives", not a benchmark
NOTEBOOK = "together.ipynb"


# -- outside a hub: clear errors, no network ---------------------------------------------------------
def test_sharing_outside_a_hub_is_a_clear_error(monkeypatch, capsys):
    for name in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NotInHubError, match="only inside a JupyterHub user's server"):
        Client("http://127.0.0.1:9/", "t").share_server_code()
    assert cli_main(["share-server"]) == 1
    err = capsys.readouterr().err
    assert "only inside a JupyterHub user's server" in err and "JUPYTERHUB_API_TOKEN" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("expires_in", [0, 59, 525600 * 60 + 1, "soon", True])
def test_a_share_code_lifetime_out_of_range_is_refused_before_asking_the_hub(expires_in):
    server = HubServer(api_url="http://127.0.0.1:9/hub/api/", token="t", user="alice")  # nothing listens
    with pytest.raises(ValueError, match="expires_in is seconds from 60 to"):
        server.create_code(expires_in)


# -- with the hub ----------------------------------------------------------------------------------
def kernel_json(hub: Hub, token: str, code: str):
    return json.loads(run_in_kernel(hub, "alice", token, "import json\n" + code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def alice(hub: Hub) -> Iterator[dict]:
    """alice's running server with a notebook of two cells, and a share code that expires in 60 s
    (made first, so that it has expired by the module's last test)."""
    token = hub.token("alice")
    start_server(hub, "alice", token)
    try:
        short = kernel_json(hub, token, "from chris_jupyter import Client\n"
                                        "print(json.dumps(Client().share_server_code(expires_in=60)))")
        cells = [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None}
                 for _ in range(2)]
        nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
        r = httpx.put(f"{hub.url}user/alice/api/contents/{NOTEBOOK}", headers=auth(token),
                      json={"type": "notebook", "format": "json", "content": nb}, timeout=60)
        assert r.status_code in (200, 201), r.text
        yield {"token": token, "short_code": short}
    finally:
        with contextlib.suppress(Exception):  # never leave alice's server shared for the other modules
            for path in ("share-codes", "shares"):
                httpx.delete(f"{hub.url}hub/api/{path}/alice/", headers=auth(token), timeout=30)
        stop_server(hub, "alice", token)


def open_notebook(page, hub: Hub) -> None:
    page.goto(f"{hub.url}user/alice/lab/tree/{NOTEBOOK}")
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").nth(1).wait_for(timeout=120_000)


def cell(page, i: int):
    return page.locator(".jp-NotebookPanel .jp-Cell .cm-content").nth(i)


@hub_e2e
def test_bob_accepts_alices_share_code_and_both_edit_one_notebook(hub: Hub, alice: dict, contexts, docker_client):
    from playwright.sync_api import expect

    # alice, in a kernel of her server: a share code through the hub's API with the server's token
    code = kernel_json(hub, alice["token"], "from chris_jupyter import Client\n"
                                            "print(json.dumps(Client().share_server_code(expires_in=3600)))")
    link = code["full_accept_url"]
    assert link.startswith(f"{hub.url}hub/accept-share?code="), code
    assert code["server"]["user"]["name"] == "alice" and code["scopes"] == ["access:servers!server=alice/"]
    listed = kernel_json(hub, alice["token"], "import subprocess\nprint(subprocess.run(['chris-jupyter', "
                         "'--json', 'share-server', '--list'], capture_output=True, text=True, check=True).stdout"
                         ".replace(chr(10), ' '))")
    assert code["id"] in [c["id"] for c in listed["codes"]] and listed["shares"] == []

    # alice opens her notebook
    a = contexts()
    a.goto(f"{hub.url}hub/login")
    hub_login_in_browser(a, "alice")
    a.wait_for_url(f"{hub.url}user/alice/**", timeout=120_000)
    open_notebook(a, hub)

    # bob opens the link: the hub's login, its invitation, then its "Authorize access" page
    b = contexts()
    b.goto(link)
    hub_login_in_browser(b, "bob")
    expect(b.locator("h1")).to_have_text("Accept sharing invitation", timeout=WAIT_MS)
    expect(b.locator("p.lead")).to_contain_text("invited to access alice's server")
    b.click("text=Accept invitation")
    expect(b.locator("h1")).to_have_text("Authorize access", timeout=WAIT_MS)
    b.click("button:has-text('Authorize')")
    b.wait_for_url(f"{hub.url}user/alice/**", timeout=120_000)
    open_notebook(b, hub)

    # in alice's server bob is bob to Jupyter, and alice to ChRIS (the server's own token)
    # (a fetch with the hub's cookie needs the server's _xsrf, as JupyterLab's own requests send it)
    # (a transient failure or non-JSON answer is asked again, up to 5 times; what came back is in the message)
    jupyter_me, chris_me = b.evaluate("""async () => {
        const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '');
        const get = async (url) => {
            const seen = [];
            for (let i = 0; i < 5; i++) {
                try {
                    const r = await fetch(url, {headers: {'X-XSRFToken': xsrf}});
                    const text = await r.text();
                    try { return JSON.parse(text); } catch (e) { seen.push(`${r.status} ${text.slice(0, 200)}`); }
                } catch (e) { seen.push(String(e)); }
                await new Promise((done) => setTimeout(done, 1000));
            }
            return {seen};
        };
        return [await get('/user/alice/api/me'), await get('/user/alice/chris/api/v1/me')];
    }""")
    assert jupyter_me.get("identity", {}).get("username") == "bob", jupyter_me
    if chris_me.get("username") != "alice":  # the logs go to the captured output (a message is cut short)
        print(server_logs(docker_client, hub, "alice", lines=200))
    assert chris_me.get("username") == "alice", chris_me

    # a viewer's crosshair in the shared server: the session is alice's (the ChRIS user), labelled with
    # who is at the page as alice's server says (bob), whatever the browser claims
    cursor_js = """async ([session, claim]) => {
        const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '');
        const headers = {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'};
        if (claim) headers['X-Chris-Viewer'] = claim;
        const r = await fetch('/user/alice/chris/api/v1/collab/cursor', {method: 'POST', headers,
            body: JSON.stringify({volume: 'path:home/alice', position: [1, 2, 3], session})});
        return [r.status, await r.text()];
    }"""
    status, text = b.evaluate(cursor_js, ["bob-page", "mallory"])
    assert status == 200, text
    assert (json.loads(text)["user"], json.loads(text).get("viewer")) == ("alice", "bob"), text
    status, text = a.evaluate(cursor_js, ["alice-page", None])
    assert status == 200 and "viewer" not in json.loads(text), text
    sessions = {s["session"]: s.get("viewer") for s in json.loads(text)["sessions"]}
    assert sessions == {"bob-page": "bob", "alice-page": None}, text

    # both type, each into a cell of the same notebook; each sees the other's edit
    cell(a, 0).click()
    a.keyboard.type("from_alice = 1")
    cell(b, 1).click()
    b.keyboard.type("from_bob = 2")
    expect(cell(b, 0)).to_contain_text("from_alice = 1", timeout=WAIT_MS)
    expect(cell(a, 1)).to_contain_text("from_bob = 2", timeout=WAIT_MS)

    # one document on alice's server: it saves both edits (jupyter-collaboration saves by itself)
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(f"{hub.url}user/alice/api/contents/{NOTEBOOK}", headers=auth(alice["token"]))
        sources = [c["source"] for c in r.json()["content"]["cells"]]
        if sources == ["from_alice = 1", "from_bob = 2"]:
            break
        assert time.monotonic() < deadline, f"alice's saved notebook has {sources}"
        time.sleep(1)
    r = httpx.get(f"{hub.url}hub/api/users/bob/shared", headers=auth(hub.token("bob")))
    assert [s["server"]["user"]["name"] for s in r.json()["items"]] == ["alice"], r.text

    # the ChRIS library panel in bob's page of alice's server follows alice's library live: a file
    # alice writes elsewhere (her hub token, straight to the service) shows up from the event stream,
    # which goes through the server with bob's cookie and _xsrf (never round the hub's login)
    b.click(".jp-SideBar [data-id='chris-library']")
    expect(b.locator(".chris-lab-library .chris-lab-row").first).to_be_visible(timeout=WAIT_MS)
    r = httpx.put(f"{hub.api}files/content", params={"path": "home/alice/written-elsewhere.txt"},
                  content=b"hello", headers=auth(alice["token"]))
    assert r.status_code == 201, r.text
    expect(b.locator(".chris-lab-library .chris-lab-name", has_text="written-elsewhere.txt")).to_be_visible(
        timeout=WAIT_MS)
    logs = server_logs(docker_client, hub, "alice", lines=2000)
    assert "-> /hub/api/oauth2/authorize" not in "\n".join(
        line for line in logs.splitlines() if "chris/api/v1/events" in line), logs


def server_logs(docker_client, hub: Hub, user: str, lines: int = 80) -> str:
    """The end of a user server's log and of the hub's, for a failure message."""
    try:
        container = docker_client.containers.get(f"{hub.container_prefix}-{user}")
        server = container.logs(tail=lines).decode(errors="replace")
    except Exception as e:  # the container is gone: say so
        server = f"(no log of {user}'s server: {e})"
    hub_log = "\n".join(hub.log.read_text(errors="replace").splitlines()[-lines:])
    return f"--- {user}'s server ---\n{server}\n--- the hub ---\n{hub_log}"


def accept_fails(hub: Hub, who: str, code: str) -> None:
    """``who`` tries ``code`` on the hub's accept page: a clear refusal, and no access to alice's server."""
    with contextlib.closing(hub.login(who)) as http:
        r = http.get("hub/accept-share", params={"code": code})
        assert r.status_code == 404 and "Share not found or expired" in r.text, (r.status_code, r.text[:500])
        r = http.post("hub/accept-share", data={"code": code, "_xsrf": http.cookies.get("_xsrf", path="/hub/")})
        assert r.status_code == 400 and "Invalid share code" in r.text, (r.status_code, r.text[:500])
        assert "Traceback" not in r.text
    token = hub.token(who)
    assert httpx.get(f"{hub.url}hub/api/users/{who}/shared", headers=auth(token)).json()["items"] == []
    assert httpx.get(f"{hub.url}user/alice/api/contents", headers=auth(token)).status_code == 403


@hub_e2e
def test_a_revoked_or_expired_code_and_a_revoked_share_give_no_access(hub: Hub, alice: dict):
    # revoked: made and revoked with the CLI in alice's server
    made = kernel_json(hub, alice["token"], "import subprocess\nout = subprocess.run(['chris-jupyter', "
                       "'--json', 'share-server', '--expires-in', '600'], capture_output=True, text=True, "
                       "check=True).stdout\nm = json.loads(out)\nsubprocess.run(['chris-jupyter', 'share-server', "
                       "'--revoke', m['code']], check=True)\nprint(json.dumps(m))")
    accept_fails(hub, "frank", made["code"])

    # expired: the 60-second code made when alice's server started
    short = alice["short_code"]
    left = datetime.fromisoformat(short["expires_at"].replace("Z", "+00:00")) - datetime.now(UTC)
    time.sleep(max(0.0, left.total_seconds()) + 1)
    accept_fails(hub, "frank", short["code"])

    # a share revoked: bob accepts a code (the form the accept page posts), then alice stops sharing;
    # a fresh token of bob's no longer opens her server (the server caches each token's check)
    code = kernel_json(hub, alice["token"], "from chris_jupyter import Client\n"
                                            "print(json.dumps(Client().share_server_code()['code']))")
    with contextlib.closing(hub.login("bob")) as http:
        r = http.post("hub/accept-share", data={"code": code, "_xsrf": http.cookies.get("_xsrf", path="/hub/")})
        assert r.status_code == 302 and "/user/alice/" in r.headers["location"], (r.status_code, r.text[:300])
    assert httpx.get(f"{hub.url}user/alice/api/contents", headers=auth(hub.token("bob"))).status_code == 200
    kernel_json(hub, alice["token"], "from chris_jupyter import Client\nClient().stop_sharing_server()\n"
                                     "print(json.dumps(Client().me()['username']))")
    bob = hub.token("bob")
    assert httpx.get(f"{hub.url}hub/api/users/bob/shared", headers=auth(bob)).json()["items"] == []
    assert httpx.get(f"{hub.url}user/alice/api/contents", headers=auth(bob)).status_code == 403

