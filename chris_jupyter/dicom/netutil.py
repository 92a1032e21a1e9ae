"""Shared pieces of the DICOM network side: transfer syntaxes, presentation contexts, the
TCP_NODELAY hook and the one C-STORE writer used by both the receiver and C-GET.

The writer stores the bytes exactly as the peer sent them (``event.encoded_dataset()``:
preamble + file meta + the dataset stream, never decoded and re-encoded), first into a
hidden temporary file next to the target, then ``os.replace``-d into place, so a reader
never sees a half-written file and a crash leaves at most a ``.*.part`` file that
:func:`clean_partials` removes.

Duplicate SOPInstanceUIDs: the last copy received wins. The rename replaces the file at
the same path atomically; when ``path_for`` maps a re-sent instance to a *different* path
(its descriptive tags changed), both files stay and the indexer, keyed on
SOPInstanceUID, decides which one is current.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from pydicom import Dataset, dcmread
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
from pynetdicom import AllStoragePresentationContexts, StoragePresentationContexts
from pynetdicom.dsutils import encode_file_meta
from pynetdicom.presentation import PresentationContext, build_context

from chris_jupyter.library import paths

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
STATUS_CANNOT_UNDERSTAND = 0xC000

PART_SUFFIX = ".part"
_PREAMBLE = b"\x00" * 128 + b"DICM"


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
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - socket already closed
            pass


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


class InstanceWriter(Protocol):
    """Where C-STORE data goes: the receiver and C-GET both call ``write``."""

    def write(self, event: Any) -> StoredInstance: ...


def write_atomic(target: Path, chunks: Iterable[bytes], *, fsync: bool = False) -> int:
    """Write ``chunks`` to a hidden temp file beside ``target`` and rename it into place.

    Returns the number of bytes written. On any error the temp file is removed and the
    exception propagates: ``target`` is either untouched or complete.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
    size = 0
    try:
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                size += len(chunk)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return size


def clean_partials(root: Path) -> int:
    """Remove leftover ``.*.part`` temp files below ``root`` (after a crash); return count."""
    count = 0
    for p in root.rglob(f".*{PART_SUFFIX}"):
        try:
            p.unlink()
            count += 1
        except OSError:
            pass
    return count


def _encoded_chunks(event: Any) -> tuple[list[bytes], str, str, str]:
    """The file as sent (preamble, meta, dataset) without joining the big dataset bytes."""
    req = event.request
    meta = event.file_meta  # built by pynetdicom from the request; cheap
    stream = req.DataSet.getbuffer()  # a view: no copy of the (large) dataset bytes
    return (
        [_PREAMBLE, encode_file_meta(meta), stream],
        str(req.AffectedSOPInstanceUID),
        str(req.AffectedSOPClassUID),
        str(meta.TransferSyntaxUID),
    )


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

    def write(self, event: Any) -> StoredInstance:
        chunks, sop_uid, sop_class, ts = _encoded_chunks(event)
        name = paths.safe_component(sop_uid, fallback="instance") + ".dcm"
        target = self.directory / name
        size = write_atomic(target, chunks, fsync=self.fsync)
        return StoredInstance(sop_uid, sop_class, ts, name, target, size, _calling_ae(event))


class LayoutWriter:
    """Write each instance at ``storage_root / path_for(header)``.

    ``path_for`` receives the dataset read *without* pixel data (plus ``file_meta``) and
    returns a library path (already safe: the ChRIS PACS layout function).
    """

    def __init__(
        self, storage_root: Path, path_for: Callable[[Dataset], str], *, fsync: bool = False
    ) -> None:
        self.storage_root = Path(storage_root)
        self.path_for = path_for
        self.fsync = fsync

    def write(self, event: Any) -> StoredInstance:
        chunks, sop_uid, sop_class, ts = _encoded_chunks(event)
        header = read_header(chunks)
        rel = self.path_for(header)
        target = paths.to_disk(self.storage_root, rel)
        size = write_atomic(target, chunks, fsync=self.fsync)
        return StoredInstance(sop_uid, sop_class, ts, rel, target, size, _calling_ae(event), header)


def read_header(chunks: list[Any]) -> Dataset:
    """Parse the file meta and the dataset up to (not including) the pixel data."""
    fp = BytesIO(b"".join(chunks))
    return dcmread(fp, stop_before_pixels=True, force=True)


def store_handler(
    writer: InstanceWriter,
    on_instance: Callable[[Any, StoredInstance], None] | None = None,
    on_failure: Callable[[Any, BaseException], None] | None = None,
) -> Callable[[Any], int]:
    """Build an ``EVT_C_STORE`` handler that writes through ``writer``.

    ``on_instance(event, stored)`` runs after each successful write, ``on_failure(event,
    exc)`` after a failed one. Returns 0x0000 on success, 0xA700 (out of resources) when the disk write fails and
    0xC000 (cannot understand) when the data cannot be parsed or placed.
    """

    def handle(event: Any) -> int:
        try:
            stored = writer.write(event)
        except OSError as exc:
            log.error("C-STORE: could not write %s: %s", _uid(event), exc)
            if on_failure:
                on_failure(event, exc)
            return STATUS_OUT_OF_RESOURCES
        except Exception as exc:
            log.error("C-STORE: could not place %s: %s", _uid(event), exc)
            if on_failure:
                on_failure(event, exc)
            return STATUS_CANNOT_UNDERSTAND
        if on_instance:
            on_instance(event, stored)
        return STATUS_SUCCESS

    return handle


def _uid(event: Any) -> str:
    try:
        return str(event.request.AffectedSOPInstanceUID)
    except AttributeError:  # pragma: no cover
        return "?"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
