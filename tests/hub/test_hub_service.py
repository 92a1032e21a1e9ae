"""The ChRIS backend as a JupyterHub service, end to end through a real hub and its proxy."""

from __future__ import annotations

import contextlib
import io
import time
import uuid

import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.client import NotFoundError

from .conftest import ADMIN, REFERENCE_PREFIX, Hub

# the first session after a change to chris_jupyter rebuilds the single-user image (minutes)
pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(1800)]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, str]:
    return {name: hub.token(name) for name in ("alice", "bob", ADMIN)}


def test_health_needs_no_credential_and_tells_nothing(hub: Hub) -> None:
    r = httpx.get(hub.service_url + "health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "service": "chris"}


def test_a_new_hub_registers_the_reference_plugin_images_that_are_built(hub: Hub, tokens: dict[str, str],
                                                                        reference_image: str) -> None:
    plugins = {p["name"]: p["dock_image"] for p in Client(hub.service_url, tokens["alice"]).plugins()}
    assert plugins.get("pl-dcm2png", "").startswith(REFERENCE_PREFIX), plugins
    log = hub.log.read_text(errors="replace")
    assert "reference plugin images not built (skipped): pl-dcm2nifti, pl-dircopy" in log, log[-3000:]


def test_no_credential_is_401_and_a_browser_is_sent_to_the_hub_login(hub: Hub) -> None:
    r = httpx.get(hub.api + "files", params={"path": "home"})
    assert r.status_code == 401
    assert "JupyterHub token" in r.json()["message"]
    assert httpx.get(hub.service_url + "metrics").status_code != 200
    r = httpx.get(hub.service_url + "login")
    assert r.status_code == 302
    assert "/hub/api/oauth2/authorize" in r.headers["Location"]


def test_invalid_hub_token_is_401(hub: Hub) -> None:
    r = httpx.get(hub.api + "me", headers=auth("not-a-hub-token"))
    assert r.status_code == 401


def test_token_without_the_access_scope_is_403(hub: Hub) -> None:
    limited = hub.token("alice", scopes=["read:users:name!user=alice"])
    r = httpx.get(hub.api + "me", headers=auth(limited))
    assert r.status_code == 403
    assert "access:services!service=chris" in r.text


def test_token_with_only_the_access_scope_works(hub: Hub) -> None:
    """A kernel's token carries little besides the access scope; admin and groups come from the hub."""
    narrow = hub.token("alice", scopes=["access:services!service=chris"])
    r = httpx.get(hub.api + "me", headers=auth(narrow))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "alice" and r.json()["auth"] == "hub"


def test_alice_uploads_and_lists_bob_gets_404(hub: Hub, tokens: dict[str, str]) -> None:
    name = f"scan-{uuid.uuid4().hex[:8]}.txt"
    path = f"home/alice/{name}"
    alice = Client(hub.service_url, tokens["alice"])
    alice.upload(io.BytesIO(b"alice's data"), path, progress=False)
    listed = [e["name"] for e in alice.ls("home/alice")["items"]]
    assert name in listed
    assert alice.read_bytes(path) == b"alice's data"

    r = httpx.get(hub.api + "files/content", params={"path": path}, headers=auth(tokens["bob"]))
    assert r.status_code == 404
    assert "alice's data" not in r.text
    r = httpx.get(hub.api + "files/stat", params={"path": path}, headers=auth(tokens["bob"]))
    assert r.status_code == 404


@pytest.mark.parametrize("path", ["api/kernels", "api/contents", "api/sessions", "api/terminals",
                                  "api/kernelspecs", "terminals/websocket/1", "api/me", "lab", "tree"])
def test_the_service_runs_no_code_for_users(hub: Hub, tokens: dict[str, str], path: str) -> None:
    """The service owns the Docker engine: its Jupyter server offers no kernels, terminals or files."""
    r = httpx.post(hub.service_url + path, headers=auth(tokens[ADMIN]), json={"name": "python3"})
    assert r.status_code in (403, 404, 405), (r.status_code, r.text[:300])
    r = httpx.get(hub.service_url + path, headers=auth(tokens[ADMIN]))
    assert r.status_code in (403, 404), (r.status_code, r.text[:300])


def test_forged_identity_headers_are_ignored(hub: Hub, tokens: dict[str, str]) -> None:
    forged = {"X-Remote-User": "alice", "X-Forwarded-User": "alice", "X-Forwarded-For": "10.0.0.1",
              "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "REMOTE_USER": "alice"}
    r = httpx.get(hub.api + "me", headers={**auth(tokens["bob"]), **forged})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "bob"
    # and without a token the forged headers identify no one
    r = httpx.get(hub.api + "me", headers=forged)
    assert r.status_code == 401


def test_hub_admin_is_chris_admin_and_others_are_not(hub: Hub, tokens: dict[str, str]) -> None:
    me = httpx.get(hub.api + "me", headers=auth(tokens[ADMIN])).json()
    assert me["username"] == ADMIN and me["is_admin"] is True
    me = httpx.get(hub.api + "me", headers=auth(tokens["bob"])).json()
    assert me["is_admin"] is False
    # the ChRIS admin sees the users the hub's identities created
    r = httpx.get(hub.api + "users", headers=auth(tokens[ADMIN]))
    assert r.status_code == 200
    assert {"alice", "bob", ADMIN} <= {u["username"] for u in r.json()["items"]}
    assert httpx.get(hub.api + "users", headers=auth(tokens["bob"])).status_code == 403


def test_hub_groups_are_chris_groups(hub: Hub, tokens: dict[str, str]) -> None:
    group = f"radiology{uuid.uuid4().hex[:6]}"
    admin = auth(tokens[ADMIN])
    r = httpx.post(f"{hub.url}hub/api/groups/{group}", json={"users": ["alice"]}, headers=admin)
    assert r.status_code == 201, r.text
    # a fresh token: the hub's answer for a token is cached by the service
    fresh = hub.token("alice")
    me = httpx.get(hub.api + "me", headers=auth(fresh)).json()
    assert group in me["groups"]


def test_sharing_with_a_hub_user_or_group_the_service_has_not_seen_yet(hub: Hub, tokens: dict[str, str]) -> None:
    """ChRIS creates hub users on their first request; a share with a colleague who has not made
    one yet (or with a hub group none of whose members has) asks the hub, and works."""
    tag = uuid.uuid4().hex[:6]
    newcomer, group = f"newcomer{tag}", f"neuro{tag}"
    admin = auth(tokens[ADMIN])
    assert httpx.post(f"{hub.url}hub/api/users/{newcomer}", headers=admin).status_code == 201
    r = httpx.post(f"{hub.url}hub/api/groups/{group}", json={"users": [newcomer]}, headers=admin)
    assert r.status_code == 201, r.text
    known = {u["username"] for u in httpx.get(hub.api + "users", headers=admin).json()["items"]}
    assert newcomer not in known  # never called the service
    alice = Client(hub.service_url, tokens["alice"])
    folder = f"home/alice/for-{newcomer}"
    alice.upload(io.BytesIO(b"for the newcomer"), f"{folder}/a.txt", progress=False)
    assert alice.share(folder, user=newcomer)["user"] == newcomer
    other = f"home/alice/for-{group}"
    alice.upload(io.BytesIO(b"for the group"), f"{other}/b.txt", progress=False)
    assert alice.share(other, group=group)["group"] == group
    theirs = auth(hub.token(newcomer))  # the newcomer's first request: both shares reach them
    for path, body in ((f"{folder}/a.txt", b"for the newcomer"), (f"{other}/b.txt", b"for the group")):
        r = httpx.get(hub.api + "files/content", params={"path": path}, headers=theirs)
        assert r.status_code == 200 and r.content == body, r.text
    # names the hub does not know either: the same clear 404 as before
    with pytest.raises(NotFoundError, match="no such user"):
        alice.share(folder, user=f"nobody{tag}")
    with pytest.raises(NotFoundError, match="no such group"):
        alice.share(folder, group=f"nogroup{tag}")


def test_backend_api_tokens_are_refused_in_hub_mode(hub: Hub, tokens: dict[str, str]) -> None:
    """The hub is the one source of identity: a user removed from the hub must lose access."""
    r = httpx.post(hub.api + "tokens", json={"name": "cli"}, headers=auth(tokens["alice"]))
    assert r.status_code == 201, r.text
    backend_token = r.json()["token"]
    r = httpx.get(hub.api + "me", headers={"Authorization": f"Bearer {backend_token}"})
    assert r.status_code == 403
    assert "JupyterHub" in r.text


def test_browser_logs_in_through_hub_oauth(hub: Hub) -> None:
    with contextlib.closing(hub.login("alice")) as http:
        r = http.get("services/chris/login", follow_redirects=True)
        assert r.status_code == 200, r.text
        assert "<b id='user'>alice</b>" in r.text
        # the OAuth cookie now authenticates API calls from the browser
        r = http.get("services/chris/chris/api/v1/me")
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "alice"
        # a cookie-authenticated write without the XSRF token is refused
        folder = {"path": f"home/alice/web-{uuid.uuid4().hex[:6]}"}
        r = http.post("services/chris/chris/api/v1/files/folders", json=folder)
        assert r.status_code == 403
        # with the service's XSRF token (cookie set by the page) it goes through
        xsrf = http.cookies.get("_xsrf", path="/services/chris/")
        r = http.post("services/chris/chris/api/v1/files/folders", json=folder, headers={"X-XSRFToken": xsrf})
        assert r.status_code == 201, r.text


def test_a_user_server_token_reaches_the_service_as_its_user(hub: Hub, tokens: dict[str, str]) -> None:
    """``c.Spawner.server_token_scopes``: the token a user server (and its kernels) gets carries the
    service's access scope, so a kernel calls ChRIS as its user with no password in its environment."""
    admin = auth(tokens[ADMIN])
    r = httpx.post(f"{hub.url}hub/api/users/bob/server", headers=admin, timeout=60)
    assert r.status_code in (201, 202), r.text
    try:
        deadline = time.monotonic() + 120
        while True:
            model = httpx.get(f"{hub.url}hub/api/users/bob", headers=admin).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                break
            assert time.monotonic() < deadline, f"bob's server did not become ready: {model}"
            time.sleep(0.5)
        toks = httpx.get(f"{hub.url}hub/api/users/bob/tokens", headers=admin).json()["api_tokens"]
        server_tokens = [t for t in toks if t.get("note", "").startswith("Server at")]
        assert server_tokens, toks
        assert "access:services!service=chris" in server_tokens[-1]["scopes"]
        # the user server answers through the proxy; its ChRIS routes (client mode) are the service's, as bob
        r = httpx.get(f"{hub.url}user/bob/api/status", headers=auth(tokens["bob"]), timeout=60)
        assert r.status_code == 200, r.text
        r = httpx.get(f"{hub.url}user/bob/chris/api/v1/me", headers=auth(tokens["bob"]), timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "bob" and r.json()["auth"] == "hub"
    finally:
        r = httpx.delete(f"{hub.url}hub/api/users/bob/server", headers=admin, timeout=60)
        assert r.status_code in (202, 204), r.text


def test_token_checks_are_cached_not_a_hub_round_trip_per_call(hub: Hub) -> None:
    """The hub logs each token lookup (``GET /hub/api/user``); twenty calls with one token cost one."""
    token = hub.token("alice")

    def lookups() -> int:
        return hub.log.read_text(errors="replace").count("GET /hub/api/user (alice@")

    before = lookups()
    for _ in range(20):
        assert httpx.get(hub.api + "me", headers=auth(token)).status_code == 200
    assert lookups() - before == 1
