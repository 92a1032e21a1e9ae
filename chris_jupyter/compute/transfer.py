"""Moving job folders over HTTP: archives written as streams, extracted without escaping.

Used on both ends of a remote compute resource (the backend's ``remote`` runner and
``chris-jupyter compute serve``). Archives are *written* to a plain ``write()`` sink, never to a
seekable file, so they stream (a zip then carries data descriptors; ZIP64 where a file needs
it) and nothing is held in memory but one chunk. Archives are *extracted* only after every
entry's name is checked: an absolute path, a ``..`` step, a link, a device or any other
non-regular entry refuses the archive, and files are opened with ``O_NOFOLLOW`` below folders
checked not to be links — nothing lands outside the destination folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ..utils.pipe import CHUNK, ChunkPipe, ChunkReader, thread_stream, write_behind

FORMATS = ("zip", "tar")

Progress = Callable[[int], None]


class UnsafeArchive(ValueError):
    """An archive with an entry that would land outside the destination, or is not a plain
    file or folder; nothing of it was written."""


# -- writing ------------------------------------------------------------------------------------
def walk(sources: Iterable[tuple[Path, str]]) -> Iterator[tuple[Path, str, bool]]:
    """``(host path, archive name, is_dir)`` of every folder and regular file below each
    ``(folder, prefix)``; symbolic links and special files are left out (never followed)."""
    for root, prefix in sources:
        root = Path(root)
        prefix = prefix.strip("/")
        if root.is_file() and not root.is_symlink():
            yield root, prefix or root.name, False
            continue
        if prefix:
            yield root, prefix, True
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root)
            base = PurePosixPath(prefix, *rel.parts) if prefix else PurePosixPath(*rel.parts)
            for d in sorted(dirnames):
                p = Path(dirpath, d)
                if p.is_symlink():
                    dirnames.remove(d)
                else:
                    yield p, str(base / d), True
            dirnames.sort()
            for f in sorted(filenames):
                p = Path(dirpath, f)
                if stat.S_ISREG(p.lstat().st_mode):
                    yield p, str(base / f), False


def total_size(sources: Iterable[tuple[Path, str]]) -> int:
    return sum(p.stat().st_size for p, _, is_dir in walk(sources) if not is_dir)


def write_archive(out: BinaryIO, sources: Iterable[tuple[Path, str]], fmt: str = "zip", *,
                  compress: bool = False, progress: Progress | None = None) -> int:
    """Write the files below ``sources`` to ``out`` as a ``zip`` or uncompressed ``tar``
    stream; returns the number of files."""
    n = 0
    if fmt == "tar":
        # as a file (``w:``, over a stream that only tells where it is): members' data go out in
        # CHUNK writes as read; the stream mode (``w|``) would copy every byte twice re-blocking it
        with tarfile.open(fileobj=_Told(out), mode="w:", format=tarfile.PAX_FORMAT,  # type: ignore[arg-type]
                          copybufsize=CHUNK) as tf:
            for path, name, is_dir in walk(sources):
                info = tf.gettarinfo(str(path), name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if is_dir:
                    tf.addfile(info)
                    continue
                with open(path, "rb") as src:
                    tf.addfile(info, _Counting(src, progress))
                n += 1
        return n
    if fmt != "zip":
        raise ValueError(f"unknown archive format {fmt!r}: one of {', '.join(FORMATS)}")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method, allowZip64=True) as zf:
        for path, name, is_dir in walk(sources):
            info = zipfile.ZipInfo.from_file(path, name)
            if is_dir:
                zf.writestr(info, b"")
                continue
            info.compress_type = method
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    if progress:
                        progress(len(chunk))
            n += 1
    return n


class _Told:
    """A write-only stream that says how much was written (what tarfile asks of a file)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.pos = f, 0

    def write(self, b: bytes) -> int:
        self.f.write(b)
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.f.flush()


class _Counting:
    """A file wrapper that reports bytes read (tarfile reads members through ``read``)."""

    def __init__(self, f: BinaryIO, progress: Progress | None) -> None:
        self.f, self.progress = f, progress

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        if self.progress and b:
            self.progress(len(b))
        return b


def archive_stream(sources: list[tuple[Path, str]], fmt: str = "zip", *, compress: bool = False,
                   progress: Progress | None = None) -> Iterator[bytes]:
    """The archive of ``sources`` as an iterator of byte chunks, written by a thread."""
    return thread_stream(
        lambda sink: write_archive(sink, sources, fmt, compress=compress, progress=progress),
        name="chris-archive")


# -- extracting ---------------------------------------------------------------------------------
def safe_name(name: str) -> tuple[str, ...]:
    """The path parts of an archive entry, or :class:`UnsafeArchive` if it is absolute, has a
    ``..`` step, a drive or backslash, or is empty."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        raise UnsafeArchive(f"archive entry {name!r} is not a relative path")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if not parts or ".." in parts or ":" in parts[0]:
        raise UnsafeArchive(f"archive entry {name!r} is outside the destination folder")
    return parts


def _mkdirs(dest: Path, parts: tuple[str, ...]) -> Path:
    """Create ``dest/parts…`` folder by folder, refusing any step that is a link."""
    cur = dest
    for p in parts:
        cur = cur / p
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            os.mkdir(cur, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeArchive(f"archive entry goes through {'/'.join(parts)!r}, which is not a folder")
    return cur


#: Files at least this large are written by a second thread while the next bytes are read
#: (:func:`~chris_jupyter.utils.pipe.write_behind`); smaller ones are not worth a thread.
WRITE_BEHIND_MIN = 8 * CHUNK


def _write_file(dest: Path, parts: tuple[str, ...], src: BinaryIO, progress: Progress | None,
                size: int = 0) -> None:
    folder = _mkdirs(dest, parts[:-1])
    fd = os.open(folder / parts[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)

    def chunks() -> Iterator[bytes]:
        while chunk := src.read(CHUNK):
            yield chunk
            if progress:
                progress(len(chunk))

    with os.fdopen(fd, "wb") as out:
        if size >= WRITE_BEHIND_MIN:
            write_behind(out, chunks())
        else:
            for chunk in chunks():
                out.write(chunk)


def extract_zip(path: Path, dest: Path, *, progress: Progress | None = None) -> int:
    """Extract the zip at ``path`` into ``dest`` (which must exist), after checking every entry."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise UnsafeArchive(f"not a zip archive: {e}") from None
    with zf:
        infos = zf.infolist()
        for info in infos:
            safe_name(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded (a plain file)
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeArchive(f"archive entry {info.filename!r} is not a plain file or folder")
        n = 0
        for info in infos:
            parts = safe_name(info.filename)
            if info.is_dir():
                _mkdirs(dest, parts)
                continue
            with zf.open(info) as src:
                _write_file(dest, parts, src, progress, info.file_size)
            n += 1
    return n


def _seekable(f: BinaryIO) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


#: How compressed tar streams begin (gzip, bzip2, xz): those go through tarfile's stream mode.
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class _Forward(io.RawIOBase):
    """A stream that tarfile may read as a file: ``tell()``, and ``seek()`` to here or further
    on (by reading past). tarfile's stream mode (``r|``) joins and re-slices every block it
    reads, three copies of each byte; as a file (``r:``) it reads member data straight through."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.pos = f, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            pos += self.pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a stream has no end to seek from")
        if pos < self.pos:
            raise io.UnsupportedOperation("a stream only seeks forward")
        while self.pos < pos and (skipped := len(self.f.read(min(CHUNK, pos - self.pos)))):
            self.pos += skipped
        return self.pos

    def readinto(self, b: Any) -> int:  # type: ignore[override]
        n = self.f.readinto(b) or 0
        self.pos += n
        return n


def _as_tar_file(fileobj: BinaryIO) -> tuple[BinaryIO, str]:
    """The file object and mode to open a tar with: a file as it is, an uncompressed stream as a
    forward-only file, a compressed stream in tarfile's stream mode."""
    if _seekable(fileobj):
        return fileobj, "r:"
    peek = getattr(fileobj, "peek", None)
    head = peek(8)[:6] if peek is not None else b""
    if peek is None or any(head.startswith(magic) for magic in _COMPRESSED):
        return fileobj, "r|*"
    return _Forward(fileobj), "r:"  # type: ignore[return-value]


def extract_tar(fileobj: BinaryIO, dest: Path, *, progress: Progress | None = None) -> int:
    """Extract a tar *stream* into ``dest``: entries are checked as they come, so a bad one
    stops the extraction with :class:`UnsafeArchive` (the caller empties ``dest``)."""
    n = 0
    f, mode = _as_tar_file(fileobj)
    try:
        with tarfile.open(fileobj=f, mode=mode, bufsize=CHUNK) as tf:
            for m in tf:
                parts = safe_name(m.name)
                if m.isdir():
                    _mkdirs(dest, parts)
                elif m.isfile():
                    src = tf.extractfile(m)
                    assert src is not None
                    _write_file(dest, parts, src, progress, m.size)
                    n += 1
                else:
                    raise UnsafeArchive(f"archive entry {m.name!r} is not a plain file or folder")
    except tarfile.TarError as e:
        raise UnsafeArchive(f"not a tar archive: {e}") from None
    except io.UnsupportedOperation as e:  # a stream asked to go back: not a tar this code wrote
        raise UnsafeArchive(f"not a plain tar stream: {e}") from None
    return n


class TarExtraction:
    """A write-only sink whose bytes are extracted as a tar stream into ``dest`` while they arrive
    (a thread runs :func:`extract_tar` on them), so that an upload is written once, not spooled and
    then extracted. After :meth:`close`, :meth:`result` gives the number of files or raises what
    went wrong (:class:`UnsafeArchive` for a bad entry or a broken stream; the caller removes
    ``dest``). Once extraction has failed, further bytes are read and dropped: the sender finishes
    its request and then gets the refusal."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self._pipe = ChunkPipe(depth=8)
        self._files: int | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._extract, name="tar-extraction", daemon=True)
        self._thread.start()

    def _extract(self) -> None:
        chunks = self._pipe.chunks()
        try:
            self._files = extract_tar(io.BufferedReader(ChunkReader(chunks), CHUNK), self.dest)
        except BaseException as e:  # raised by result(), in the request's thread
            self._error = e
        finally:
            chunks.close()  # a writer still writing is told to stop (its bytes are dropped)

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:
        if not self._pipe.cancelled:
            with contextlib.suppress(BrokenPipeError):
                self._pipe.write(b)
        return len(b)

    def close(self) -> None:
        if self._thread.is_alive():
            self._pipe.close()
            self._thread.join()

    def result(self) -> int:
        self.close()
        if self._error is not None:
            raise self._error
        if self._files is None:
            raise UnsafeArchive("the archive ended early")
        return self._files


def empty_folder(folder: Path) -> None:
    """Remove everything inside ``folder`` (links themselves, never what they point to)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
