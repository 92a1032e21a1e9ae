"""The native feeds API as the Lab panel uses it: note, comments, tags and the feed search by
name and tag, against a real server."""

from __future__ import annotations


async def test_note_comments_tags_and_search_by_tag(api) -> None:
    name, me = await api.new_user("feeds")
    ids = []
    for title in ("brain CT", "knee MR", "brain MR"):
        r = await me.post("feeds", json={"name": title})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    brain_ct, knee, brain_mr = ids

    # tags: set, replaced, created as needed; a bad body is refused with a message
    r = await me.put(f"feeds/{brain_ct}/tags", json={"tags": ["Neuro", "ct", "neuro "]})
    assert r.status_code == 200, r.text
    assert sorted(t["name"] for t in r.json()["tags"]) == ["Neuro", "ct", "neuro"]
    r = await me.put(f"feeds/{brain_ct}/tags", json={"tags": ["Neuro", "CT"]})
    assert sorted(t["name"] for t in r.json()["tags"]) == ["CT", "Neuro"]
    await me.put(f"feeds/{brain_mr}/tags", json={"tags": ["Neuro"]})
    r = await me.put(f"feeds/{knee}/tags", json={"tags": "msk"})
    assert r.status_code == 400 and "list of tag names" in r.json()["message"]

    # the search: by tag (any case; every tag given must be there), with the name filter
    async def found(**params) -> list[int]:
        r = await me.get("feeds", params=params)
        assert r.status_code == 200, r.text
        return [f["id"] for f in r.json()["items"]]

    assert await found(tag="neuro") == [brain_mr, brain_ct]
    assert await found(tag=["neuro", "ct"]) == [brain_ct]
    assert await found(tag="neuro", name="MR") == [brain_mr]
    assert await found(tag="msk") == []
    assert await found(name="knee") == [knee]

    # the note
    r = await me.patch(f"feeds/{knee}", json={"note": "left knee, follow-up in May"})
    assert r.status_code == 200 and r.json()["note"] == "left knee, follow-up in May"
    r = await me.patch(f"feeds/{knee}", json={"note": 3})
    assert r.status_code == 400 and "'note' must be a string" in r.json()["message"]
    assert (await me.get(f"feeds/{knee}")).json()["note"] == "left knee, follow-up in May"

    # comments, oldest first; an empty one is refused with a message
    for text in ("first look", "segmentation looks off"):
        r = await me.post(f"feeds/{knee}/comments", json={"content": text})
        assert r.status_code == 201, r.text
    r = await me.post(f"feeds/{knee}/comments", json={"content": "  "})
    assert r.status_code == 400 and "needs some content" in r.json()["message"]
    r = await me.get(f"feeds/{knee}/comments")
    assert [(c["author"], c["content"]) for c in r.json()["items"]] == [
        (name, "first look"), (name, "segmentation looks off")]

    # another user finds none of these feeds, by tag or otherwise, and cannot comment
    _, other = await api.new_user("feedsother")
    r = await other.get("feeds", params={"tag": "neuro"})
    assert r.json()["items"] == []
    r = await other.post(f"feeds/{knee}/comments", json={"content": "hi"})
    assert r.status_code == 404
