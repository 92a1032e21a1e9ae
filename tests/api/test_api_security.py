"""Hostile input at the API edge: token lifetimes, names that lie, event streams that outlive their
credential, and a local-runner server that must not serve other people."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from .test_client_cli import cli


async def test_token_lifetime_must_be_positive_and_sane(api) -> None:
    owner = api.owner
    for bad in (-5, 0, -0.5, "abc", "nan", "inf", 1e308, True, [60], {"s": 1}):
        r = await owner.post("tokens", json={"name": "t", "expires_in": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert "expires_in" in r.json()["message"], r.text
    r = await owner.post("tokens", json={"name": "t", "expires_in": 60})
    assert r.status_code == 201 and r.json()["expires_at"], r.text
    r = await owner.post("tokens", json={"name": "t"})
    assert r.status_code == 201 and r.json()["expires_at"] is None, r.text
    # links share the parsing: an absurd lifetime is a 400, not a server error
    me = (await owner.get("me")).json()["username"]
    r = await owner.post("links", json={"path": f"home/{me}/uploads", "expires_in": 1e308})
    assert r.status_code == 400, r.text


async def test_control_and_format_characters_are_refused_not_rewritten(api) -> None:
    me, alice = await api.new_user("alice")
    up = f"home/{me}/uploads"
    refused = [f"{up}/a\x00b", f"{up}/\x00", f"{up}/a\x01b", f"{up}/a\x1fb", f"{up}/a\x85b",
               f"{up}/report\u202efdp.exe", f"{up}/a\u200bb", f"{up}/a\u2066b", f"{up}/\ufeffx"]
    for path in refused:
        r = await alice.put("files/content", params={"path": path}, content=b"x")
        assert r.status_code == 400, (path, r.status_code, r.text)
        r = await alice.post("files/folders", json={"path": path})
        assert r.status_code == 400, (path, r.status_code, r.text)
    r = await alice.put("files/content", params={"path": f"{up}/src"}, content=b"x")
    assert r.status_code == 201, r.text
    r = await alice.post("files/move", json={"src": f"{up}/src", "dst": f"{up}/gpj\u202e.exe"})
    assert r.status_code == 400 and "U+202E" in r.json()["message"], r.text
    # a lone surrogate in JSON is refused like the rest (not a server error)
    r = await alice.post("files/folders", content=json.dumps({"path": f"{up}/a\ud800"}).encode())
    assert r.status_code == 400, r.text
    # nothing was created under a rewritten name
    names = [e["name"] for e in (await alice.get("files", params={"path": up})).json()["items"]]
    assert names == ["src"], names
    # names are taken as sent: spaces are not stripped, joiners that scripts need are fine
    for name in ("t ", " lead", "a\u200db", "ok"):
        r = await alice.put("files/content", params={"path": f"{up}/{name}"}, content=b"y")
        assert r.status_code == 201 and r.json()["name"] == name, (name, r.text)
    names = {e["name"] for e in (await alice.get("files", params={"path": up})).json()["items"]}
    assert names == {"src", "t ", " lead", "a\u200db", "ok"}, names


async def _open_stream(client: httpx.AsyncClient, lines: asyncio.Queue[str | None]) -> None:
    async with client.stream("GET", "events") as resp:
        assert resp.status_code == 200, resp.status_code
        async for line in resp.aiter_lines():
            await lines.put(line)
    await lines.put(None)  # the server ended the stream


async def _next_line(lines: asyncio.Queue[str | None], startswith: str, bound: float = 30) -> str | None:
    """The next line starting with ``startswith`` (``None`` when the stream ended first)."""
    async def find() -> str | None:
        while (line := await lines.get()) is not None:
            if line.startswith(startswith):
                return line
        return None
    return await asyncio.wait_for(find(), bound)


async def _stream_until_closed(api, token: str, name: str, after_ready) -> list[str]:
    """Open a stream with ``token``, prove it delivers, run ``after_ready``; the lines after that."""
    client = api.client({"Authorization": f"Bearer {token}"})
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    task = asyncio.create_task(_open_stream(client, lines))
    try:
        assert await _next_line(lines, ": connected") is not None  # the server's readiness line
        writer = await api.as_user(name)  # a second token of the same user, still valid
        path = f"home/{name}/uploads/before.txt"
        assert (await writer.put("files/content", params={"path": path}, content=b"1")).status_code == 201
        assert path in (await _next_line(lines, "data: ") or "")
        await after_ready()
        # the stream ends within the bound (the test fails with a timeout if it never does)
        rest: list[str] = []

        async def drain() -> None:
            while (line := await lines.get()) is not None:
                rest.append(line)
        await asyncio.wait_for(drain(), 30)
        return rest
    finally:
        task.cancel()


async def test_event_stream_outlives_its_keepalives(api) -> None:
    """An idle stream stays open past a keep-alive and still delivers (it used to end there)."""
    name = f"sse{uuid.uuid4().hex[:6]}"
    client = await api.as_user(name)
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    task = asyncio.create_task(_open_stream(client, lines))
    try:
        assert await _next_line(lines, ": connected") is not None
        assert await _next_line(lines, ": keep-alive") is not None
        path = f"home/{name}/uploads/later.txt"
        assert (await client.put("files/content", params={"path": path}, content=b"1")).status_code == 201
        assert path in (await _next_line(lines, "data: ") or "")
    finally:
        task.cancel()


async def test_event_stream_ends_when_its_token_is_revoked(api) -> None:
    name = f"sse{uuid.uuid4().hex[:6]}"
    await api.as_user(name)
    tok = (await api.owner.post("tokens", json={"user": name, "name": "sse"})).json()

    async def revoke() -> None:
        assert (await api.owner.delete(f"tokens/{tok['id']}")).status_code == 204

    rest = await _stream_until_closed(api, tok["token"], name, revoke)
    closed = [json.loads(line[6:]) for line in rest if line.startswith("data: ")]
    assert closed and "revoked" in closed[-1]["reason"], rest
    assert "event: closed" in rest, rest


async def test_event_stream_ends_when_its_token_expires(api) -> None:
    name = f"sse{uuid.uuid4().hex[:6]}"
    await api.as_user(name)
    tok = (await api.owner.post("tokens", json={"user": name, "name": "sse", "expires_in": 15})).json()

    async def nothing() -> None:
        pass

    rest = await _stream_until_closed(api, tok["token"], name, nothing)
    closed = [json.loads(line[6:]) for line in rest if line.startswith("data: ")]
    assert closed and "expired" in closed[-1]["reason"], rest


LOCAL = ["--ChrisApp.runner=local"]
UNSAFE = ["--ChrisApp.unsafe_unconfined_jobs_for_all_users=True"]


async def test_local_runner_serves_only_its_embedded_user_and_admins(chris_server_factory) -> None:
    srv = chris_server_factory(extra_args=LOCAL)
    async with httpx.AsyncClient(base_url=srv.api, headers=srv.headers, timeout=60) as owner:
        assert (await owner.get("me")).status_code == 200
        r = await owner.post("users", json={"username": "bob"})
        assert r.status_code == 403, r.text
        assert "local" in r.json()["message"] and "Docker runner" in r.json()["message"], r.text
        r = await owner.post("tokens", json={"user": "bob"})
        assert r.status_code == 403 and "not served" in r.json()["message"], r.text
        assert "bob" not in [u["username"] for u in (await owner.get("users")).json()["items"]]
        assert not (srv.data_dir / "library" / "home" / "bob").exists()
        # administrators are trusted with the server's account: they may be added and served
        r = await owner.post("users", json={"username": "adm", "is_admin": True})
        assert r.status_code == 201, r.text
        r = await owner.post("tokens", json={"user": "adm"})
        assert r.status_code == 201, r.text
        async with httpx.AsyncClient(base_url=srv.api, timeout=60,
                                     headers={"Authorization": f"Bearer {r.json()['token']}"}) as adm:
            assert (await adm.get("me")).json()["username"] == "adm"
    # the CLI says why in one line
    r = cli(srv, srv.token, "user", "add", "carol")
    assert r.returncode == 1 and "Docker runner" in r.stderr and "Traceback" not in r.stderr, r.stderr


async def test_existing_users_are_refused_after_a_restart_with_the_local_runner(chris_server_factory) -> None:
    first = chris_server_factory(extra_args=LOCAL + UNSAFE)  # explicitly unsafe: every user served
    async with httpx.AsyncClient(base_url=first.api, headers=first.headers, timeout=60) as owner:
        assert (await owner.post("users", json={"username": "bob"})).status_code == 201
        bob_token = (await owner.post("tokens", json={"user": "bob"})).json()["token"]
    bob_headers = {"Authorization": f"Bearer {bob_token}"}
    assert httpx.get(first.api + "me", headers=bob_headers).status_code == 200
    first.stop()
    again = chris_server_factory(db_url=first.db_url, root=first.root, extra_args=LOCAL)
    r = httpx.get(again.api + "me", headers=bob_headers)
    assert r.status_code == 403 and "local" in r.json()["message"], r.text
    assert httpx.get(again.api + "me", headers=again.headers).status_code == 200
    assert "existing user(s) are refused" in again.tail(20000)
