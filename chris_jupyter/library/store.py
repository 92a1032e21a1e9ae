"""The library's bytes on disk: atomic writes, streaming reads, zip streaming, moves.

The store knows nothing of users or the DB: :mod:`chris_jupyter.library.service` decides what
may happen and keeps the DB in step. Every path given here is already normalised
(:func:`chris_jupyter.paths.normalize`).

Layout of the data root::

    <data_root>/library/   the library tree every runner mounts (home/, SERVICES/, …)
    <data_root>/tmp/       uploads in progress (same filesystem, so a rename is atomic)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..utils.pipe import CHUNK, thread_stream


class StoreError(Exception):
    """A disk-level failure the user can act on (exists, not found, not a folder…)."""


@dataclass
class TempUpload:
    """An upload in progress. Bytes go to ``temp``; :meth:`Store.commit` makes them appear."""

    temp: Path
    file: object  # an open binary file
    written: int = 0

    def write(self, data: bytes) -> None:
        """Append bytes to the upload."""
        self.file.write(data)  # type: ignore[attr-defined]
        self.written += len(data)


@dataclass(frozen=True)
class DiskEntry:
    """A file or folder found on disk."""

    path: str  # library path
    size: int
    is_dir: bool
    mtime: float


class Store:
    """The library tree on disk: atomic uploads, moves, deletes and zip streams below one root."""

    def __init__(self, data_root: Path) -> None:
        self.data_root = Path(data_root)
        self.root = self.data_root / "library"
        self.tmp = self.data_root / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    # -- locations --------------------------------------------------------------------------------
    def disk(self, path: str, *, allowed: Callable[[str], bool] | None = None) -> Path:
        """Where a library path lives on disk; symbolic links are checked by
        :func:`~chris_jupyter.paths.to_disk` (``allowed``: the caller's read or write rule)."""
        return paths.to_disk(self.root, path, allowed=allowed)

    def exists(self, path: str) -> bool:
        """Whether a library path exists on disk."""
        return self.disk(path).exists()

    def is_dir(self, path: str) -> bool:
        """Whether a library path is a folder on disk."""
        return self.disk(path).is_dir()

    # -- writing ----------------------------------------------------------------------------------
    def clean_tmp(self) -> int:
        """Delete uploads left behind by a killed process; returns how many went."""
        n = 0
        for p in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                p.unlink() if not p.is_dir() else shutil.rmtree(p)
                n += 1
        return n

    def begin(self) -> TempUpload:
        """Start an upload into a temporary file of the store."""
        temp = self.tmp / f"upload-{uuid.uuid4().hex}"
        return TempUpload(temp, open(temp, "xb", buffering=CHUNK))

    def abort(self, up: TempUpload) -> None:
        """Remove an unfinished upload's temporary file."""
        with contextlib.suppress(OSError):
            up.file.close()  # type: ignore[attr-defined]
        with contextlib.suppress(FileNotFoundError):
            up.temp.unlink()

    def commit(self, up: TempUpload, path: str, *, overwrite: bool, fsync: bool = False) -> int:
        """Make the upload appear at ``path`` in one rename; returns its size."""
        f = up.file
        f.flush()  # type: ignore[attr-defined]
        if fsync:
            os.fsync(f.fileno())  # type: ignore[attr-defined]
        f.close()  # type: ignore[attr-defined]
        target = self.disk(path)
        self.makedirs(paths.parent(path))
        if target.is_dir():
            self.abort(up)
            raise StoreError(f"a folder exists at {path!r}")
        os.chmod(up.temp, 0o644)
        if overwrite:
            os.replace(up.temp, target)
        else:
            # link() fails if the target exists: no window where another upload is overwritten.
            try:
                os.link(up.temp, target)
            except FileExistsError:
                self.abort(up)
                raise StoreError(f"a file already exists at {path!r}") from None
            up.temp.unlink()
        return up.written

    def makedirs(self, path: str) -> Path:
        """Create a folder and its parents; returns its disk path."""
        d = self.disk(path)
        if d.exists() and not d.is_dir():
            raise StoreError(f"a file exists at {path!r}")
        d.mkdir(parents=True, exist_ok=True)
        return d

    def move(self, src: str, dst: str) -> None:
        """Move a file or folder on disk (refused when ``dst`` exists)."""
        s, d = self.disk(src), self.disk(dst)
        if not s.exists():
            raise StoreError(f"nothing at {src!r}")
        if d.exists():
            raise StoreError(f"something already exists at {dst!r}")
        self.makedirs(paths.parent(dst))
        os.rename(s, d)

    def delete(self, path: str) -> None:
        """Remove a file or folder with everything below it."""
        p = self.disk(path)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    # -- reading ----------------------------------------------------------------------------------
    def walk(self, path: str, *, allowed: Callable[[str], bool] | None = None) -> Iterator[DiskEntry]:
        """Every file and folder below ``path`` (not following symlinks), parents first."""
        return walk_disk(self.disk(path, allowed=allowed), path)

    def iter_zip(
        self, path: str, *, names: list[tuple[str, str]] | None = None,
        transform: Callable[[Path, str], tuple[str, bytes] | None] | None = None,
        allowed: Callable[[str], bool] | None = None,
    ) -> Iterator[bytes]:
        """Stream a folder as a zip archive, produced on the fly (ZIP64, stored, no temp file).

        ``names`` optionally lists (library path, name in archive) pairs to include; by default
        every file below ``path``. ``transform(disk path, archive name)`` may replace a file's
        name and bytes on the way (de-identified exports), or drop it by returning ``None``.
        A file refused by the symbolic-link rule (``allowed``: the caller's read or write rule) is left
        out: the archive never holds bytes from elsewhere.
        """
        if names is None:
            base = paths.basename(path) or "library"
            names = [
                (e.path, base + "/" + e.path[len(path) :].lstrip("/"))
                for e in self.walk(path)
                if not e.is_dir
            ]
        def produce(sink) -> None:
            with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for lib, arc in names:
                    try:
                        src = self.disk(lib, allowed=allowed)
                    except paths.LinkRefused:
                        continue
                    if transform is not None:
                        out = transform(src, arc)
                        if out is not None:
                            zf.writestr(zipfile.ZipInfo(out[0], date_time=(1980, 1, 1, 0, 0, 0)), out[1])
                        continue
                    zi = zipfile.ZipInfo.from_file(src, arc)
                    zi.compress_type = zipfile.ZIP_STORED
                    with open(src, "rb") as fin, zf.open(zi, "w", force_zip64=True) as fout:
                        shutil.copyfileobj(fin, fout, CHUNK)

        # a generator: the producer thread starts with the download, not when it is asked for
        yield from thread_stream(produce, name="chris-zip", depth=16)


def walk_disk(base: Path, lib: str) -> Iterator[DiskEntry]:
    """Every folder and regular file below the disk folder ``base`` (library path ``lib``),
    parents first: what the library lists. Symbolic links are neither followed nor yielded, and
    names that are not valid library names are skipped."""
    stack = [(base, lib)]
    while stack:
        d, dlib = stack.pop()
        try:
            it = os.scandir(d)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with it:
            for e in it:
                child = paths.join(dlib, e.name)
                try:
                    paths.check_name(e.name)
                    st = e.stat(follow_symlinks=False)
                except (paths.InvalidPath, OSError):
                    continue
                if stat.S_ISDIR(st.st_mode):
                    yield DiskEntry(child, 0, True, st.st_mtime)
                    stack.append((Path(e.path), child))
                elif stat.S_ISREG(st.st_mode):
                    yield DiskEntry(child, st.st_size, False, st.st_mtime)
