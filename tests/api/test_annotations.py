"""Live collaboration: annotations saved with author and time, and cursors, reach every viewer of
the same volume through the event stream — and nobody else."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx

from chris_jupyter.dicom import synth


async def test_annotations_and_cursors_reach_joined_viewers_only(api, tmp_path: Path) -> None:
    a, alice = await api.new_user("alice")
    b, bob = await api.new_user("bob")
    c, carol = await api.new_user("carol")
    info = synth.write_ct_series(tmp_path / "ct", n_slices=4, rows=16, cols=16,
                                 patient_id=f"C{uuid.uuid4().hex[:6]}")
    for p in info.paths:
        r = await alice.put("files/content", params={"path": f"home/{a}/uploads/ct/{p.name}"},
                            content=p.read_bytes())
        assert r.status_code == 201
    await alice.post("shares", json={"path": f"home/{a}/uploads/ct", "user": b})
    volume = f"series:{info.series_uid}"
    got: dict[str, list[dict]] = {b: [], c: []}
    connected = {b: asyncio.Event(), c: asyncio.Event()}
    bob_has_both = asyncio.Event()

    async def listen(name: str, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "events", params={"types": "annotation.created,viewer.cursor"}) as r:
            async for line in r.aiter_lines():
                if line.startswith(": connected"):  # the server has subscribed this stream
                    connected[name].set()
                if line.startswith("data: "):
                    got[name].append(json.loads(line[6:]))
                    if len(got[b]) >= 2:
                        bob_has_both.set()

    tasks = [asyncio.create_task(listen(b, bob)), asyncio.create_task(listen(c, carol))]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in connected.values())), 30)
    r = await alice.post("annotations", json={"volume": volume, "kind": "point", "points": [[1, 2, 3]],
                                              "text": "lesion?"})
    assert r.status_code == 201, r.text
    r = await alice.post("collab/cursor", json={"volume": volume, "position": [4, 5, 6], "session": "s1"})
    assert r.status_code == 200, r.text  # who we are and the live sessions (the caller's included)
    assert r.json() == {"user": a, "n": 1, "sessions": [{"volume": volume, "user": a, "session": "s1", "n": 1,
                                                          "position": [4.0, 5.0, 6.0]}]}
    try:
        await asyncio.wait_for(bob_has_both.wait(), 30)
    finally:
        for t in tasks:
            t.cancel()
    types = [e["type"] for e in got[b]]
    assert types == ["annotation.created", "viewer.cursor"]
    assert got[b][0]["data"]["author"] == a and got[b][0]["data"]["text"] == "lesion?"
    assert got[b][1]["data"]["position"] == [4.0, 5.0, 6.0]
    assert (got[b][1]["data"]["session"], got[b][1]["data"]["n"]) == ("s1", 1)
    # alice's page closes: it leaves, and the server lists no session of hers any more
    assert (await alice.post("collab/leave", json={"volume": volume, "session": "s1"})).status_code == 204
    assert (await bob.get("collab/peers", params={"volume": volume})).json() == {"user": b, "n": None,
                                                                                  "sessions": []}
    assert (await carol.get("collab/peers", params={"volume": volume})).status_code == 404
    assert got[c] == []  # carol may not read the series
    # saved: they reload with the series, for everyone who may read it
    items = (await bob.get("annotations", params={"volume": volume})).json()["items"]
    assert [(i["author"], i["text"]) for i in items] == [(a, "lesion?")]
    assert (await carol.get("annotations", params={"volume": volume})).status_code == 404
    # bad input gets clear messages
    r = await bob.post("annotations", json={"volume": volume, "kind": "distance", "points": [[1, 2, 3]]})
    assert r.status_code == 400 and "2 points" in r.json()["message"]
    r = await bob.post("annotations", json={"volume": volume, "kind": "star", "points": [[1, 2, 3]]})
    assert r.status_code == 400
    # only the author deletes
    assert (await bob.delete(f"annotations/{items[0]['id']}")).status_code == 400
    assert (await alice.delete(f"annotations/{items[0]['id']}")).status_code == 204


async def test_a_session_carries_who_is_at_its_page_as_a_label(api, tmp_path: Path) -> None:
    """``X-Chris-Viewer`` (set by a hub user's server when it forwards, see api/forward.py) labels
    the session; the user's own name, an overlong or unprintable value label nothing."""
    a, alice = await api.new_user("alice")
    info = synth.write_ct_series(tmp_path / "ct", n_slices=2, rows=8, cols=8, patient_id=f"V{uuid.uuid4().hex[:6]}")
    for p in info.paths:
        r = await alice.put("files/content", params={"path": f"home/{a}/uploads/ct/{p.name}"},
                            content=p.read_bytes())
        assert r.status_code == 201
    volume = f"series:{info.series_uid}"

    async def cursor(session: str, viewer: str | None) -> dict:
        headers = {} if viewer is None else {"X-Chris-Viewer": viewer}
        r = await alice.post("collab/cursor", json={"volume": volume, "position": [1, 2, 3], "session": session},
                             headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    reply = await cursor("guest", "bob")
    assert reply["viewer"] == "bob" and reply["user"] == a
    assert [(s["session"], s.get("viewer")) for s in reply["sessions"]] == [("guest", "bob")]
    for session, viewer in (("own", a), ("long", "x" * 65), ("odd", "bob\tmallory"), ("none", None)):
        reply = await cursor(session, viewer)
        assert "viewer" not in reply, (viewer, reply)
    labels = {s["session"]: s.get("viewer") for s in reply["sessions"]}
    assert labels == {"guest": "bob", "own": None, "long": None, "odd": None, "none": None}
    peers = (await alice.get("collab/peers", params={"volume": volume}, headers={"X-Chris-Viewer": "bob"})).json()
    assert peers["viewer"] == "bob"
