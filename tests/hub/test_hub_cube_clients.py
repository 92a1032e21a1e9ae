"""The CUBE-compatible API of the hub service (``/services/chris/api/v1/``) with hub tokens: the real
aiochris, python-chrisclient and caw run the same flow as against the embedded server
(``tests/fixtures/cube_clients.py``), each logged in with a JupyterHub API token of a fresh hub
user that carries only the service's access scope. On the session's one hub."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import httpx
import pytest

from chris_jupyter import Client
from tests.fixtures.cube_clients import (
    caw_flow,
    check_aiochris_flow,
    check_chrisclient_flow,
    register_flow_plugins,
    run_client,
    sample_folder,
)

from .conftest import ADMIN, Hub

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(1800)]
SCOPE = "access:services!service=chris"
JSON = {"Accept": "application/json"}


def hub_user(hub: Hub, prefix: str) -> tuple[str, str]:
    """A new hub user (the demo authenticator lets anyone in) and a hub token of theirs with only
    the service's access scope, made through the hub's REST API."""
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    return name, hub.token(name, scopes=[SCOPE])


def token(value: str) -> dict[str, str]:
    return {"Authorization": f"Token {value}", **JSON}


@pytest.fixture(scope="module")
def hub_admin(hub: Hub, build_image) -> Client:
    """The hub admin's native client, with pl-dircopy and pl-noop registered on the service."""
    return register_flow_plugins(Client(hub.service_url, hub.token(ADMIN)), build_image)


def test_hub_mode_credentials(hub: Hub, hub_admin: Client) -> None:
    """In hub mode the hub is the one source of identity on ``api/v1/`` too: a hub token as
    ``Token``, or as the password of ``auth-token/`` and HTTP Basic (then ``auth-token/`` answers
    that same token; nothing is minted); ChRIS passwords and ``chris_…`` tokens are refused."""
    cube = hub.service_url + "api/v1/"
    user, tok = hub_user(hub, "cubeauth")
    other, other_tok = hub_user(hub, "cubeauth")
    r = httpx.get(cube, headers=token(tok))
    assert r.status_code == 200, r.text
    me = httpx.get(r.json()["collection_links"]["user"], headers=token(tok))
    assert me.status_code == 200 and me.json()["username"] == user
    r = httpx.post(cube + "auth-token/", json={"username": user, "password": tok})
    assert r.status_code == 200 and r.json() == {"token": tok}
    assert httpx.get(cube, auth=(user, tok), headers=JSON).status_code == 200
    # another user's hub token is no password of this one
    r = httpx.post(cube + "auth-token/", json={"username": user, "password": other_tok})
    assert r.status_code == 400 and "JupyterHub API token" in r.json()["non_field_errors"][0]
    assert httpx.get(cube, auth=(other, tok), headers=JSON).status_code == 401
    # a ChRIS password, even one an administrator set, is not consulted
    hub_admin.set_password(user, "a-chris-password")
    r = httpx.post(cube + "auth-token/", json={"username": user, "password": "a-chris-password"})
    assert r.status_code == 400 and "JupyterHub" in r.json()["detail"]
    r = httpx.get(cube, auth=(user, "a-chris-password"), headers=JSON)
    assert r.status_code == 401 and "JupyterHub" in r.json()["detail"]
    # a backend token (chris_…), which the native API hands out, is refused here
    backend = httpx.post(hub.api + "tokens", json={"name": "cli"}, headers={"Authorization": f"token {tok}"})
    assert backend.status_code == 201, backend.text
    assert backend.json()["token"].startswith("chris_")
    r = httpx.get(cube, headers=token(backend.json()["token"]))
    assert r.status_code == 401 and "chris_" in r.json()["detail"] and "JupyterHub" in r.json()["detail"]
    r = httpx.post(cube + "auth-token/", json={"username": user, "password": backend.json()["token"]})
    assert r.status_code == 400
    # bad or limited hub tokens
    for bad, status in [("not-a-hub-token", 401),
                        (hub.token(user, scopes=[f"read:users:name!user={user}"]), 403)]:
        r = httpx.get(cube, headers=token(bad))
        assert r.status_code == status and r.json()["detail"], r.text
    # wrong guesses count towards the per-user login limit, as passwords do
    third, third_tok = hub_user(hub, "cubeauth")
    for _ in range(5):
        assert httpx.post(cube + "auth-token/", json={"username": third, "password": "guess"}).status_code == 400
    r = httpx.post(cube + "auth-token/", json={"username": third, "password": third_tok})
    assert r.status_code == 429 and "detail" in r.json()
    basic = base64.b64encode(f"{third}:{third_tok}".encode()).decode()
    assert httpx.get(cube, headers={"Authorization": "Basic " + basic}).status_code == 429
    # the hub token as a Token still works (no password involved)
    assert httpx.get(cube, headers=token(third_tok)).status_code == 200


def test_aiochris_flow_with_a_hub_token(hub: Hub, hub_admin: Client, tmp_path: Path) -> None:
    user, tok = hub_user(hub, "cubeaio")
    local = sample_folder(tmp_path / "data")
    r = run_client("aiochris", "aiochris_flow.py", hub.service_url + "api/v1/", user, tok,
                   str(local), str(tmp_path / "out"), "token")
    assert "JupyterHub API token" in r["wrong_password"]
    assert r["wrong_token"] == "UnauthorizedError"
    assert r["token_as_password"] == user
    check_aiochris_flow(r, user, local, tmp_path / "out", hub_admin, hub.data_root / "library")


def test_python_chrisclient_flow_with_a_hub_token(hub: Hub, tmp_path: Path, hub_admin: Client) -> None:
    user, tok = hub_user(hub, "cubepcc")
    local = sample_folder(tmp_path / "data")
    r = run_client("python-chrisclient", "chrisclient_flow.py", hub.service_url + "api/v1/", user, tok,
                   str(local), str(tmp_path / "out"), "token")
    assert "JupyterHub API token" in r["wrong_password"] and "Invalid token" in r["wrong_token"]
    assert r["token_is_password"] is True
    check_chrisclient_flow(r, user, local, tmp_path / "out", hub.data_root / "library")


def test_caw_with_a_hub_token_as_password(hub: Hub, hub_admin: Client, tmp_path: Path) -> None:
    """caw logs in only with a password: in hub mode that is the hub token (``auth-token/`` answers
    it back, and caw keeps it as its session token)."""
    user, tok = hub_user(hub, "cubecaw")
    caw_flow(hub.service_url + "api/v1/", user, tok, hub_admin, Client(hub.service_url, tok), tmp_path)
