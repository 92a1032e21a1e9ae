"""Archives of job folders (compute/transfer.py): what goes in comes out, byte for byte, in both
formats and both ways of reading a tar (a file, a stream); what would escape is refused whole."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from chris_jupyter.compute.transfer import UnsafeArchive, archive_stream, extract_tar, extract_zip
from chris_jupyter.utils.pipe import ChunkReader


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub/deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub/b.bin").write_bytes(os.urandom(3 << 20))  # over one chunk
    (src / "sub/deeper/empty").write_bytes(b"")
    (src / "sub/link").symlink_to("/etc/passwd")  # left out: never followed
    return src


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _chunks(data: bytes, size: int = 7777):
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("how", ["zip", "tar file", "tar stream", "gzipped tar stream"])
def test_a_folder_comes_out_as_it_went_in(tree: Path, tmp_path: Path, how: str) -> None:
    fmt = "zip" if how == "zip" else "tar"
    data = b"".join(archive_stream([(tree, "in")], fmt))
    dest = tmp_path / "dest"
    dest.mkdir()
    if how == "zip":
        (tmp_path / "a.zip").write_bytes(data)
        n = extract_zip(tmp_path / "a.zip", dest)
    elif how == "tar file":
        n = extract_tar(io.BytesIO(data), dest)
    elif how == "tar stream":  # as the PULL reads it: odd-sized chunks through a non-seekable reader
        n = extract_tar(io.BufferedReader(ChunkReader(_chunks(data)), 1 << 20), dest)
    else:  # another sender's compressed tar: tarfile's stream mode
        n = extract_tar(io.BufferedReader(ChunkReader(_chunks(gzip.compress(data)))), dest)
    want = {f"in/{k}": v for k, v in _files(tree).items()}
    assert n == 3 and _files(dest) == want
    assert not (dest / "in/sub/link").exists()


def _tar(add) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ok = tarfile.TarInfo("fine.txt")
        ok.size = 4
        tf.addfile(ok, io.BytesIO(b"fine"))
        add(tf)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = ""):
    def add(tf: tarfile.TarFile) -> None:
        m = tarfile.TarInfo(name)
        m.type, m.linkname = kind, link
        m.size = 4 if kind == tarfile.REGTYPE else 0
        tf.addfile(m, io.BytesIO(b"evil") if kind == tarfile.REGTYPE else None)
    return add


@pytest.mark.parametrize(("add", "why"), [
    (_member("../evil.txt"), "outside the destination folder"),
    (_member("/tmp/evil.txt"), "not a relative path"),
    (_member("sub/../../evil.txt"), "outside the destination folder"),
    (_member("evil-link", tarfile.SYMTYPE, "/etc"), "not a plain file or folder"),
    (_member("evil-hard", tarfile.LNKTYPE, "fine.txt"), "not a plain file or folder"),
    (_member("evil-dev", tarfile.CHRTYPE), "not a plain file or folder"),
])
@pytest.mark.parametrize("stream", [False, True], ids=["file", "stream"])
def test_a_tar_that_would_escape_is_refused(tmp_path: Path, add, why: str, stream: bool) -> None:
    data = _tar(add)
    dest = tmp_path / "out" / "dest"
    dest.mkdir(parents=True)
    f = io.BufferedReader(ChunkReader(_chunks(data))) if stream else io.BytesIO(data)
    with pytest.raises(UnsafeArchive, match=why):
        extract_tar(f, dest)
    assert not (tmp_path / "out/evil.txt").exists() and not (dest / "evil-link").exists()


def test_a_zip_that_would_escape_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("fine.txt", "fine")
        zf.writestr("../evil.txt", "evil")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchive, match="outside the destination folder"):
        extract_zip(tmp_path / "a.zip", dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "g.zip").write_bytes(b"garbage" * 100)
    with pytest.raises(UnsafeArchive, match="not a zip archive"):
        extract_zip(tmp_path / "g.zip", tmp_path)
    with pytest.raises(UnsafeArchive, match="not a tar archive"):
        extract_tar(io.BufferedReader(ChunkReader(_chunks(b"garbage" * 100))), tmp_path)
