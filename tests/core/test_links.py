"""Symbolic links in the library (issue 8.1): access is decided on where a path resolves, in the
one rule every opener goes through (content, zip, volumes, indexing, annotations, writes).

The links are made by hand on disk, as a plugin (or anything else with disk access) would.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from chris_jupyter.dicom import synth
from chris_jupyter.errors import NotFound
from chris_jupyter.paths import LinkRefused

OUT = "home/bob/feeds/feed_1/pl-x_2/data"
UP = "../" * 6  # from OUT to the library root


def upload(backend, who, path: str, data: bytes):
    t = backend.library.begin_upload(who, path)
    t.temp.write(data)
    return backend.library.finish_upload(t)


@pytest.fixture
def world(backend, alice, bob, tmp_path: Path):
    """alice's CT series and secret; bob's registered output folder and private series."""
    for who, folder in ((alice, "home/alice/uploads/ct"), (bob, "home/bob/uploads/private")):
        local = tmp_path / who.username
        synth.write_ct_series(local, n_slices=3, rows=8, cols=8, patient_id=who.username)
        for f in sorted(os.listdir(local)):
            upload(backend, who, f"{folder}/{f}", (local / f).read_bytes())
    upload(backend, alice, "home/alice/uploads/secret.txt", b"alice's secret")
    out = backend.store.makedirs(OUT)
    (out / "record.txt").write_text("bob's output")
    backend.library.register_tree(OUT)
    return out


def test_links_into_another_users_home_are_refused_everywhere(backend, alice, bob, world: Path) -> None:
    one = sorted(os.listdir(backend.store.disk("home/alice/uploads/ct")))[0]
    (world / "linkdir").symlink_to(f"{UP}home/alice/uploads/ct")
    (world / "linkfile.dcm").symlink_to(f"{UP}home/alice/uploads/ct/{one}")
    (world / "linktext.nii").symlink_to(f"{UP}home/alice/uploads/secret.txt")
    for name in ("linkdir", "linkfile.dcm", "linktext.nii"):
        with pytest.raises(LinkRefused) as e:
            backend.dicom.volume(bob, f"path:{OUT}/{name}")
        assert "alice" not in str(e.value) and "secret" not in str(e.value)
        with pytest.raises(LinkRefused):
            backend.collab.add(bob, f"path:{OUT}/{name}", kind="point", points=[[0, 0, 0]])
    with pytest.raises(LinkRefused):
        backend.dicom.reindex(bob, f"{OUT}/linkdir")
    assert [se["folder"] for st in backend.dicom.search(bob)["items"] for se in st["series"]] == \
        ["home/bob/uploads/private"]  # nothing of alice's indexed under bob's folder
    # writing through a link into alice's home
    with pytest.raises(LinkRefused):
        backend.library.begin_upload(bob, f"{OUT}/linkdir/new.dcm")
    with pytest.raises(LinkRefused):
        backend.library.mkdir(bob, f"{OUT}/linkdir/new")
    assert sorted(os.listdir(backend.store.disk("home/alice/uploads/ct"))) == \
        sorted(e.name for e in backend.library.list(alice, "home/alice/uploads/ct").items)
    # a registered file swapped for a link afterwards: content refused, left out of a zip
    os.replace(world / "record.txt", world / "record.old")
    (world / "record.txt").symlink_to(f"{UP}home/alice/uploads/secret.txt")
    with pytest.raises(LinkRefused):
        backend.library.open_file(bob, f"{OUT}/record.txt")
    zf = zipfile.ZipFile(io.BytesIO(b"".join(backend.library.zip(bob, OUT))))
    assert zf.namelist() == [] or all(zf.read(n) != b"alice's secret" for n in zf.namelist())
    # alice reads her own data as before
    assert backend.dicom.volume(alice, "path:home/alice/uploads/ct").stat().st_size > 352


def test_link_inside_the_owners_home_is_decided_by_the_callers_rights(backend, bob, world: Path) -> None:
    """bob shares his feed with carol; a link in it leads to his private uploads: bob may follow
    it, carol may not (she may read the link's folder, not where it leads)."""
    carol = backend.principal("carol")
    backend.sharing.create(bob, path="home/bob/feeds/feed_1", user="carol")
    (world / "mine").symlink_to("../../../../uploads/private")
    (world / "mine.txt").symlink_to("../../../../uploads/private")
    assert backend.dicom.volume(bob, f"path:{OUT}/mine").stat().st_size > 352
    with pytest.raises(LinkRefused, match="may not use") as e:
        backend.dicom.volume(carol, f"path:{OUT}/mine")
    assert "private" not in str(e.value)
    with pytest.raises(LinkRefused):
        backend.collab.list(carol, f"path:{OUT}/mine")
    with pytest.raises(LinkRefused):
        backend.dicom.reindex(carol, f"{OUT}/mine")
    with pytest.raises(LinkRefused):
        backend.library.readable_disk(carol, f"{OUT}/mine.txt")
    assert backend.library.open_file(carol, f"{OUT}/record.txt")[1].size == len("bob's output")
    with pytest.raises(NotFound):  # and what she may not read at all stays a plain 404
        backend.library.readable_disk(carol, "home/bob/uploads/private")
