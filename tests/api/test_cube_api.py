"""The CUBE-compatible API (``api/v1/``) driven by the real ChRIS clients from PyPI, each run
unmodified from its own venv (made by ``scripts/install-deps --test``) against a real server
with the Docker runner and the reference plugins."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.api.cube import all_handlers
from chris_jupyter.api.cube.paths import from_cube, to_cube5
from tests.fixtures.cube_clients import (
    caw_flow,
    check_aiochris_flow,
    check_chrisclient_flow,
    register_flow_plugins,
    run_client,
    sample_folder,
)

pytestmark = pytest.mark.docker
METHODS = ("get", "head", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def registered(chris_server, build_image) -> Client:
    return register_flow_plugins(Client(chris_server.url, chris_server.token), build_image)


def new_user(admin: Client, password: str) -> str:
    name = f"cube{uuid.uuid4().hex[:6]}"
    admin.create_user(name)
    admin.set_password(name, password)
    return name


def test_paths_translate_both_ways() -> None:
    assert from_cube("alice/uploads/x/y.dcm") == "home/alice/uploads/x/y.dcm"
    assert from_cube("alice/feed_3/pl-dircopy_7/data/a") == "home/alice/feeds/feed_3/pl-dircopy_7/data/a"
    assert from_cube("home/alice/uploads/x") == "home/alice/uploads/x"
    assert from_cube("SERVICES/PACS/o/x") == "SERVICES/PACS/o/x"
    for p in ("home/alice/uploads/x/y.dcm", "home/alice/feeds/feed_3/pl-dircopy_7/data/a"):
        assert from_cube(to_cube5(p)) == p


def test_every_cube_route_is_decorated() -> None:
    missing = [f"{cls.__name__}.{m}" for _, cls in all_handlers() for m in METHODS
               if m in cls.__dict__ and getattr(cls.__dict__[m], "__chris_auth__", None) not in ("user", "login")]
    assert not missing


@pytest.mark.slow
def test_aiochris_flow(chris_server, registered, tmp_path: Path) -> None:
    password = "s3cret-" + uuid.uuid4().hex[:8]
    user = new_user(registered, password)
    local = sample_folder(tmp_path / "data")
    r = run_client("aiochris", "aiochris_flow.py", chris_server.url + "api/v1/", user, password,
                   str(local), str(tmp_path / "out"))
    assert "Unable to log in" in r["wrong_password"]
    check_aiochris_flow(r, user, local, tmp_path / "out", registered, chris_server.data_dir / "library")


@pytest.mark.slow
def test_python_chrisclient_flow(chris_server, registered, tmp_path: Path) -> None:
    password = "s3cret-" + uuid.uuid4().hex[:8]
    user = new_user(registered, password)
    local = sample_folder(tmp_path / "data")
    r = run_client("python-chrisclient", "chrisclient_flow.py", chris_server.url + "api/v1/", user,
                   password, str(local), str(tmp_path / "out"))
    assert r["wrong_password"] == "Unable to log in with provided credentials."
    assert r["token_prefix"] == "chris_"
    check_chrisclient_flow(r, user, local, tmp_path / "out", chris_server.data_dir / "library")


@pytest.mark.slow
def test_caw_login_upload_search_pipeline(chris_server, registered, tmp_path: Path) -> None:
    password = "s3cret-" + uuid.uuid4().hex[:8]
    user = new_user(registered, password)
    me = Client(chris_server.url, registered.create_token(user)["token"])
    caw_flow(chris_server.url + "api/v1/", user, password, registered, me, tmp_path)


def test_auth_errors_are_cube_shaped(chris_server, registered) -> None:
    password = "pw-" + uuid.uuid4().hex
    user = new_user(registered, password)
    url = chris_server.url + "api/v1/"
    # Basic auth, as python-chrisclient sends it on every request
    ok = httpx.get(url, auth=(user, password), headers={"Accept": "application/json"})
    assert ok.status_code == 200 and "uploadedfiles" in ok.json()["collection_links"]
    cj = httpx.get(url, auth=(user, password))
    assert cj.headers["content-type"].startswith("application/vnd.collection+json")
    assert {link["rel"] for link in cj.json()["collection"]["links"]} >= {"userfiles", "plugins", "user"}
    bad = httpx.get(url, auth=(user, "wrong"))
    assert bad.status_code == 401 and "detail" in bad.json()
    assert httpx.get(url).json()["detail"] == "Authentication credentials were not provided."
    assert httpx.get(url, headers={"Authorization": "Token chris_nope"}).status_code == 401
    # no XSRF token is needed for the login, and the token works as 'Token …'
    tok = httpx.post(url + "auth-token/", json={"username": user, "password": password})
    assert tok.status_code == 200, tok.text
    me = httpx.get(url + "plugins/", headers={"Authorization": "Token " + tok.json()["token"],
                                              "Accept": "application/json"})
    assert me.status_code == 200 and me.json()["count"] >= 2
    # chris-jupyter user passwd sets a password (here read from standard input)
    import sys

    cli = subprocess.run([sys.executable, "-m", "chris_jupyter.cli", "--url", chris_server.url, "--token",
                          chris_server.token, "user", "passwd", user, "--password-stdin"],
                         input="a-new-password\n", capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert httpx.get(url, auth=(user, "a-new-password")).status_code == 200
    assert httpx.get(url, auth=(user, password)).status_code == 401
    # a per-user login rate limit: after repeated wrong passwords even the right one waits
    other = new_user(registered, password)
    for _ in range(5):
        r = httpx.post(url + "auth-token/", json={"username": other, "password": "nope-nope"})
        assert r.status_code == 400 and "detail" in r.json()
    r = httpx.post(url + "auth-token/", json={"username": other, "password": password})
    assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
    basic = base64.b64encode(f"{other}:{password}".encode()).decode()
    assert httpx.get(url, headers={"Authorization": "Basic " + basic}).status_code == 429
    # the first user is not affected
    assert httpx.post(url + "auth-token/", json={"username": user, "password": "a-new-password"}).status_code == 200
