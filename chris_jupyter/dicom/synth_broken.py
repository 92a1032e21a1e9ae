"""Broken DICOM files for tests: what a reader must refuse or report, not crash on.

* :func:`write_garbage` — random bytes named ``.dcm``, not DICOM at all;
* :func:`write_fake_preamble` — a DICOM preamble and ``DICM`` magic, then garbage;
* :func:`write_missing_tag` — a valid small CT slice without one (required) element;
* :func:`truncate_copy` — the first part of a real file.

The valid data they start from comes from :mod:`chris_jupyter.dicom.synth`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
from pydicom import dcmread

from .synth import write_ct_series


def write_garbage(path: str | os.PathLike[str], n_bytes: int = 4096, *, seed: int = 0) -> Path:
    """Random bytes with a ``.dcm`` name: not DICOM at all."""
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n_bytes, dtype=np.uint8).tobytes())
    return path


def write_fake_preamble(path: str | os.PathLike[str]) -> Path:
    """A 128-byte preamble and ``DICM`` followed by garbage: looks like DICOM, is corrupt."""
    path = Path(path)
    rng = np.random.default_rng(1)
    path.write_bytes(b"\0" * 128 + b"DICM" + rng.integers(0, 256, 512, dtype=np.uint8).tobytes())
    return path


def write_missing_tag(path: str | os.PathLike[str], keyword: str = "SeriesInstanceUID") -> Path:
    """A valid small CT slice without ``keyword`` (e.g. a required UID)."""
    path = Path(path)
    info = write_ct_series(path.parent / f".tmp-{secrets.token_hex(4)}", n_slices=1, rows=16, cols=16)
    ds = dcmread(info.paths[0])
    if keyword in ds:
        delattr(ds, keyword)
    if keyword == "SOPInstanceUID":
        del ds.file_meta.MediaStorageSOPInstanceUID
    ds.save_as(path)
    info.paths[0].unlink()
    info.paths[0].parent.rmdir()
    return path


def truncate_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], keep: int | float = 0.5) -> Path:
    """Copy the first ``keep`` bytes (int) or fraction (float) of ``src`` to ``dst``."""
    data = Path(src).read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else int(keep)
    dst = Path(dst)
    dst.write_bytes(data[:n])
    return dst
