"""The library core on SQLite and PostgreSQL (``db_url``): no server involved."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from chris_jupyter.errors import BadRequest, Conflict, Forbidden, NotFound
from chris_jupyter.paths import InvalidPath


def upload(backend, who, path: str, data: bytes, overwrite: bool = False):
    t = backend.library.begin_upload(who, path, overwrite=overwrite)
    t.temp.write(data)
    return backend.library.finish_upload(t)


def test_new_user_gets_home_layout(backend, alice) -> None:
    page = backend.library.list(alice, "home/alice")
    assert [e.name for e in page.items] == ["feeds", "uploads"]
    assert (backend.store.root / "home/alice/uploads").is_dir()


def test_upload_appears_atomically_and_lists(backend, alice) -> None:
    t = backend.library.begin_upload(alice, "home/alice/uploads/scan/a.dcm")
    t.temp.write(b"x" * 1000)
    # Before commit: neither on disk nor in the DB.
    assert not (backend.store.root / "home/alice/uploads/scan/a.dcm").exists()
    with pytest.raises(NotFound):
        backend.library.stat(alice, "home/alice/uploads/scan/a.dcm")
    entry = backend.library.finish_upload(t)
    assert entry.size == 1000 and entry.owner == "alice"
    assert (backend.store.root / "home/alice/uploads/scan/a.dcm").read_bytes() == b"x" * 1000
    assert backend.library.stat(alice, "home/alice/uploads/scan").kind == "folder"


def test_aborted_upload_leaves_nothing(backend, alice) -> None:
    t = backend.library.begin_upload(alice, "home/alice/uploads/b.bin")
    t.temp.write(b"partial")
    backend.library.abort_upload(t)
    assert not any(backend.store.tmp.iterdir())
    assert not (backend.store.root / "home/alice/uploads/b.bin").exists()


def test_upload_conflicts(backend, alice) -> None:
    upload(backend, alice, "home/alice/uploads/c.txt", b"1")
    with pytest.raises(Conflict, match="already exists"):
        backend.library.begin_upload(alice, "home/alice/uploads/c.txt")
    upload(backend, alice, "home/alice/uploads/c.txt", b"22", overwrite=True)
    assert backend.library.stat(alice, "home/alice/uploads/c.txt").size == 2
    with pytest.raises(Conflict, match="is a file"):
        backend.library.begin_upload(alice, "home/alice/uploads/c.txt/d")
    with pytest.raises(Conflict, match="folder exists"):
        backend.library.begin_upload(alice, "home/alice/uploads")


@pytest.mark.parametrize("bad", ["/home/alice/x", "home/alice/../bob/x", "home/alice/a\x00"])
def test_bad_paths_touch_nothing(backend, alice, bad: str) -> None:
    before = sorted(p for p in backend.store.root.rglob("*"))
    with pytest.raises(InvalidPath):
        backend.library.begin_upload(alice, bad)
    assert sorted(p for p in backend.store.root.rglob("*")) == before


def test_pagination_with_total(backend, alice) -> None:
    backend.library.mkdir(alice, "home/alice/uploads/many/sub")
    backend.library.register_files([])
    for i in range(25):
        upload(backend, alice, f"home/alice/uploads/many/f{i:03d}", b"")
    p1 = backend.library.list(alice, "home/alice/uploads/many", limit=10, offset=0)
    p3 = backend.library.list(alice, "home/alice/uploads/many", limit=10, offset=20)
    assert p1.total == 26 and p3.total == 26
    assert p1.items[0].kind == "folder" and p1.items[1].name == "f000"
    assert [e.name for e in p3.items] == [f"f{i:03d}" for i in range(19, 25)]
    filt = backend.library.list(alice, "home/alice/uploads/many", name_contains="F01")
    assert filt.total == 10


def test_move_rename_delete(backend, alice) -> None:
    upload(backend, alice, "home/alice/uploads/d/x/1.txt", b"1")
    upload(backend, alice, "home/alice/uploads/d/x/2.txt", b"2")
    backend.library.move(alice, "home/alice/uploads/d", "home/alice/uploads/e")
    assert backend.library.list(alice, "home/alice/uploads/e/x").total == 2
    assert (backend.store.root / "home/alice/uploads/e/x/2.txt").read_bytes() == b"2"
    with pytest.raises(NotFound):
        backend.library.stat(alice, "home/alice/uploads/d")
    backend.library.move(alice, "home/alice/uploads/e/x/1.txt", "home/alice/uploads/one.txt")
    assert backend.library.stat(alice, "home/alice/uploads/one.txt").size == 1
    with pytest.raises(BadRequest, match="into itself"):
        backend.library.move(alice, "home/alice/uploads/e", "home/alice/uploads/e/inner")
    backend.library.delete(alice, "home/alice/uploads/e")
    assert not (backend.store.root / "home/alice/uploads/e").exists()
    with pytest.raises(NotFound):
        backend.library.stat(alice, "home/alice/uploads/e/x/2.txt")
    with pytest.raises(Forbidden, match="fixed layout"):
        backend.library.delete(alice, "home/alice/uploads")


def test_users_are_isolated(backend, alice, bob) -> None:
    upload(backend, alice, "home/alice/uploads/secret.txt", b"s")
    for call in (
        lambda: backend.library.stat(bob, "home/alice/uploads/secret.txt"),
        lambda: backend.library.list(bob, "home/alice/uploads"),
        lambda: backend.library.open_file(bob, "home/alice/uploads/secret.txt"),
        lambda: backend.library.zip_names(bob, "home/alice"),
        lambda: backend.library.delete(bob, "home/alice/uploads/secret.txt"),
        lambda: backend.library.move(bob, "home/alice/uploads/secret.txt", "home/bob/uploads/s"),
        lambda: backend.library.begin_upload(bob, "home/alice/uploads/new.txt"),
    ):
        with pytest.raises(NotFound):
            call()
    assert [e.name for e in backend.library.list(bob, "home").items] == ["bob"]
    assert backend.library.search(bob, name_contains="secret").total == 0
    assert backend.library.search(alice, name_contains="secret").total == 1


def test_share_with_user_group_public_and_revoke(backend, alice, bob) -> None:
    upload(backend, alice, "home/alice/uploads/study/1.dcm", b"1")
    sh = backend.sharing.create(alice, path="home/alice/uploads/study", user="bob")
    assert backend.library.stat(bob, "home/alice/uploads/study/1.dcm").size == 1
    # bob sees the way there, and only that
    assert [e.name for e in backend.library.list(bob, "home").items] == ["alice", "bob"]
    assert [e.name for e in backend.library.list(bob, "home/alice").items] == ["uploads"]
    assert [e.name for e in backend.library.list(bob, "home/alice/uploads").items] == ["study"]
    with pytest.raises(Forbidden):  # read share: no writing
        backend.library.delete(bob, "home/alice/uploads/study/1.dcm")
    assert backend.library.search(bob, name_contains="1.dcm").total == 1
    backend.sharing.delete(alice, sh["id"])
    with pytest.raises(NotFound):
        backend.library.stat(bob, "home/alice/uploads/study/1.dcm")
    # group write share
    backend.users.add_to_group("bob", "radiology")
    bob2 = backend.principal("bob")
    backend.sharing.create(alice, path="home/alice/uploads/study", group="radiology", permission="write")
    upload(backend, bob2, "home/alice/uploads/study/2.dcm", b"2")
    assert backend.library.stat(alice, "home/alice/uploads/study/2.dcm").owner == "alice"
    with pytest.raises(BadRequest, match="read-only"):
        backend.sharing.create(alice, path="home/alice/uploads/study", public=True, permission="write")
    with pytest.raises(NotFound):  # bob may not share alice's data onwards as if he owned it... only readers
        backend.sharing.create(backend.principal("carol"), path="home/alice/uploads/study", user="carol")


def test_private_link_expires_and_is_confined(backend, alice) -> None:
    upload(backend, alice, "home/alice/uploads/l/a.txt", b"a")
    upload(backend, alice, "home/alice/uploads/other.txt", b"o")
    link = backend.sharing.create_link(alice, path="home/alice/uploads/l",
                                       expires_in=dt.timedelta(hours=1))
    who, target = backend.sharing.link_principal(link["token"])
    assert target == "home/alice/uploads/l"
    assert backend.library.open_file(who, "home/alice/uploads/l/a.txt")[1].size == 1
    with pytest.raises(NotFound):
        backend.library.open_file(who, "home/alice/uploads/other.txt")
    with pytest.raises(Forbidden):
        backend.library.begin_upload(who, "home/alice/uploads/l/b.txt")
    backend.sharing.revoke_link(alice, link["id"])
    with pytest.raises(NotFound, match="expired or was revoked"):
        backend.sharing.link_principal(link["token"])
    short = backend.sharing.create_link(alice, path="home/alice/uploads/l",
                                        expires_in=dt.timedelta(microseconds=1))
    with pytest.raises(NotFound):
        backend.sharing.link_principal(short["token"])


def test_zip_of_folder(backend, alice) -> None:
    upload(backend, alice, "home/alice/uploads/z/a.txt", b"a" * 10)
    upload(backend, alice, "home/alice/uploads/z/s/b.txt", b"b" * 20)
    names = backend.library.zip_names(alice, "home/alice/uploads/z")
    data = b"".join(backend.store.iter_zip("home/alice/uploads/z", names=names))
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(zf.namelist()) == ["z/a.txt", "z/s/b.txt"]
    assert zf.read("z/s/b.txt") == b"b" * 20


def test_register_tree_is_idempotent(backend, alice) -> None:
    out = backend.store.makedirs("home/alice/feeds/feed_9/pl-x_1/data/sub")
    (out / "r.txt").write_text("r")
    (out.parent / "top.txt").write_text("t")
    assert backend.library.register_tree("home/alice/feeds/feed_9/pl-x_1") == 2
    assert backend.library.register_tree("home/alice/feeds/feed_9/pl-x_1") == 0
    assert backend.library.stat(alice, "home/alice/feeds/feed_9/pl-x_1/data/sub/r.txt").owner == "alice"


def test_search_filters(backend, alice) -> None:
    upload(backend, alice, "home/alice/uploads/s/brain.nii", b"1")
    upload(backend, alice, "home/alice/uploads/t/lung.nii", b"2")
    lib = backend.library
    assert lib.search(alice, name_contains="BRAIN").total == 1
    assert lib.search(alice, under="home/alice/uploads/t").items[0].name == "lung.nii"
    assert lib.search(alice, path="home/alice/uploads/s/brain.nii").total == 1
    assert lib.search(alice, owner="alice").total == 2
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert lib.search(alice, created_after=future).total == 0
    assert lib.search(alice, created_before=future).total == 2


def test_feeds_note_comments_tags_and_sharing(backend, alice, bob) -> None:
    feed = backend.feeds.create(alice, "brain study")
    assert feed["folder"] == f"home/alice/feeds/feed_{feed['id']}"
    backend.feeds.update(alice, feed["id"], note="first pass")
    with pytest.raises(NotFound):
        backend.feeds.get(bob, feed["id"])
    assert backend.feeds.list(bob).total == 0
    backend.sharing.create(alice, feed_id=feed["id"], user="bob", permission="write")
    assert backend.feeds.get(bob, feed["id"])["access"] == "write"
    assert backend.feeds.list(bob).total == 1
    backend.feeds.add_comment(bob, feed["id"], content="looks good")
    assert [c["author"] for c in backend.feeds.comments(alice, feed["id"])] == ["bob"]
    tagged = backend.feeds.set_tags(alice, feed["id"], ["brain", "t1", "brain"])
    assert sorted(t["name"] for t in tagged["tags"]) == ["brain", "t1"]
    with pytest.raises(NotFound):
        backend.feeds.delete(bob, feed["id"])
    backend.feeds.delete(alice, feed["id"])
    assert not (backend.store.root / feed["folder"]).exists()


def test_tokens_hashed_revocable_expiring(backend, alice) -> None:
    tok, clear = backend.users.issue_token("alice", name="cli")
    assert clear.startswith("chris_") and clear not in tok.token_hash
    assert backend.users.authenticate_token(clear).username == "alice"
    assert backend.users.revoke_token("alice", tok.id)
    from chris_jupyter.identity import AuthError

    with pytest.raises(AuthError, match="revoked"):
        backend.users.authenticate_token(clear)
    _, short = backend.users.issue_token("alice", expires_in=dt.timedelta(microseconds=1))
    with pytest.raises(AuthError, match="expired"):
        backend.users.authenticate_token(short)


def test_parallel_uploads_into_one_new_folder(backend, alice) -> None:
    """Clients upload a folder's files in parallel threads (caw: 4): the first uploads into a
    new folder all create its row; the losers of that race must use the winner's row, not fail."""
    from concurrent.futures import ThreadPoolExecutor

    lib = backend.library

    def upload(path: str) -> str:
        t = lib.begin_upload(alice, path)
        t.temp.write(b"x")
        return lib.finish_upload(t).path

    for round_ in range(6):
        names = [f"home/alice/uploads/r{round_}/deep/er/f{i}.txt" for i in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sorted(pool.map(upload, names)) == sorted(names)
        assert lib.list(alice, f"home/alice/uploads/r{round_}/deep/er").total == 8
