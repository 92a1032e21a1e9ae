"""The CUBE-compatible API (``api/v1/``) given bad input, and its search filters, over HTTP
(no Docker needed): refusals are ``{"detail": …}`` with CUBE's status codes and write nothing.

One shared server with a 1000-byte upload limit (``small_upload_server``)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.api.cube import cube_modules
from tests.fixtures.cube_clients import client_python

JSON = {"Accept": "application/json"}
HERE = Path(__file__).parent / "cube_clients"


def new_user(srv, password: str) -> str:
    admin = Client(srv.url, srv.token)
    name = f"cubein{uuid.uuid4().hex[:6]}"
    admin.create_user(name)
    admin.set_password(name, password)
    return name


def library_files(srv) -> list[str]:
    lib = srv.data_dir / "library"
    return sorted(str(p.relative_to(lib)) for p in lib.rglob("*") if p.is_file())


def upload(url: str, auth: tuple[str, str], path: str, content: bytes, accept: dict | None = None) -> httpx.Response:
    return httpx.post(url + "uploadedfiles/", auth=auth, headers=accept if accept is not None else JSON,
                      data={"upload_path": path}, files={"fname": ("f.bin", content)}, timeout=60)


def test_oversized_uploads_are_refused_cube_shaped_and_leave_nothing(small_upload_server, tmp_path: Path) -> None:
    srv = small_upload_server
    password = "pw-" + uuid.uuid4().hex
    user = new_user(srv, password)
    url, auth = srv.url + "api/v1/", (user, password)
    before = library_files(srv)
    ok = upload(url, auth, f"{user}/uploads/lim/small.bin", b"s" * 100)
    assert ok.status_code == 201, ok.text
    # declared too large (Content-Length): 413 before the body is read, in both media types
    r = upload(url, auth, f"{user}/uploads/lim/big.bin", b"x" * 5000)
    assert r.status_code == 413 and "exceeds the limit of 1000 bytes" in r.json()["detail"], r.text
    r = upload(url, auth, f"{user}/uploads/lim/big.bin", b"x" * 5000, accept={})
    assert r.status_code == 413 and r.json()["collection"]["error"]["code"] == "413"

    # no Content-Length (chunked): counted as it arrives, refused with the same answer
    def chunked() -> Iterator[bytes]:
        yield (b'--b\r\nContent-Disposition: form-data; name="upload_path"\r\n\r\n'
               + f"{user}/uploads/lim/chunked.bin".encode()
               + b'\r\n--b\r\nContent-Disposition: form-data; name="fname"; filename="c.bin"\r\n\r\n')
        for _ in range(10):
            yield b"y" * 500
        yield b"\r\n--b--\r\n"

    r = httpx.post(url + "uploadedfiles/", auth=auth, content=chunked(), timeout=60,
                   headers={**JSON, "Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "exceeds the limit of 1000 bytes" in r.json()["detail"], r.text
    # the real aiochris reads it as its BadRequestError with CUBE's detail
    big = tmp_path / "big.bin"
    big.write_bytes(b"z" * 200_000)
    proc = subprocess.run([str(client_python("aiochris")), str(HERE / "aiochris_upload.py"), url, user, password,
                           str(big), "lim/aiochris.bin"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[:2] == ["BadRequestError", "413"] and "exceeds the limit" in proc.stdout
    assert library_files(srv) == sorted([*before, f"home/{user}/uploads/lim/small.bin"])
    assert list((srv.data_dir / "tmp").iterdir()) == []


def test_paths_outside_the_users_tree_and_unknown_plugins(small_upload_server) -> None:
    srv = small_upload_server
    password = "pw-" + uuid.uuid4().hex
    user, other = new_user(srv, password), new_user(srv, password)
    url, auth = srv.url + "api/v1/", (user, password)
    before = library_files(srv)
    for path, status in [("../../someone/uploads/x", 400), (f"{user}/../{other}/uploads/x", 400),
                         (f"{other}/uploads/x", 404), (f"home/{other}/uploads/x", 404),
                         ("SERVICES/PACS/x", 404), ("/etc/passwd", 404)]:
        for accept in (JSON, {}):
            r = upload(url, auth, path, b"no", accept)
            assert r.status_code == status, (path, r.text)
            assert isinstance(r.json()["detail"], str) and r.json()["detail"], r.text
    # another user's files are not found, not forbidden (nobody learns what others have)
    theirs = upload(url, (other, password), f"{other}/uploads/mine.txt", b"theirs")
    assert theirs.status_code == 201, theirs.text
    fid = theirs.json()["id"]
    for u in (f"files/{fid}/", f"files/{fid}/mine.txt"):
        r = httpx.get(url + u, auth=auth, headers=JSON)
        assert r.status_code == 404 and "detail" in r.json(), r.text
    r = httpx.get(url + "files/search/", params={"fname": f"{other}/uploads"}, auth=auth, headers=JSON)
    assert r.status_code == 200 and r.json()["count"] == 0
    # unknown plugins and plugin instances: 404 with detail; a search finds nothing
    for u in ("plugins/999999/", "plugins/instances/999999/", "plugins/999999/parameters/"):
        r = httpx.get(url + u, auth=auth, headers=JSON)
        assert r.status_code == 404 and r.json()["detail"], (u, r.text)
    r = httpx.post(url + "plugins/999999/instances/", auth=auth, headers=JSON, json={"dir": f"{user}/uploads"})
    assert r.status_code == 404 and r.json()["detail"], r.text
    r = httpx.get(url + "plugins/search/", params={"name_exact": "pl-nothing-such"}, auth=auth, headers=JSON)
    assert r.status_code == 200 and r.json()["count"] == 0
    assert library_files(srv) == sorted([*before, f"home/{other}/uploads/mine.txt"])
    assert list((srv.data_dir / "tmp").iterdir()) == []


@pytest.fixture(scope="module")
def tree(small_upload_server) -> tuple[str, tuple[str, str]]:
    """A user with files at several depths."""
    srv = small_upload_server
    password = "pw-" + uuid.uuid4().hex
    user = new_user(srv, password)
    url = srv.url + "api/v1/"
    for p in ("top.txt", "a/one.txt", "a/b/two.txt", "a/b/other.txt", "a/b/c/three.txt"):
        r = upload(url, (user, password), f"{user}/uploads/{p}", p.encode())
        assert r.status_code == 201, r.text
    return url, (user, password)


def search(url: str, auth: tuple[str, str], accept: dict, **params: str) -> list[str]:
    r = httpx.get(url + "files/search/", params={**params, "limit": 100}, auth=auth, headers=accept)
    assert r.status_code == 200, r.text
    if accept:
        return sorted(f["fname"] for f in r.json()["results"])
    items = r.json()["collection"]["items"]
    return sorted(next(d["value"] for d in i["data"] if d["name"] == "fname") for i in items)


def test_fname_nslashes_and_icontains_as_cube(tree) -> None:
    url, auth = tree
    u = auth[0]
    # CUBE 5 names (JSON clients): <user>/uploads/a/one.txt has 3 slashes
    assert search(url, auth, JSON, fname=f"{u}/uploads/", fname_nslashes="3") == [f"{u}/uploads/a/one.txt"]
    assert search(url, auth, JSON, fname_nslashes="2") == [f"{u}/uploads/top.txt"]
    assert search(url, auth, JSON, fname=f"{u}/uploads", fname_nslashes="4") == [
        f"{u}/uploads/a/b/other.txt", f"{u}/uploads/a/b/two.txt"]
    # 'u': one file per folder at that depth (how ChRIS_ui lists folders)
    one = search(url, auth, JSON, fname=f"{u}/uploads", fname_nslashes="4u")
    assert len(one) == 1 and one[0].startswith(f"{u}/uploads/a/b/")
    # CUBE 6 names (Collection+JSON clients, python-chrisclient): home/<user>/uploads/a/one.txt has 4
    assert search(url, auth, {}, fname=f"home/{u}/uploads", fname_nslashes="4") == [f"home/{u}/uploads/a/one.txt"]
    # fname_icontains: anywhere in the path, case-insensitive, either dialect's substring
    assert search(url, auth, JSON, fname_icontains=f"{u}/UPLOADS/a/b") == [
        f"{u}/uploads/a/b/c/three.txt", f"{u}/uploads/a/b/other.txt", f"{u}/uploads/a/b/two.txt"]
    assert search(url, auth, JSON, fname_icontains="three") == [f"{u}/uploads/a/b/c/three.txt"]
    r = httpx.get(url + "files/search/", params={"fname_nslashes": "x3"}, auth=auth, headers=JSON)
    assert r.status_code == 400 and "fname_nslashes" in r.json()["detail"]


def test_users_post_creates_accounts_for_administrators_only(small_upload_server) -> None:
    """CUBE's sign-up (``POST users/``, what aiochris's and python-chrisclient's create_user
    send): here only administrators create accounts."""
    srv = small_upload_server
    url = srv.url + "api/v1/"
    admin_pw = "pw-" + uuid.uuid4().hex
    admin_name = f"cubeadm{uuid.uuid4().hex[:6]}"
    Client(srv.url, srv.token).create_user(admin_name, is_admin=True)
    Client(srv.url, srv.token).set_password(admin_name, admin_pw)
    name = f"signup{uuid.uuid4().hex[:6]}"
    body = {"template": {"data": [{"name": "email", "value": "x@example.org"},
                                  {"name": "username", "value": name}, {"name": "password", "value": "pw-new-1"}]}}
    cj = {"Content-Type": "application/vnd.collection+json", **JSON}
    r = httpx.post(url + "users/", json=body, headers=cj)
    assert r.status_code == 401 and r.json()["detail"], r.text
    user_pw = "pw-" + uuid.uuid4().hex
    plain = new_user(srv, user_pw)
    r = httpx.post(url + "users/", json=body, headers=cj, auth=(plain, user_pw))
    assert r.status_code == 403 and "administrator" in r.json()["detail"], r.text
    r = httpx.post(url + "users/", json=body, headers=cj, auth=(admin_name, admin_pw))
    assert r.status_code == 201, r.text
    assert r.json()["username"] == name and isinstance(r.json()["id"], int)
    tok = httpx.post(url + "auth-token/", json={"username": name, "password": "pw-new-1"})
    assert tok.status_code == 200 and tok.json()["token"].startswith("chris_")
    r = httpx.post(url + "users/", json={"username": name, "password": "other"}, headers=JSON,
                   auth=(admin_name, admin_pw))
    assert r.status_code == 400 and "already exists" in r.json()["detail"], r.text
    r = httpx.post(url + "users/", json={"username": name + "x"}, headers=JSON, auth=(admin_name, admin_pw))
    assert r.status_code == 400 and "password" in r.json()["detail"], r.text


PCC_TAGS = """
import json, sys
from chrisclient.client import Client
cl = Client(sys.argv[1], sys.argv[2], sys.argv[3])
made = cl.create_tag({"name": "from-pcc", "color": "#00ff00"})
print(json.dumps({"made": made, "tags": cl.get_tags()["data"], "search": cl.get_tags({"name": "from-pcc"})["total"]}))
"""


def test_tags_and_taggings(small_upload_server) -> None:
    srv = small_upload_server
    password = "pw-" + uuid.uuid4().hex
    user, other = new_user(srv, password), new_user(srv, password)
    url, auth = srv.url + "api/v1/", (user, password)
    admin = Client(srv.url, srv.token)
    me = Client(srv.url, admin.create_token(user)["token"])
    fid = me.create_feed("tagged")["id"]
    r = httpx.post(url + "tags/", json={"name": "brain", "color": "#ff0000"}, auth=auth, headers=JSON)
    assert r.status_code == 201 and r.json()["name"] == "brain" and r.json()["color"] == "#ff0000", r.text
    tid = r.json()["id"]
    assert httpx.post(url + "tags/", json={"name": "brain"}, auth=auth, headers=JSON).json()["id"] == tid
    r = httpx.get(url + "tags/search/", params={"name": "brain"}, auth=auth, headers=JSON)
    assert [t["id"] for t in r.json()["results"]] == [tid]
    r = httpx.post(url + f"{fid}/taggings/", json={"tag_id": tid}, auth=auth, headers=JSON)
    assert r.status_code == 201 and r.json()["tag_id"] == tid and r.json()["feed_id"] == fid, r.text
    r = httpx.get(url + f"{fid}/tags/", auth=auth, headers=JSON)
    assert [t["name"] for t in r.json()["results"]] == ["brain"]
    assert [t["name"] for t in me.feed(fid)["tags"]] == ["brain"]  # the native API sees the same tags
    feed = httpx.get(url + f"{fid}/", auth=auth, headers=JSON).json()
    assert feed["tags"] == url + f"{fid}/tags/" and feed["taggings"] == url + f"{fid}/taggings/"
    # bad input and someone else's feed or tag: CUBE-shaped refusals
    r = httpx.post(url + f"{fid}/taggings/", json={"tag_id": "x"}, auth=auth, headers=JSON)
    assert r.status_code == 400 and "tag_id" in r.json()["detail"]
    r = httpx.post(url + "tags/", json={"color": "#fff"}, auth=auth, headers=JSON)
    assert r.status_code == 400 and "name" in r.json()["detail"]
    r = httpx.post(url + f"{fid}/taggings/", json={"tag_id": tid}, auth=(other, password), headers=JSON)
    assert r.status_code in (400, 404) and r.json()["detail"]
    assert httpx.get(url + f"{fid}/tags/", auth=(other, password), headers=JSON).status_code == 404
    assert httpx.get(url + f"tags/{tid}/", auth=(other, password), headers=JSON).status_code == 404
    # python-chrisclient's create_tag and get_tags (Collection+JSON)
    proc = subprocess.run([str(client_python("python-chrisclient")), "-c", PCC_TAGS, url, user, password],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["made"]["name"] == "from-pcc" and out["made"]["color"] == "#00ff00"
    assert sorted(t["name"] for t in out["tags"]) == ["brain", "from-pcc"] and out["search"] == 1


def _route_forms(pattern: str) -> list[str]:
    """A CUBE route's regex as OpenAPI-like paths with ``{}`` for each parameter, one per
    alternative of its ``(?:a|b)`` groups."""
    p = re.sub(r"\((?:\\d\+|\[\^/\]\+)\)", "{}", pattern.removeprefix("api/v1").removesuffix("?"))
    groups = re.findall(r"\(\?:([^)]*)\)", p)
    forms = []
    for combo in itertools.product(*[g.split("|") for g in groups]):
        q = p
        for alt in combo:
            q = re.sub(r"\(\?:[^)]*\)", alt, q, count=1)
        forms.append(q.rstrip("/"))
    return forms


def test_every_cube_route_is_in_the_openapi_document() -> None:
    documented = {re.sub(r"\{[^}]*\}", "{}", k).rstrip("/") for m in cube_modules()
                  for k in getattr(m, "openapi_paths", {})}
    missing = [pat for m in cube_modules() for pat, _ in m.default_handlers
               if not any(f in documented for f in _route_forms(pat))]
    assert not missing
