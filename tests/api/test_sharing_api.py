"""A slice of the sharing table (tests/core/test_sharing_matrix.py) through REST: the status
codes a reader, a writer, a group member, every user (public share) and a stranger get."""

from __future__ import annotations

import pytest

# operation -> expected status, per grantee
READER = {"read": 200, "list": 200, "zip": 200, "upload": 403, "delete": 403, "move_out": 403,
          "share_onward": 403, "make_public": 403}
WRITER = {"read": 200, "list": 200, "zip": 200, "upload": 201, "delete": 204, "move_out": 403,
          "share_onward": 201, "make_public": 201}
STRANGER = {op: 404 for op in READER}


@pytest.mark.parametrize(("kind", "permission", "expected"), [
    ("user", "read", READER), ("user", "write", WRITER), ("group", "read", READER),
    ("public", "read", READER), ("none", None, STRANGER),
])
async def test_sharing_slice_over_rest(api, kind: str, permission: str | None, expected: dict) -> None:
    owner_name, owner = await api.new_user("own")
    group = f"grp{owner_name}"
    grantee_name, grantee = await api.new_user("gr", groups=[group] if kind == "group" else [])
    base = f"home/{owner_name}/uploads/shared"
    for name in ("a.txt", "d.txt", "t.txt"):
        r = await owner.put("files/content", params={"path": f"{base}/{name}"}, content=b"abc")
        assert r.status_code == 201, r.text
    if kind != "none":
        target = {"user": grantee_name} if kind == "user" else {"group": group} if kind == "group" \
            else {"public": True}
        r = await owner.post("shares", json={"path": base, "permission": permission, **target})
        assert r.status_code == 201, r.text
    calls = {
        "read": lambda: grantee.get("files/content", params={"path": f"{base}/a.txt"}),
        "list": lambda: grantee.get("files", params={"path": base}),
        "zip": lambda: grantee.get("files/zip", params={"path": base}),
        "upload": lambda: grantee.put("files/content", params={"path": f"{base}/new.txt"}, content=b"n"),
        "delete": lambda: grantee.delete("files", params={"path": f"{base}/d.txt"}),
        "move_out": lambda: grantee.post("files/move", json={
            "src": f"{base}/t.txt", "dst": f"home/{grantee_name}/uploads/t.txt"}),
        "share_onward": lambda: grantee.post("shares", json={"path": base, "user": owner_name}),
        "make_public": lambda: grantee.post("shares", json={"path": base, "public": True}),
    }
    got = {}
    for op, call in calls.items():
        got[op] = (await call()).status_code
    assert got == expected
    r = await owner.get("files/content", params={"path": f"{base}/t.txt"})
    assert r.status_code == 200 and r.content == b"abc"  # never taken from the owner


async def test_share_events_reach_everyone_the_share_concerns(api) -> None:
    """``share.created`` reaches the user named, a group's members and, for a public share, every
    user (their streams reload their grants for it); ``share.deleted`` reaches the grantees named;
    a stranger hears of none of alice's private shares."""
    import asyncio
    import json

    a, alice = await api.new_user("own")
    group = f"grp{a}"
    b, bob = await api.new_user("usr")
    g, gina = await api.new_user("mem", groups=[group])
    s, stan = await api.new_user("str")
    base = f"home/{a}/uploads/ev"
    r = await alice.put("files/content", params={"path": f"{base}/a.txt"}, content=b"abc")
    assert r.status_code == 201, r.text
    heard: dict[str, list[tuple[str, object]]] = {b: [], g: [], s: []}
    connected = {name: asyncio.Event() for name in heard}

    async def listen(name: str, client) -> None:
        async with client.stream("GET", "events", params={"types": "share.created,share.deleted"}) as r:
            async for line in r.aiter_lines():
                if line.startswith(": connected"):
                    connected[name].set()
                if line.startswith("data: "):
                    ev = json.loads(line[6:])
                    d = ev["data"]
                    heard[name].append((ev["type"], d["user"] or d["group"] or ("public" if d["public"] else None)))

    tasks = [asyncio.create_task(listen(n, c)) for n, c in ((b, bob), (g, gina), (s, stan))]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in connected.values())), 30)
        made = []
        for target in ({"user": b}, {"group": group}, {"public": True}):
            r = await alice.post("shares", json={"path": base, **target})
            assert r.status_code == 201, r.text
            made.append(r.json()["id"])
        for sid in made[:2]:
            assert (await alice.delete(f"shares/{sid}")).status_code == 204
        want = {b: [("share.created", b), ("share.created", "public"), ("share.deleted", b)],
                g: [("share.created", group), ("share.created", "public"), ("share.deleted", group)],
                s: [("share.created", "public")]}
        for _ in range(300):
            if {n: heard[n] for n in want} == want:
                break
            await asyncio.sleep(0.1)
        assert heard == want
    finally:
        for t in tasks:
            t.cancel()
