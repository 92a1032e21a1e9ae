"""The sharing rules as a table: grantee kind × operation → allowed, or which refusal.

Alice owns ``home/alice/uploads/shared`` and a feed; each case shares both with a grantee in one
way (a user or a group, read or write, or public) and checks every operation the grantee might
try. The expected table is written out below, independently of the code:

- any share lets the grantee read, list, download, and run a plugin that *reads* the data;
- only a write share lets them change it (upload into, move inside, delete), pass it on (share
  onward, make public) or add a job to the shared feed (a job's output nests in the feed);
- a reader who tries to change something gets 403 (they know it exists); someone the data was
  not shared with gets 404 (they do not learn that it exists); a refused plugin run is a 400
  naming the parameter (``dir``, ``previous_id``), as every other bad run request;
- nobody but the owner (or an admin) moves data out of the owner's home: a write share lets
  you change alice's data in place, not take it.

Runs on the core (no server) on SQLite, plus the PACS-group, public-share and fixed-folder
rules. A smaller slice through REST is in ``tests/api/test_sharing_api.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.db.models import Share
from chris_jupyter.errors import BadRequest, Forbidden, NotFound

OK = "ok"
R403 = Forbidden
R404 = NotFound

SHARED = "home/alice/uploads/shared"

# operation -> expected outcome, per kind of access the grantee holds
OPS = ["read", "list", "download", "upload_into", "move_inside", "move_out", "delete",
       "share_onward", "make_public", "run_fs_on_path", "run_ds_on_feed"]
READER = {"read": OK, "list": OK, "download": OK, "upload_into": R403, "move_inside": R403,
          "move_out": R403, "delete": R403, "share_onward": R403, "make_public": R403,
          "run_fs_on_path": OK, "run_ds_on_feed": BadRequest}
WRITER = {**{op: OK for op in OPS}, "move_out": R403}
STRANGER = {op: R404 for op in OPS} | {"run_fs_on_path": BadRequest, "run_ds_on_feed": BadRequest}

GRANTS = {
    "user-read": ({"user": "bob"}, "read", READER),
    "user-write": ({"user": "bob"}, "write", WRITER),
    "group-read": ({"group": "radiology"}, "read", READER),
    "group-write": ({"group": "radiology"}, "write", WRITER),
    "public-read": ({"public": True}, "read", READER),
    "none": (None, None, STRANGER),
}

TOOL = "import os, sys\nos.makedirs(sys.argv[-1], exist_ok=True)\n"


def _descriptor(name: str, kind: str, tool: Path) -> dict:
    params = [{"name": "dir", "type": "path", "flag": "--dir", "optional": False,
               "help": "input paths"}] if kind == "fs" else []
    return {"name": name, "version": "1.0", "type": kind, "dock_image": f"local/{name}:1.0",
            "execshell": sys.executable, "selfpath": str(tool.parent), "selfexec": tool.name,
            "parameters": params}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """One backend (SQLite, local runner) holding alice's data, shared per case below."""
    root = tmp_path_factory.mktemp("sharing")
    tool = root / "tool.py"
    tool.write_text(TOOL)
    b = Backend(Settings(data_root=root / "data", db_url=f"sqlite:///{root / 'db.sqlite3'}",
                         runner="local", start_services=False, migrate=False))
    b.compute.start()
    admin = b.principal("root_admin", is_admin=True)
    for kind in ("fs", "ds"):
        b.compute.register(admin, descriptor=_descriptor(f"pl-m{kind}", kind, tool))
    alice = b.principal("alice")
    b.principal("carol")
    yield b, alice
    b.close()


def _upload(b: Backend, who, path: str, data: bytes = b"x") -> None:
    t = b.library.begin_upload(who, path)
    t.temp.write(data)
    b.library.finish_upload(t)


def _wait_final(b: Backend, who, iid: int) -> None:
    deadline = time.monotonic() + 60
    while b.compute.instance(who, iid)["state"] not in (
        "finishedSuccessfully", "finishedWithError", "cancelled"
    ):
        assert time.monotonic() < deadline, "job did not finish"
        b.compute.wait(who, iid, timeout=5)


def _operations(b: Backend, who, case: str, feed_root: int) -> dict[str, Callable[[], object]]:
    lib = b.library
    own = f"home/{who.username}/uploads"
    return {
        "read": lambda: lib.open_file(who, f"{SHARED}/a.txt"),
        "list": lambda: lib.list(who, SHARED),
        "download": lambda: lib.zip_names(who, SHARED),
        "upload_into": lambda: _upload(b, who, f"{SHARED}/new-{case}.txt"),
        "move_inside": lambda: lib.move(who, f"{SHARED}/m.txt", f"{SHARED}/sub/m.txt"),
        "move_out": lambda: lib.move(who, f"{SHARED}/t.txt", f"{own}/taken-{case}.txt"),
        "delete": lambda: lib.delete(who, f"{SHARED}/d.txt"),
        "share_onward": lambda: b.sharing.create(who, path=SHARED, user="carol"),
        "make_public": lambda: b.sharing.create(who, path=SHARED, public=True),
        "run_fs_on_path": lambda: b.compute.run(who, "pl-mfs", {"dir": SHARED}),
        "run_ds_on_feed": lambda: b.compute.run(who, "pl-mds", previous_id=feed_root),
    }


@pytest.mark.parametrize("case", list(GRANTS))
def test_sharing_matrix(world, case: str) -> None:
    b, alice = world
    with b.db.session() as s:  # no share left by an earlier case (one that failed, say)
        s.execute(delete(Share))
    # fresh copies of alice's files for this case
    b.library.delete(alice, SHARED) if _exists(b, alice, SHARED) else None
    for name in ("a.txt", "m.txt", "t.txt", "d.txt", "sub/b.txt"):
        _upload(b, alice, f"{SHARED}/{name}")
    root = b.compute.run(alice, "pl-mfs", {"dir": f"{SHARED}/a.txt"}, title=f"feed {case}")
    _wait_final(b, alice, root["id"])
    feed_id = root["feed_id"]

    grantee_name = f"g{case.replace('-', '')}"
    b.principal(grantee_name)
    target, permission, expected = GRANTS[case]
    if target is not None:
        target = dict(target)
        if "user" in target:
            target["user"] = grantee_name
        if "group" in target:
            b.users.add_to_group(grantee_name, f"grp{case.replace('-', '')}")
            target["group"] = f"grp{case.replace('-', '')}"
        shares = [b.sharing.create(alice, path=SHARED, permission=permission, **target),
                  b.sharing.create(alice, feed_id=feed_id, permission=permission, **target)]
    else:
        shares = []
    who = b.principal(grantee_name)
    ops = _operations(b, who, case, root["id"])
    got: dict[str, object] = {}
    for op in OPS:
        try:
            ops[op]()
            got[op] = OK
        except (Forbidden, NotFound, BadRequest) as e:
            got[op] = type(e)
    assert got == expected
    # what a refused operation must not have done
    names = {e.name for e in b.library.list(alice, SHARED).items}
    if expected["delete"] != OK:
        assert "d.txt" in names
    if expected["upload_into"] != OK:
        assert f"new-{case}.txt" not in names
    assert "t.txt" in names  # never taken out of alice's home
    for sh in shares:
        b.sharing.delete(alice, sh["id"])
    for sh in b.sharing.list(who):  # shares the grantee made onward
        if sh["created_by"] == who.username:
            b.sharing.delete(who, sh["id"])


def _exists(b: Backend, who, path: str) -> bool:
    try:
        b.library.stat(who, path)
        return True
    except NotFound:
        return False


def test_public_read_share_reaches_every_user_and_never_writes(backend, alice) -> None:
    _upload(backend, alice, "home/alice/uploads/open/a.txt", b"a")
    backend.sharing.create(alice, path="home/alice/uploads/open", public=True)
    for name in ("bob", "newcomer"):  # also a user created after the share was made
        who = backend.principal(name)
        assert backend.library.open_file(who, "home/alice/uploads/open/a.txt")[1].size == 1
        assert backend.library.search(who, name_contains="a.txt").total == 1
        with pytest.raises(Forbidden):
            _upload(backend, who, "home/alice/uploads/open/b.txt")
    with pytest.raises(BadRequest, match="read-only"):
        backend.sharing.create(alice, path="home/alice/uploads/open", public=True, permission="write")
    assert backend.library.grants(None).can_read("home/alice/uploads/open/a.txt") is False


def test_pacs_group_reads_services_pacs_only(backend, admin) -> None:
    disk = backend.store.makedirs("SERVICES/PACS/orthanc/P1/S1")
    (disk / "1.dcm").write_bytes(b"dicom")
    backend.library.register_files(["SERVICES/PACS/orthanc/P1/S1/1.dcm"])
    backend.principal("rad")
    backend.users.add_to_group("rad", "pacs_users")
    rad, bob = backend.principal("rad"), backend.principal("bob")
    lib = backend.library
    assert lib.open_file(rad, "SERVICES/PACS/orthanc/P1/S1/1.dcm")[1].size == 5
    assert [e.name for e in lib.list(rad, "SERVICES/PACS").items] == ["orthanc"]
    assert lib.search(rad, name_contains="1.dcm").total == 1
    with pytest.raises(Forbidden):
        _upload(backend, rad, "SERVICES/PACS/orthanc/P1/S1/2.dcm")
    with pytest.raises(Forbidden):
        lib.delete(rad, "SERVICES/PACS/orthanc/P1/S1/1.dcm")
    with pytest.raises(Forbidden):  # members read the PACS tree; they do not hand it out
        backend.sharing.create(rad, path="SERVICES/PACS/orthanc/P1", user="bob")
    for call in (lambda: lib.open_file(bob, "SERVICES/PACS/orthanc/P1/S1/1.dcm"),
                 lambda: lib.list(bob, "SERVICES/PACS")):
        with pytest.raises(NotFound):
            call()
    assert lib.search(bob, name_contains="1.dcm").total == 0
    # the admin may share a PACS study with one user
    backend.sharing.create(admin, path="SERVICES/PACS/orthanc/P1", user="bob")
    assert lib.open_file(bob, "SERVICES/PACS/orthanc/P1/S1/1.dcm")[1].size == 5


@pytest.mark.parametrize("path", [
    "home", "SERVICES", "SERVICES/PACS", "PIPELINES", "home/alice", "home/alice/uploads",
    "home/alice/feeds", "PIPELINES/alice",
])
def test_fixed_folders_are_never_moved_or_deleted(backend, alice, admin, path: str) -> None:
    if not _exists(backend, admin, "PIPELINES/alice"):
        backend.library.mkdir(admin, "PIPELINES/alice")
    dst = "home/alice/uploads/elsewhere"
    if dst.startswith(path + "/"):
        dst = "PIPELINES/alice/elsewhere"
    # alice may write her own fixed folders, so only the layout rule stops her there
    for who in (admin, alice) if backend.library.grants(alice).can_write(path) else (admin,):
        with pytest.raises(Forbidden, match="fixed layout"):
            backend.library.delete(who, path)
        with pytest.raises(Forbidden, match="fixed layout"):
            backend.library.move(who, path, dst)
    assert _exists(backend, admin, path)


def test_feed_folder_is_changed_through_the_feed_only(backend, alice) -> None:
    feed = backend.feeds.create(alice, "f")
    folder = feed["folder"]
    with pytest.raises(Forbidden, match="fixed layout"):
        backend.library.delete(alice, folder)
    with pytest.raises(Forbidden, match="fixed layout"):
        backend.library.move(alice, folder, "home/alice/uploads/feedcopy")
    backend.feeds.get(alice, feed["id"])  # still there
    # what is inside a feed folder is the user's to tidy
    backend.library.mkdir(alice, f"{folder}/notes")
    backend.library.delete(alice, f"{folder}/notes")
