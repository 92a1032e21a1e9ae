"""The viewer's browser bundle on disk (``widgets/static``) and its version.

One rule for both sides: the server extension serves ``viewer.js?v=<version>``
(``api/viewer_assets.py``) and the notebook widget asks for its kernel's version
(``widgets/viewer.py``); they agree because both take it from here.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "widgets" / "static"


@functools.cache
def asset(name: str) -> tuple[bytes, str]:
    """The bytes of ``STATIC/name`` (read once per process) and their version: the first
    16 hex digits of their SHA-256."""
    data = (STATIC / name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]
