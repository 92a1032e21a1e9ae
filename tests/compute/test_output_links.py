"""Issue 8.1 end to end: a plugin that bob runs writes symbolic links to alice's images into its
output. Through a real server, with the local runner and with the Docker runner:

- the links that lead out of the instance's output folder are removed at registration, with a
  note in the instance's log; a link inside the folder stays; provenance and listings agree;
- nothing of alice's is served: volumes (folder link, file link, link to a non-DICOM file),
  content, zip, indexing and annotations; a link that appears later (made by hand here) is
  refused with a 4xx that does not say where it leads.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.client import ChrisApiError
from chris_jupyter.dicom import synth

UP = "../" * 7  # from home/bob/feeds/feed_N/pl-dircopy_A/pl-testbox_B/data to the library root


@pytest.fixture(scope="module")
def local_server(chris_server_factory, plugin_bin: Path):
    # Two ordinary users on the local runner: only with the explicit opt-out (it does not confine
    # jobs); the point here is that a hostile plugin still cannot hand bob alice's data.
    srv = chris_server_factory(extra_args=["--ChrisApp.runner=local",
                                           "--ChrisApp.unsafe_unconfined_jobs_for_all_users=True"])
    admin = Client(srv.url, srv.token)
    for exe in ("dircopy", "testbox"):
        admin.register_plugin(executable=str(plugin_bin / exe))
    return srv


@pytest.fixture(scope="module")
def docker_server(chris_server_factory, plugin_image):
    srv = chris_server_factory(extra_args=["--ChrisApp.runner=docker"])
    admin = Client(srv.url, srv.token)
    for name in ("pl-dircopy", "pl-testbox"):
        admin.register_plugin(image=plugin_image(name))
    return srv


def _users(srv) -> Iterator[tuple[str, Client, str, Client]]:
    admin = Client(srv.url, srv.token)
    alice, bob = f"alice{uuid.uuid4().hex[:6]}", f"bob{uuid.uuid4().hex[:6]}"
    out = []
    for name in (alice, bob):
        admin.create_user(name)
        out += [name, Client(srv.url, admin.create_token(name)["token"])]
    return out  # type: ignore[return-value]


def _status(fn) -> tuple[int, str]:
    try:
        fn()
    except ChrisApiError as e:
        return e.status, str(e)
    return 200, ""


def attack(srv, tmp_path: Path) -> None:
    alice, ca, bob, cb = _users(srv)
    synth.write_ct_series(tmp_path / "ct", n_slices=4, rows=16, cols=16)
    ca.upload(tmp_path / "ct", f"home/{alice}/uploads/ct", progress=False)
    (tmp_path / "secret.txt").write_text("alice's secret\n")
    ca.upload(tmp_path / "secret.txt", f"home/{alice}/uploads/secret.txt", progress=False)
    one = sorted(os.listdir(tmp_path / "ct"))[0]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("bob's\n")
    cb.upload(tmp_path / "mine", f"home/{bob}/uploads/mine", progress=False)

    parent = cb.wait(cb.run("pl-dircopy", {"dir": f"home/{bob}/uploads/mine"})["id"], timeout=300)
    assert parent["state"] == "finishedSuccessfully", cb.logs(parent["id"])
    links = {
        "linkdir": f"{UP}home/{alice}/uploads/ct",
        "linkfile.dcm": f"{UP}home/{alice}/uploads/ct/{one}",
        "linktext.nii": f"{UP}home/{alice}/uploads/secret.txt",
        "inner.json": "record.json",  # stays inside the output folder: kept
    }
    job = cb.run("pl-testbox", {"mode": "links", "text": ";".join(f"{k}={v}" for k, v in links.items())},
                 previous_id=parent["id"])
    done = cb.wait(job["id"], timeout=300)
    assert done["state"] == "finishedSuccessfully", (done, cb.logs(job["id"]))
    out = done["output_path"]
    assert out.count("/") + 1 == UP.count("/"), out  # the links above really reach alice's home
    disk = srv.data_dir / "library" / out

    # (a) registration: the links out of the output folder are gone, with a note; listings,
    # provenance and the count agree
    assert sorted(os.listdir(disk)) == ["inner.json", "record.json"]
    assert (disk / "inner.json").is_symlink()
    log = cb.logs(job["id"])
    assert "removed 3 symbolic link(s) that pointed outside this instance's output folder" in log, log
    assert "linkdir" in log and alice not in log
    listed = sorted(e["path"] for e in cb.walk_folder(out) if e["kind"] == "file")
    assert listed == [f"{out}/record.json"]
    assert cb.provenance(job["id"])["output_files"] == listed
    assert done["output_count"] == 1
    for name in ("linkdir", "linkfile.dcm", "linktext.nii"):
        code, _ = _status(lambda n=name: cb.volume_bytes(f"path:{out}/{n}"))
        assert code == 404, name

    # (b) a link that appears after registration (the local runner cannot stop a plugin from
    # writing one later): refused everywhere a file is opened, with no hint of its target
    os.symlink(f"{UP}home/{alice}/uploads/ct", disk / "late")
    os.symlink(f"{UP}home/{alice}/uploads/ct/{one}", disk / "late.dcm")
    os.symlink(f"{UP}home/{alice}/uploads/secret.txt", disk / "late.nii")
    for name in ("late", "late.dcm", "late.nii"):
        code, msg = _status(lambda n=name: cb.volume_bytes(f"path:{out}/{n}"))
        assert code == 400 and "symbolic link" in msg, (name, code, msg)
        assert alice not in msg and "uploads" not in msg and "secret" not in msg, msg
        code, msg = _status(lambda n=name: cb.annotate(f"path:{out}/{n}", [[0, 0, 0]]))
        assert code == 400 and alice not in msg, (name, code, msg)
    code, msg = _status(lambda: cb.post("dicom/index", {"path": f"{out}/late"}))
    assert code == 400 and alice not in msg, msg
    assert cb.studies()["items"] == []  # nothing of alice's was indexed under bob's folder
    # a registered file whose folder is swapped for a link later
    os.rename(disk / "record.json", disk / "record.keep")
    os.symlink(f"{UP}home/{alice}/uploads/secret.txt", disk / "record.json")
    code, msg = _status(lambda: cb.read_bytes(f"{out}/record.json"))
    assert code == 400 and alice not in msg, msg
    with httpx.Client(base_url=cb.url + "chris/api/v1/", headers=cb.http.headers) as h:
        z = h.get("files/zip", params={"path": out})
    assert z.status_code == 200 and b"alice's secret" not in z.content
    # alice herself still reads her own data
    assert ca.volume_bytes(f"path:home/{alice}/uploads/ct")[:4]


def test_plugin_links_to_another_users_images_local_runner(local_server, tmp_path: Path) -> None:
    attack(local_server, tmp_path)


@pytest.mark.docker
def test_plugin_links_to_another_users_images_docker_runner(docker_server, tmp_path: Path) -> None:
    attack(docker_server, tmp_path)


def test_remove_outside_links(tmp_path: Path) -> None:
    from chris_jupyter.compute.outputs import output_files, remove_outside_links

    lib = tmp_path / "lib"
    out = lib / "home/bob/feeds/feed_1/pl-x_2/data"
    (out / "sub").mkdir(parents=True)
    (lib / "home/alice/uploads").mkdir(parents=True)
    (out / "r.txt").write_text("r")
    (out / "sub/s.txt").write_text("s")
    (out / "up").symlink_to("../../../../../../home/alice/uploads")
    (out / "sub/abs").symlink_to("/etc/passwd")
    (out / "sub/dangling").symlink_to("/share/incoming/x")  # a container path: outside too
    (out / "hop").symlink_to("sub/abs")  # inside, but the chain ends outside
    (out / "sub/ok").symlink_to("../r.txt")
    (out / "sub/okdir").symlink_to("..")  # the output folder itself
    rep = remove_outside_links(out)
    assert sorted(rep.removed) == ["hop", "sub/abs", "sub/dangling", "up"] and not rep.failed
    assert "removed 4 symbolic link(s)" in rep.note() and "alice" not in rep.note()
    assert sorted(p.name for p in out.rglob("*")) == ["ok", "okdir", "r.txt", "s.txt", "sub"]
    assert output_files(out, "home/bob/feeds/feed_1/pl-x_2/data") == [
        "home/bob/feeds/feed_1/pl-x_2/data/r.txt", "home/bob/feeds/feed_1/pl-x_2/data/sub/s.txt"]
    assert remove_outside_links(out).note() == ""
    # an output folder replaced by a link (a local-runner plugin may do that)
    other = lib / "home/bob/feeds/feed_1/pl-y_3/data"
    other.parent.mkdir(parents=True)
    other.symlink_to(lib / "home/alice/uploads", target_is_directory=True)
    assert remove_outside_links(other).removed == ["."]
    assert other.is_dir() and not other.is_symlink() and not any(other.iterdir())
