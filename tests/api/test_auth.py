"""Every handler is authenticated and authorized, and users see only their own or shared data."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from chris_jupyter.api import all_handlers

METHODS = ("get", "head", "post", "put", "patch", "delete")


def routes() -> list[tuple[str, str, str]]:
    out = []
    for pattern, cls in all_handlers():
        url = pattern.split("chris/api/v1/", 1)[1]
        url = re.sub(r"\(\\d\+\)", "1", url)
        url = re.sub(r"\(chrislink_[^)]*\)", "chrislink_bogus", url)
        url = url.replace("([0-9.]+)", "1.2.3").replace("(.+)", "series:1.2.3").replace(r"([\w.\-]+)", "pacs1")
        for m in METHODS:
            if m in cls.__dict__:
                out.append((url, m, getattr(cls.__dict__[m], "__chris_auth__", "")))
    return out


def test_every_handler_method_is_decorated() -> None:
    missing = []
    for pattern, cls in all_handlers():
        for m in METHODS:
            if m in cls.__dict__ and getattr(cls.__dict__[m], "__chris_auth__", None) not in ("user", "link"):
                missing.append(f"{cls.__name__}.{m} ({pattern})")
    assert not missing, f"handler methods without @endpoint/@link_endpoint: {missing}"
    assert len(routes()) > 20


def test_each_api_area_is_its_own_authorization_resource() -> None:
    import sys

    from chris_jupyter.api import auth_resources

    for _pattern, cls in all_handlers():
        assert cls.auth_resource == sys.modules[cls.__module__].AUTH_RESOURCE, cls
        assert cls.auth_resource.startswith("chris:"), cls
    assert {"chris:files", "chris:compute", "chris:dicom", "chris:users"} <= auth_resources()


def test_an_authorizer_can_refuse_one_area_and_allow_the_others(chris_server_factory) -> None:
    srv = chris_server_factory(extra_args=["--ServerApp.authorizer_class=tests.api.area_authorizer.NoCompute"])
    with httpx.Client(base_url=srv.api, headers=srv.headers, timeout=60) as http:
        assert http.get("files", params={"path": "home/owner"}).status_code == 200
        assert http.get("plugins").status_code == 200
        assert http.get("instances").status_code == 403
        assert http.post("instances", json={}).status_code == 403
    srv.stop()


@pytest.mark.parametrize("url, method, kind", routes())
async def test_anonymous_and_bad_token_are_refused(api, url: str, method: str, kind: str) -> None:
    for client in (api.anonymous, api.client({"Authorization": "Bearer chris_not-a-real-token"})):
        r = await client.request(method.upper(), url, params={"path": "home"})
        if kind == "link":
            assert r.status_code in (401, 404), (url, method, r.status_code)
        else:
            assert r.status_code in (401, 403), (url, method, r.status_code, r.text)


async def test_users_see_only_their_own_or_shared_data(api) -> None:
    a, alice = await api.new_user("alice")
    b, bob = await api.new_user("bob")
    secret = f"home/{a}/uploads/secret/s.txt"
    assert (await alice.put("files/content", params={"path": secret}, content=b"s")).status_code == 201
    feed = (await alice.post("feeds", json={"name": "private feed"})).json()
    fid = feed["id"]
    refused = {401, 403, 404}
    checks = [
        ("GET", "files", {"params": {"path": f"home/{a}/uploads"}}),
        ("GET", "files/stat", {"params": {"path": secret}}),
        ("GET", "files/content", {"params": {"path": secret}}),
        ("HEAD", "files/content", {"params": {"path": secret}}),
        ("PUT", "files/content", {"params": {"path": f"home/{a}/uploads/x"}, "content": b"x"}),
        ("GET", "files/zip", {"params": {"path": f"home/{a}"}}),
        ("POST", "files/folders", {"json": {"path": f"home/{a}/uploads/mine"}}),
        ("POST", "files/move", {"json": {"src": secret, "dst": f"home/{b}/uploads/stolen"}}),
        ("DELETE", "files", {"params": {"path": secret}}),
        ("GET", f"feeds/{fid}", {}),
        ("PATCH", f"feeds/{fid}", {"json": {"note": "hi"}}),
        ("DELETE", f"feeds/{fid}", {}),
        ("GET", f"feeds/{fid}/comments", {}),
        ("POST", f"feeds/{fid}/comments", {"json": {"content": "x"}}),
        ("PUT", f"feeds/{fid}/tags", {"json": {"tags": ["x"]}}),
        ("POST", "shares", {"json": {"path": secret, "user": b}}),
        ("POST", "shares", {"json": {"feed_id": fid, "user": b}}),
        ("POST", "links", {"json": {"path": secret}}),
        ("GET", "users", {}),
        ("POST", "users", {"json": {"username": "mallory"}}),
        ("POST", "tokens", {"json": {"user": a}}),
    ]
    for method, url, kw in checks:
        r = await bob.request(method, url, **kw)
        assert r.status_code in refused, (method, url, r.status_code, r.text)
    # listings and searches don't show alice's things to bob
    assert a not in json.dumps((await bob.get("files", params={"path": "home"})).json())
    assert (await bob.get("search/files", params={"name": "s.txt"})).json()["total"] == 0
    assert all(f["id"] != fid for f in (await bob.get("feeds")).json()["items"])
    assert (await bob.get("shares")).json()["items"] == []
    # the data is intact
    assert (await alice.get("files/content", params={"path": secret})).content == b"s"
    # once shared, bob can read (but not write)
    r = await alice.post("shares", json={"path": f"home/{a}/uploads/secret", "user": b})
    assert r.status_code == 201, r.text
    assert (await bob.get("files/content", params={"path": secret})).content == b"s"
    assert (await bob.delete("files", params={"path": secret})).status_code == 403
    assert (await bob.get("search/files", params={"name": "s.txt"})).json()["total"] == 1


async def test_private_link_gives_anonymous_read_of_one_target(api) -> None:
    a, alice = await api.new_user("alice")
    await alice.put("files/content", params={"path": f"home/{a}/uploads/l/one.txt"}, content=b"1")
    await alice.put("files/content", params={"path": f"home/{a}/uploads/two.txt"}, content=b"2")
    r = await alice.post("links", json={"path": f"home/{a}/uploads/l", "expires_in": 600})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    anon = api.anonymous
    listing = (await anon.get(f"links/{token}/files")).json()
    assert [e["name"] for e in listing["items"]] == ["one.txt"]
    assert (await anon.get(f"links/{token}/content", params={"path": "one.txt"})).content == b"1"
    assert (await anon.get(f"links/{token}/content", params={"path": "../two.txt"})).status_code == 400
    assert (await anon.get(f"links/{token}/zip")).status_code == 200
    # a link is not an API token
    assert (await api.client({"Authorization": f"Bearer {token}"}).get("me")).status_code in (401, 403)
    await alice.delete(f"links/{r.json()['id']}")
    assert (await anon.get(f"links/{token}/files")).status_code == 404


async def test_event_stream_shows_each_user_only_their_events(api) -> None:
    a, alice = await api.new_user("alice")
    b, bob = await api.new_user("bob")
    seen: dict[str, list[dict]] = {a: [], b: []}
    connected = {a: asyncio.Event(), b: asyncio.Event()}
    got_one = {a: asyncio.Event(), b: asyncio.Event()}

    async def listen(name: str, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "events", params={"types": "file.created"}) as resp:
            async for line in resp.aiter_lines():
                if line.startswith(": connected"):  # the server has subscribed this stream
                    connected[name].set()
                if line.startswith("data: "):
                    seen[name].append(json.loads(line[6:]))
                    got_one[name].set()

    tasks = [asyncio.create_task(listen(a, alice)), asyncio.create_task(listen(b, bob))]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in connected.values())), 30)
    await alice.put("files/content", params={"path": f"home/{a}/uploads/ev.txt"}, content=b"e")
    await bob.put("files/content", params={"path": f"home/{b}/uploads/ev.txt"}, content=b"e")
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in got_one.values())), 30)
    finally:
        for t in tasks:
            t.cancel()
    assert [e["data"]["path"] for e in seen[a]] == [f"home/{a}/uploads/ev.txt"]
    assert [e["data"]["path"] for e in seen[b]] == [f"home/{b}/uploads/ev.txt"]


async def test_token_revocation_over_rest(api) -> None:
    """A token revoked with ``DELETE tokens/<id>`` stops working at once; only its owner (or an
    administrator) may revoke it, and a revoked token is gone from the owner's list."""
    a, alice = await api.new_user("alice")
    b, bob = await api.new_user("bob")
    r = await alice.post("tokens", json={"name": "laptop"})
    assert r.status_code == 201, r.text
    laptop_id, laptop = r.json()["id"], api.client({"Authorization": f"Bearer {r.json()['token']}"})
    r = await alice.post("tokens", json={"name": "spare"})
    spare_id, spare = r.json()["id"], api.client({"Authorization": f"Bearer {r.json()['token']}"})
    assert (await laptop.get("me")).json()["username"] == a
    assert (await bob.delete(f"tokens/{laptop_id}")).status_code == 404  # not bob's
    assert (await laptop.get("me")).status_code == 200
    assert (await alice.delete(f"tokens/{laptop_id}")).status_code == 204
    assert (await laptop.get("me")).status_code == 401
    assert (await laptop.put("files/content", params={"path": f"home/{a}/uploads/x.txt"}, content=b"x")
            ).status_code == 401
    assert (await alice.delete(f"tokens/{laptop_id}")).status_code == 404  # already revoked
    names = [t["name"] for t in (await alice.get("tokens")).json()["items"]]
    assert "laptop" not in names and "spare" in names
    assert (await api.owner.delete(f"tokens/{spare_id}")).status_code == 204  # an administrator may
    assert (await spare.get("me")).status_code == 401
    assert (await alice.get("me")).status_code == 200  # her other token still works
