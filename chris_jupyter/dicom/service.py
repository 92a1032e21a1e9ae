"""The DICOM side of the backend: keeps the index in step with the library, searches it with
the caller's rights, and turns series into volumes (cached NIfTI) for viewers and notebooks.

PACS query/retrieve and the C-STORE receiver are wired in :mod:`chris_jupyter.dicom.net.pacs_service`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pydicom

from .. import paths
from ..db import Database
from ..errors import BadRequest, NotFound
from ..events import EventBus
from ..identity import Principal
from ..library.entries import Archive
from ..library.service import Library
from . import index, search
from .volume import Volume, VolumeError, load_nifti, load_series

log = logging.getLogger("chris_jupyter.dicom")

_DICM_OFFSET = 128


def looks_like_dicom(disk: Path) -> bool:
    """A cheap sniff (the ``DICM`` magic, or a ``.dcm`` name) before the header is parsed."""
    if disk.suffix.lower() in (".dcm", ".dicom", ".ima"):
        return True
    try:
        with open(disk, "rb") as f:
            f.seek(_DICM_OFFSET)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def pacs_of(lib_path: str) -> str | None:
    """The PACS a library path was received from (``SERVICES/PACS/<name>/…``), else ``None``."""
    prefix = paths.PACS + "/"
    if lib_path.startswith(prefix):
        return lib_path[len(prefix):].split("/", 1)[0]
    return None


#: Bumped when what a cached volume file holds changes (3: the series' display window, description).
_VOLUME_FORMAT = 3


class DicomService:
    def __init__(self, db: Database, library: Library, events: EventBus, cache_dir: Path) -> None:
        self.db = db
        self.library = library
        self.events = events
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._cache_lock = threading.Lock()
        library.on_registered.append(self.index_paths)
        library.on_removed.append(lambda p: index.remove_paths(db, [p]))
        library.on_moved.append(lambda old, new: index.move_paths(db, old, new))

    # -- index ------------------------------------------------------------------------------------
    def index_paths(self, lib_paths: list[str]) -> index.IndexReport | None:
        """Index the DICOM files among ``lib_paths`` (others are skipped quietly).

        Files under ``SERVICES/PACS/<name>/`` are indexed as coming from that PACS.
        """
        groups: dict[str | None, list[tuple[str, Path]]] = {}
        for p in lib_paths:
            try:
                disk = self.library.store.disk(p)
            except paths.LinkRefused as e:
                log.warning("not indexed: %s", e)
                continue
            if looks_like_dicom(disk):
                groups.setdefault(pacs_of(p), []).append((p, disk))
        report = None
        for pacs, items in groups.items():
            report = index.index_files(self.db, items, pacs=pacs, workers=1 if len(items) < 50 else None)
            if report.indexed or report.replaced:
                folder = paths.parent(items[0][0])
                self.events.publish("dicom.indexed", {"folder": folder, "pacs": pacs, **report.to_dict()},
                                    path=folder)
            for path, reason in report.not_dicom:
                log.info("not indexed (kept as a plain file): %s: %s", path, reason)
        return report

    def reindex(self, principal: Principal, path: str) -> dict[str, Any]:
        """Index (again) every file below a folder the caller may read."""
        path = paths.normalize(path)
        g = self.library.grants(principal)
        self.library.readable_disk(g, path)
        files = [e.path for e in self.library.store.walk(path, allowed=g.can_read) if not e.is_dir]
        report = self.index_paths(files)
        return report.to_dict() if report else {"indexed": 0, "duplicates": 0, "replaced": 0,
                                                "not_dicom": [], "seconds": 0}

    # -- search -----------------------------------------------------------------------------------
    def search(self, principal: Principal, **filters: Any) -> dict[str, Any]:
        visible = self.library.grants(principal).readable_prefixes()
        out = search.search_studies(self.db, visible_prefixes=visible, **filters).to_dict()
        out["items"] = out.pop("studies")  # the same page shape as every other listing
        return out

    def series(self, principal: Principal, series_uid: str) -> list[dict[str, Any]]:
        visible = self.library.grants(principal).readable_prefixes()
        found = search.series_instances(self.db, series_uid, visible_prefixes=visible)
        if not found:
            raise NotFound(f"no series {series_uid!r} that you may read")
        return found

    # -- export -----------------------------------------------------------------------------------
    def deidentified_zip(self, principal: Principal, path: str,
                         config: dict[str, Any] | None = None) -> Archive:
        """A zip of the DICOM files below ``path``, de-identified (PS3.15 basic profile) on the fly.

        Archive names come from the de-identified headers (no patient name leaks through a
        folder name); files that are not DICOM are left out, since they may hold anything.
        """
        from . import layout
        from .deid import Deidentifier

        try:
            deid = Deidentifier(config or {})
        except (TypeError, ValueError) as e:
            raise BadRequest(f"bad de-identification settings: {e}") from None

        def transform(disk: Path, _arc: str) -> tuple[str, bytes] | None:
            if not looks_like_dicom(disk):
                return None
            try:
                ds = pydicom.dcmread(disk)
            except Exception:  # corrupt: leave it out rather than leak it
                return None
            deid.dataset(ds)
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            name = f"{layout.patient_dir(ds)}/{layout.study_dir(ds)}/{layout.series_dir(ds)}/{layout.instance_name(ds)}"
            return name, buf.getvalue()

        return self.library.zip(principal, path, transform=transform, suffix="-deidentified")

    # -- volumes ----------------------------------------------------------------------------------
    def volume(self, principal: Principal, volume_id: str) -> Path:
        """A NIfTI file (cached) for ``series:<SeriesInstanceUID>`` or ``path:<library path>``.

        A library path may name a NIfTI file, one DICOM file (multi-frame) or a folder that
        holds one series.
        """
        kind, _, ref = volume_id.partition(":")
        if kind == "tmp":
            owner, _, name = ref.partition("-")
            out = self.cache_dir / f"tmp-{owner}-{name}.nii"
            if owner != principal.username or not name.isalnum() or not out.exists():
                raise NotFound(f"no such volume: {volume_id!r}")
            return out
        g = self.library.grants(principal)
        if kind == "series":
            instances = self.series(principal, ref)
            # The same series pulled from several PACS: take one copy.
            files = [i["path"] for i in instances if i["pacs"] == instances[0]["pacs"]]
        elif kind == "path":
            ref = paths.normalize(ref)
            disk = self.library.readable_disk(g, ref)  # decided on where it resolves, too
            if not disk.exists():
                raise NotFound(f"no such file or folder: {ref!r}")
            if disk.is_file() and ref.lower().endswith((".nii", ".nii.gz")):
                return disk if ref.lower().endswith(".nii") else self._cached(ref, [disk], nifti=True)
            files = [ref] if disk.is_file() else sorted(
                e.path for e in self.library.store.walk(ref, allowed=g.can_read) if not e.is_dir
                and looks_like_dicom(self.library.store.disk(e.path, allowed=g.can_read)))
        else:
            raise BadRequest("a volume id is 'series:<SeriesInstanceUID>' or 'path:<library path>'")
        if not files:
            raise NotFound(f"no DICOM files in {ref!r}")
        return self._cached(volume_id, [self.library.readable_disk(g, f) for f in files])

    def put_volume(self, principal: Principal, nifti: bytes) -> str:
        """Keep a volume sent by a kernel (NIfTI-1 bytes) for the caller's viewers; returns its id."""
        try:
            load_nifti(nifti)
        except (VolumeError, Exception) as e:  # nibabel raises several types for bad input
            raise BadRequest(f"not a NIfTI-1 volume: {e}") from None
        name = uuid.uuid4().hex
        out = self.cache_dir / f"tmp-{principal.username}-{name}.nii"
        tmp = out.with_suffix(".part")
        tmp.write_bytes(nifti)
        os.replace(tmp, out)
        return f"tmp:{principal.username}-{name}"

    def _cached(self, key: str, disks: list[Path], *, nifti: bool = False) -> Path:
        stamp = hashlib.sha256(f"{_VOLUME_FORMAT}:{key}".encode())
        for d in disks:
            st = d.stat()
            stamp.update(f"{d}:{st.st_size}:{st.st_mtime_ns}".encode())
        out = self.cache_dir / f"{stamp.hexdigest()[:32]}.nii"
        if out.exists():
            return out
        with self._cache_lock:
            if out.exists():
                return out
            try:
                # One file (an X-ray, a secondary capture) may lack position tags: still viewable.
                vol: Volume = load_nifti(disks[0]) if nifti else load_series(
                    disks, allow_irregular=True, allow_missing_geometry=len(disks) == 1)
            except VolumeError as e:
                # The reader names files by their disk path: say the library path instead, so a
                # refusal never tells a user where the server keeps its data.
                root = os.path.realpath(self.library.store.root) + os.sep
                raise BadRequest(f"cannot make a volume of {key!r}: {str(e).replace(root, '')}") from None
            tmp = out.with_name(f"part-{os.getpid()}-{out.name}")
            tmp.write_bytes(vol.to_nifti_bytes())
            os.replace(tmp, out)
        return out
