"""One rule in one place: accounts in the core, the event-visibility rule beside the other access
rules, the LIKE/path-under-folder query helpers, and a guard that the merged rules stay merged."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import chris_jupyter
from chris_jupyter.errors import BadRequest, Forbidden, NotFound
from chris_jupyter.events import Event

PACKAGE = Path(chris_jupyter.__file__).parent


def upload(backend, who, path: str, data: bytes = b"x"):
    t = backend.library.begin_upload(who, path)
    t.temp.write(data)
    return backend.library.finish_upload(t)


def test_accounts_take_a_principal_decide_admin_rights_and_return_plain_data(backend, alice, admin) -> None:
    acc = backend.accounts
    assert acc.me(alice) == {"username": "alice", "is_admin": False, "groups": [], "auth": "token"}
    for refused in (lambda: acc.list_users(alice), lambda: acc.create_user(alice, "mallory"),
                    lambda: acc.issue_token(alice, user="bob")):
        with pytest.raises(Forbidden):
            refused()
    assert backend.users.get("mallory") is None and backend.users.get("bob") is None
    with pytest.raises(BadRequest, match="'username' is required"):
        acc.create_user(admin, "")
    made = acc.create_user(admin, "carol", groups=["radiology"])
    assert made == {"username": "carol", "is_admin": False, "groups": ["radiology"]}
    tok = acc.issue_token(admin, user="carol", name="cli")
    assert tok["user"] == "carol" and tok["token"].startswith("chris_")
    carol = backend.users.authenticate_token(tok["token"])
    assert [t["name"] for t in acc.tokens(carol)] == ["cli"] and "token" not in acc.tokens(carol)[0]
    with pytest.raises(NotFound):
        acc.revoke_token(alice, tok["id"])  # not hers
    acc.revoke_token(carol, tok["id"])
    assert acc.tokens(carol) == []
    users = acc.list_users(admin)
    assert "carol" in [u["username"] for u in users]
    json.dumps([made, tok, users])  # plain data: no ORM rows cross the core's edge


def test_event_visibility_is_an_access_rule(backend, alice, bob, admin) -> None:
    g_alice = backend.library.grants(alice)
    mine = Event(1, "file.created", {}, 0.0, path="home/alice/uploads/a")
    theirs = Event(2, "file.created", {}, 0.0, path="home/bob/uploads/b")
    addressed = Event(3, "job.updated", {}, 0.0, users=frozenset({"alice"}))
    nobody = Event(4, "job.updated", {}, 0.0)
    assert [g_alice.can_see(e) for e in (mine, theirs, addressed, nobody)] == [True, False, True, False]
    assert all(backend.library.grants(admin).can_see(e) for e in (mine, theirs, addressed, nobody))
    assert not backend.library.grants(bob).can_see(mine)


def test_like_wildcards_in_names_and_folders_are_literal(backend, alice) -> None:
    for p in ("home/alice/uploads/a_b/1.txt", "home/alice/uploads/aXb/2.txt", "home/alice/uploads/100%/3.txt",
              "home/alice/uploads/1000/4.txt"):
        upload(backend, alice, p)
    lib = backend.library
    up = "home/alice/uploads"
    assert [e.path for e in lib.search(alice, under=f"{up}/a_b").items] == [f"{up}/a_b/1.txt"]
    assert [e.path for e in lib.search(alice, under=f"{up}/100%").items] == [f"{up}/100%/3.txt"]
    assert [e.name for e in lib.list(alice, "home/alice/uploads", name_contains="A_").items] == ["a_b"]
    assert [e.name for e in lib.list(alice, "home/alice/uploads", name_contains="0%").items] == ["100%"]
    lib.delete(alice, "home/alice/uploads/a_b")
    assert lib.stat(alice, "home/alice/uploads/aXb/2.txt").kind == "file"  # not taken for a_b's child


# -- the merged rules stay merged ------------------------------------------------------------------

def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(PACKAGE)), ast.parse(p.read_text(), str(p)))
            for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts]


def test_each_merged_rule_is_written_once() -> None:
    like_calls, free_ports, zip_writers, resource_keys = [], [], [], []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "like":
                like_calls.append(rel)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "free_port" in node.name:
                free_ports.append(rel)
            if isinstance(node, ast.Attribute) and node.attr == "ZipFile":
                zip_writers.append(rel)
            if isinstance(node, ast.Constant) and node.value == "number_of_workers":
                resource_keys.append(rel)
    assert set(like_calls) == {"db/query.py"}, "SQL LIKE outside the query helpers"
    assert free_ports == ["utils/net.py"], "free_port written more than once"
    # compute/transfer.py: the pfcon wire archives (job folders, checked extraction), not library zips
    assert set(zip_writers) == {"library/store.py", "compute/transfer.py"}, "a zip archive built elsewhere"
    # served.py / runners/remote.py: pfcon's form-field names on the wire, not our resource keys
    assert set(resource_keys) <= {"plugins/descriptor.py", "compute/instances.py", "compute/served.py",
                                  "compute/runners/remote.py"}, "resource keys listed twice"


def test_what_a_feed_folder_is_is_one_path_rule(backend, alice, bob) -> None:
    from chris_jupyter import paths

    assert paths.feed_id_of("home/alice/feeds/feed_12") == 12
    assert [paths.feed_id_of(p) for p in ("home/alice/feeds/feed_x", "home/alice/feeds/feed_12/data",
                                          "home/alice/uploads/feed_12", "PIPELINES/feed_1")] == [None] * 4
    feed = backend.feeds.create(alice, "shared one by one")
    backend.library.mkdir(alice, "home/alice/feeds/feed_x")  # a folder with a feed-like name, not a feed
    for path in (feed["folder"], "home/alice/feeds/feed_x"):
        backend.sharing.create(alice, path=path, user="bob")
    assert [f["id"] for f in backend.feeds.list(bob).extra["items"]] == [feed["id"]]
