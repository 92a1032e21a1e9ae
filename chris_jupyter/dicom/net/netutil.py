"""Shared pieces of the DICOM network side: transfer syntaxes, presentation contexts, the
TCP_NODELAY hook and the one C-STORE writer used by both the receiver and C-GET.

The writer stores the bytes exactly as the peer sent them (``event.encoded_dataset()``:
preamble + file meta + the dataset stream, never decoded and re-encoded), first into a
hidden temporary file next to the target, then ``os.replace``-d into place, so a reader
never sees a half-written file and a crash leaves at most a ``.*.part`` file that
:func:`clean_partials` removes.

Nothing is stored that is not a whole data set: :func:`check_incoming` walks the received
bytes (:mod:`.wellformed`) before anything is written, and :class:`LayoutWriter` also wants
the SOPInstanceUID and SOPClassUID of the C-STORE request and a SeriesInstanceUID in the
data set. A refused instance raises :class:`RefusedInstance`, whose ``status`` is the
C-STORE failure status to answer (:func:`status_for`).

Duplicate SOPInstanceUIDs: the last copy received wins. The rename replaces the file at
the same path atomically; when ``path_for`` maps a re-sent instance to a *different* path
(its descriptive tags changed), both files stay and the indexer, keyed on
SOPInstanceUID, decides which one is current.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import (
    PYNETDICOM_IMPLEMENTATION_UID,
    PYNETDICOM_IMPLEMENTATION_VERSION,
    AllStoragePresentationContexts,
    StoragePresentationContexts,
)
from pynetdicom.presentation import PresentationContext, build_context

from ... import paths
from .wellformed import MalformedDataset, check_dataset

log = logging.getLogger(__name__)

UNCOMPRESSED_TRANSFER_SYNTAXES: tuple[str, ...] = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
)
COMPRESSED_TRANSFER_SYNTAXES: tuple[str, ...] = (
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)
#: Everything we accept by default: we store bytes as sent, so any encoding is fine.
TRANSFER_SYNTAXES: tuple[str, ...] = UNCOMPRESSED_TRANSFER_SYNTAXES + COMPRESSED_TRANSFER_SYNTAXES

# C-STORE statuses (PS3.4 B.2.3)
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DOES_NOT_MATCH = 0xA900  # data set does not match SOP class
STATUS_CANNOT_UNDERSTAND = 0xC000

PART_SUFFIX = ".part"
_PREAMBLE = b"\x00" * 128 + b"DICM"
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_HEADER_PREFIX = 64 * 1024
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 1024
IMPLEMENTATION_UID = str(PYNETDICOM_IMPLEMENTATION_UID)
IMPLEMENTATION_VERSION = PYNETDICOM_IMPLEMENTATION_VERSION


def storage_contexts(
    transfer_syntaxes: Sequence[str] = TRANSFER_SYNTAXES, *, limit: int | None = None
) -> list[PresentationContext]:
    """Presentation contexts for the storage SOP classes with ``transfer_syntaxes``.

    ``limit`` keeps the first *limit* of pynetdicom's most common storage classes (a
    requestor may propose at most 128 contexts); ``None`` gives all storage classes
    (fine for an acceptor).
    """
    base = AllStoragePresentationContexts if limit is None else StoragePresentationContexts[:limit]
    return [build_context(cx.abstract_syntax, list(transfer_syntaxes)) for cx in base]


def enable_tcp_nodelay(event: Any) -> None:
    """``EVT_CONN_OPEN`` handler: switch Nagle off on the association's socket.

    Without it every C-STORE round trip waits for the delayed ACK (~40-50 ms per file).
    """
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class StoredInstance:
    """One instance written to disk.

    ``path`` is relative to the writer's root (a library path for :class:`LayoutWriter`),
    ``abs_path`` the file itself. ``header`` is the dataset read without pixel data when
    the writer needed it (``None`` for :class:`DirectoryWriter`).
    """

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    path: str
    abs_path: Path
    size: int
    calling_ae: str = ""
    header: Dataset | None = field(default=None, repr=False)


@dataclass
class Incoming:
    """One received instance before it is written: the UIDs from the C-STORE request and the
    dataset bytes as sent, as a list of fragments (PDV payloads or one buffer)."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    fragments: list[Any]
    calling_ae: str = ""

    def chunks(self) -> list[Any]:
        """Preamble, file meta and the dataset fragments: the Part 10 file, unjoined."""
        meta = file_meta_bytes(
            self.sop_class_uid, self.sop_instance_uid, self.transfer_syntax, self.calling_ae
        )
        return [_PREAMBLE, meta, *self.fragments]


class RefusedInstance(ValueError):
    """A received instance that must not be stored; ``status`` is the C-STORE status to answer."""

    def __init__(self, message: str, status: int = STATUS_CANNOT_UNDERSTAND) -> None:
        super().__init__(message)
        self.status = status


def status_for(exc: BaseException) -> int:
    """The C-STORE failure status for a writer's exception.

    0xA700 (out of resources) for a failed disk write, the refusal's own status for a
    :class:`RefusedInstance`, 0xC000 (cannot understand) for anything else.
    """
    if isinstance(exc, OSError):
        return STATUS_OUT_OF_RESOURCES
    return getattr(exc, "status", STATUS_CANNOT_UNDERSTAND)


def check_incoming(item: Incoming) -> None:
    """Raise :class:`RefusedInstance` (0xC000) unless ``item`` holds one well-formed data set."""
    if not item.sop_instance_uid:
        raise RefusedInstance("the C-STORE request has no Affected SOP Instance UID",
                              STATUS_DOES_NOT_MATCH)
    try:
        check_dataset(item.fragments, item.transfer_syntax)
    except MalformedDataset as exc:
        raise RefusedInstance(f"malformed data set: {exc}") from None


def check_identity(item: Incoming, header: Dataset) -> None:
    """Raise :class:`RefusedInstance` (0xA900) unless the data set is the instance announced.

    Its SOPInstanceUID and SOPClassUID must be those of the C-STORE request (as dcmtk's
    storescp checks) and it must have a SeriesInstanceUID: without them the layout would
    file unrelated instances under one name.
    """
    for keyword, expected in (("SOPInstanceUID", item.sop_instance_uid),
                              ("SOPClassUID", item.sop_class_uid)):
        got = str(header.get(keyword, "") or "").strip()
        if got != expected:
            raise RefusedInstance(
                f"the data set's {keyword} {got or '(none)'} is not the {expected!r} of the "
                "C-STORE request", STATUS_DOES_NOT_MATCH)
    if not str(header.get("SeriesInstanceUID", "") or "").strip():
        raise RefusedInstance("the data set has no SeriesInstanceUID", STATUS_DOES_NOT_MATCH)


class InstanceWriter(Protocol):
    """Where C-STORE data goes: the receiver and C-GET both call ``write``."""

    def write(self, item: Incoming) -> StoredInstance: ...


def _el(elem: int, vr: bytes, value: bytes) -> bytes:
    if vr == b"OB":
        return struct.pack("<HH2s2xI", 2, elem, vr, len(value)) + value
    return struct.pack("<HH2sH", 2, elem, vr, len(value)) + value


def _pad(value: str, pad: bytes) -> bytes:
    raw = value.encode("ascii", "replace")
    return raw + pad if len(raw) % 2 else raw


def file_meta_bytes(sop_class: str, sop_instance: str, transfer_syntax: str, source_ae: str = "") -> bytes:
    """Encode the File Meta Information group (Explicit VR Little Endian) by hand.

    The same elements pynetdicom's ``encoded_dataset()`` writes (plus the source AE title),
    without building a pydicom dataset for every instance.
    """
    body = b"".join(
        [
            _el(0x0001, b"OB", b"\x00\x01"),
            _el(0x0002, b"UI", _pad(sop_class, b"\x00")),
            _el(0x0003, b"UI", _pad(sop_instance, b"\x00")),
            _el(0x0010, b"UI", _pad(transfer_syntax, b"\x00")),
            _el(0x0012, b"UI", _pad(IMPLEMENTATION_UID, b"\x00")),
            _el(0x0013, b"SH", _pad(IMPLEMENTATION_VERSION, b" ")),
        ]
        + ([_el(0x0016, b"AE", _pad(source_ae, b" "))] if source_ae else [])
    )
    return _el(0x0000, b"UL", struct.pack("<I", len(body))) + body


def incoming_from_event(event: Any) -> Incoming:
    """The :class:`Incoming` of a pynetdicom ``EVT_C_STORE`` event, without decoding."""
    req = event.request
    return Incoming(
        str(req.AffectedSOPClassUID),
        str(req.AffectedSOPInstanceUID),
        str(event.context.transfer_syntax),
        [req.DataSet.getbuffer()],  # a view: no copy of the (large) dataset bytes
        _calling_ae(event),
    )


def write_atomic(target: Path, chunks: Iterable[Any], *, fsync: bool = False) -> int:
    """Write ``chunks`` to a hidden temp file beside ``target`` and rename it into place.

    One ``writev`` call for all chunks (~2.5x faster than a buffered file's ``writelines``
    for a 30-fragment CT slice). Returns the number of bytes written. On any error the temp
    file is removed and the exception propagates: ``target`` is untouched or complete.
    """
    parts = [memoryview(c).cast("B") for c in chunks]
    total = sum(len(p) for p in parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            written = 0
            while parts:
                n = os.writev(fd, parts[:_IOV_MAX])
                if n == 0 and any(len(p) for p in parts):
                    raise OSError(f"no progress writing {target}")
                written += n
                while parts and n >= len(parts[0]):  # drop what went out, keep the rest
                    n -= len(parts[0])
                    parts.pop(0)
                if n:
                    parts[0] = parts[0][n:]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if written != total:  # pragma: no cover - writev never loses bytes silently
        raise OSError(f"short write to {target}")
    return total


def clean_partials(root: Path) -> int:
    """Remove leftover ``.*.part`` temp files below ``root`` (after a crash); return count."""
    count = 0
    for p in root.rglob(f".*{PART_SUFFIX}"):
        with contextlib.suppress(OSError):
            p.unlink()
            count += 1
    return count


def _calling_ae(event: Any) -> str:
    try:
        return str(event.assoc.requestor.ae_title).strip()
    except AttributeError:  # pragma: no cover
        return ""


class DirectoryWriter:
    """Write each instance as ``<directory>/<SOPInstanceUID>.dcm`` without decoding it."""

    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.fsync = fsync

    def write(self, item: Incoming) -> StoredInstance:
        check_incoming(item)
        name = paths.safe_component(item.sop_instance_uid, fallback="instance") + ".dcm"
        target = self.directory / name
        size = write_atomic(target, item.chunks(), fsync=self.fsync)
        return StoredInstance(
            item.sop_instance_uid, item.sop_class_uid, item.transfer_syntax, name, target, size,
            item.calling_ae,
        )


class LayoutWriter:
    """Write each instance at ``storage_root / path_for(header)``.

    ``path_for`` receives the dataset read *without* pixel data (plus ``file_meta``) and
    returns a library path (the ChRIS PACS layout function). The sender's AE title is in
    ``header.file_meta.SourceApplicationEntityTitle``, for layouts that file by PACS. The
    path is still passed through :func:`~chris_jupyter.paths.normalize` and
    :func:`~chris_jupyter.paths.to_disk` (no escape from the root).
    """

    def __init__(
        self, storage_root: Path, path_for: Callable[[Dataset], str], *, fsync: bool = False
    ) -> None:
        self.storage_root = Path(storage_root)
        self.path_for = path_for
        self.fsync = fsync

    def write(self, item: Incoming) -> StoredInstance:
        check_incoming(item)
        chunks = item.chunks()
        header = incoming_header(item)
        check_identity(item, header)
        rel = paths.normalize(self.path_for(header))
        target = paths.to_disk(self.storage_root, rel)
        size = write_atomic(target, chunks, fsync=self.fsync)
        return StoredInstance(
            item.sop_instance_uid, item.sop_class_uid, item.transfer_syntax, rel, target, size,
            item.calling_ae, header,
        )


def read_header(chunks: list[Any]) -> Dataset:
    """Parse the file meta and the dataset up to (not including) the pixel data."""
    return dcmread(BytesIO(b"".join(chunks)), stop_before_pixels=True, force=True)


def incoming_header(item: Incoming) -> Dataset:
    """The header of a received instance, parsed from the first fragments only.

    ~3x faster than :func:`read_header` on a CT slice: no join of the pixel data, no file
    meta parsing (its values are known from the C-STORE request). Falls back to
    :func:`read_header` for deflate, or when the header is longer than the prefix.
    """
    ts = item.transfer_syntax
    if ts == DeflatedExplicitVRLittleEndian or not item.fragments:
        return read_header(item.chunks())
    taken: list[Any] = []
    size = 0
    for frag in item.fragments:
        taken.append(frag)
        size += len(frag)
        if size >= _HEADER_PREFIX:
            break
    complete = len(taken) == len(item.fragments)
    implicit, little = ts == ImplicitVRLittleEndian, ts != ExplicitVRBigEndian
    hit = False

    def at_pixels(tag: Any, vr: Any, length: Any) -> bool:
        nonlocal hit
        if tag in _PIXEL_TAGS:
            hit = True
        return hit

    try:
        ds = read_dataset(BytesIO(b"".join(taken)), implicit, little, stop_when=at_pixels)
    except Exception:
        ds = None
    if ds is None or not (hit or complete):
        return read_header(item.chunks())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = item.sop_class_uid
    meta.MediaStorageSOPInstanceUID = item.sop_instance_uid
    meta.TransferSyntaxUID = ts
    if item.calling_ae:
        meta.SourceApplicationEntityTitle = item.calling_ae
    ds.file_meta = meta
    ds.set_original_encoding(implicit, little, ds._character_set)  # as dcmread does
    return ds


def store_handler(
    writer: InstanceWriter,
    on_instance: Callable[[Any, StoredInstance], None] | None = None,
    on_failure: Callable[[Any, BaseException], None] | None = None,
) -> Callable[[Any], int]:
    """Build an ``EVT_C_STORE`` handler that writes through ``writer``.

    ``on_instance(event, stored)`` runs after each successful write, ``on_failure(event,
    exc)`` after a failed one. Returns 0x0000 on success, else :func:`status_for` the error.
    """

    def handle(event: Any) -> int:
        try:
            stored = writer.write(incoming_from_event(event))
        except Exception as exc:
            log_failure(_uid(event), _calling_ae(event), exc)
            if on_failure:
                on_failure(event, exc)
            return status_for(exc)
        if on_instance:
            on_instance(event, stored)
        return STATUS_SUCCESS

    return handle


def log_failure(sop_instance_uid: str, calling_ae: str, exc: BaseException) -> None:
    """The one log line for an instance that was not stored."""
    sender = f" from {calling_ae}" if calling_ae else ""
    if isinstance(exc, OSError):
        log.error("C-STORE: could not write %s%s: %s", sop_instance_uid, sender, exc)
    elif isinstance(exc, RefusedInstance):
        log.warning("C-STORE: refused %s%s (status 0x%04X): %s", sop_instance_uid, sender,
                    exc.status, exc)
    else:
        log.error("C-STORE: could not place %s%s: %s", sop_instance_uid, sender, exc)


def _uid(event: Any) -> str:
    try:
        return str(event.request.AffectedSOPInstanceUID)
    except AttributeError:  # pragma: no cover
        return "?"
