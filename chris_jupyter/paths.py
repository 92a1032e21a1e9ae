"""The one place where library paths are checked and normalised.

A *library path* is a relative POSIX path below the data root, written without a leading
slash (``home/alice/uploads/scan.dcm``). Every REST handler, CLI command and core function
passes user-supplied paths through :func:`normalize` before touching the DB or the disk, and
every path built from outside data (DICOM tags, plugin names) goes through
:func:`safe_component`. Every disk location comes from :func:`to_disk`, which decides on where a
path *resolves*: symbolic links may not lead out of the library, into another owner's area, or
anywhere the caller may not use.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
# Characters no name may hold, by Unicode category: they are invisible or change how the rest of
# a name is shown (U+202E RIGHT-TO-LEFT OVERRIDE makes "exe.pdf" of "fdp.exe"), so every UI would
# show a name other than the real one. Lone surrogates cannot even be written to disk.
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character (bidirectional override, zero-width space…)",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
# Format characters that real writing needs: ZERO WIDTH NON-JOINER (Persian, Indic scripts) and
# ZERO WIDTH JOINER (the same, and emoji sequences).
_ALLOWED_FORMAT = frozenset("\u200c\u200d")
_COMPONENT_REPLACE = re.compile(r"[^\w.\-+^ ]+", re.UNICODE)


class InvalidPath(ValueError):
    """A user-supplied path that is not acceptable; the message says why (shown to the user)."""


def normalize(path: str, *, allow_root: bool = False) -> str:
    """Check and normalise a user-supplied library path.

    Parameters
    ----------
    path
        The path as received (``home/alice/x``; a trailing slash is tolerated).
    allow_root
        Accept the empty path (the library root) instead of rejecting it.

    Returns
    -------
    str
        The normalised path: NFC unicode, single slashes, no trailing slash.

    Raises
    ------
    InvalidPath
        For absolute paths, ``.``/``..`` components, NUL, control or invisible formatting
        characters (see :func:`check_name`), backslashes, empty components and over-long names
        or paths.
    """
    if not isinstance(path, str):
        raise InvalidPath("path must be a string")
    if "\x00" in path:
        raise InvalidPath("path contains a NUL byte")
    if path.startswith("/"):
        raise InvalidPath(f"absolute paths are not allowed (use a library path such as 'home/<user>/…'): {path!r}")
    path = unicodedata.normalize("NFC", path)
    if path.endswith("/"):
        path = path.rstrip("/")
    if path == "":
        if allow_root:
            return ""
        raise InvalidPath("path is empty")
    parts = path.split("/")
    for part in parts:
        check_name(part)
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidPath(f"path is longer than {MAX_PATH_BYTES} bytes")
    return "/".join(parts)


def check_name(name: str) -> str:
    """Check one path component (a file or folder name) and return it.

    Refused: the empty name, ``.`` and ``..``, ``/`` and ``\\``, control characters (C0 and C1),
    format characters such as the bidirectional overrides U+202A–U+202E and U+2066–U+2069 or
    the zero-width space (except U+200C/U+200D, which scripts and emoji need), lone
    surrogates, line and paragraph separators, and names over :data:`MAX_NAME_BYTES`. Names
    are taken as they are: nothing is replaced or stripped.
    """
    if name == "":
        raise InvalidPath("path has an empty component ('//')")
    if name in (".", ".."):
        raise InvalidPath(f"path components '.' and '..' are not allowed: {name!r}")
    for ch in name:
        if ch in "/\\":
            raise InvalidPath(f"name contains '/' or a backslash: {name!r}")
        what = _REFUSED_CATEGORIES.get(unicodedata.category(ch))
        if what and ch not in _ALLOWED_FORMAT:
            # ascii(): shows the offending character as an escape instead of letting it act
            raise InvalidPath(f"name contains {what}, U+{ord(ch):04X}: {ascii(name)}")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise InvalidPath(f"name is longer than {MAX_NAME_BYTES} bytes: {name[:40]!r}…")
    return name


def join(*parts: str) -> str:
    """Join already-valid library path pieces (empty pieces are skipped)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def parent(path: str) -> str:
    """The parent library path ('' for a top-level entry)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def basename(path: str) -> str:
    """The last component of a library path (``''`` for the root)."""
    return path.rsplit("/", 1)[-1]


def is_within(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` itself or lies below it ('' is the root)."""
    return folder == "" or path == folder or path.startswith(folder + "/")


def safe_component(value: object, *, fallback: str = "unknown", max_bytes: int = 100) -> str:
    """Turn outside data (a DICOM tag, a plugin name) into one safe path component.

    Characters other than letters, digits, ``. - + ^ _`` and space become ``_``; the result is
    never empty, ``.`` or ``..``, and is cut to ``max_bytes`` UTF-8 bytes.
    """
    text = unicodedata.normalize("NFC", str(value if value is not None else "")).strip()
    text = _COMPONENT_REPLACE.sub("_", text).strip(" .")
    if not text:
        text = fallback
    while len(text.encode()) > max_bytes:
        text = text[:-1]
    return text


class LinkRefused(InvalidPath):
    """A path whose real location, after the symbolic links on the way, may not be used.

    The message names the path as given, never where the link leads.
    """


def to_disk(root: Path, path: str, *, allowed: Callable[[str], bool] | None = None) -> Path:
    """The on-disk location of a normalised library path; access is decided on where it resolves.

    Symbolic links (anywhere on the way, the last component included) are resolved, and the
    path is refused with :class:`LinkRefused` when its real location

    - leaves the data root,
    - lies in another :func:`area` than the path itself (a link in bob's home that leads into
      alice's, or from a home into ``SERVICES``), or
    - is not open to the caller: ``allowed(real library path)`` is false (the caller's read
      rule, or its write rule when writing).

    A path without links costs one ``realpath``. The location returned is the path as given,
    not resolved: a rename or a delete acts on a link itself, not on what it points to.
    """
    root_real = os.path.realpath(root)
    target = os.path.join(root_real, *path.split("/")) if path else root_real
    real = os.path.realpath(target)
    if real == target:
        return Path(target)
    if real != root_real and not real.startswith(root_real + os.sep):
        raise LinkRefused(f"{path!r} leaves the library through a symbolic link: refused")
    real_lib = "" if real == root_real else os.path.relpath(real, root_real).replace(os.sep, "/")
    if area(real_lib) != area(path):
        raise LinkRefused(f"{path!r} goes through a symbolic link that leads out of its owner's area: refused")
    if allowed is not None and not allowed(real_lib):
        raise LinkRefused(f"{path!r} goes through a symbolic link to a place you may not use: refused")
    return Path(target)


def area(path: str) -> str:
    """The part of the library a path belongs to, for the symbolic-link rule of :func:`to_disk`.

    A user's home (``home/<user>``) or pipelines folder (``PIPELINES/<user>``); elsewhere the
    top-level folder (``SERVICES``, ``PUBLIC`` …); ``home`` and the root are areas of their own.
    """
    parts = path.split("/")
    if len(parts) >= 2 and parts[0] in (HOME, PIPELINES):
        return "/".join(parts[:2])
    return parts[0]


# Top-level folders of the ChRIS layout.
HOME = "home"
SERVICES = "SERVICES"
PACS = "SERVICES/PACS"
PUBLIC = "PUBLIC"
SHARED = "SHARED"
PIPELINES = "PIPELINES"


def home(username: str) -> str:
    """``home/<username>``: a user's home folder."""
    return join(HOME, check_name(username))


def uploads(username: str) -> str:
    """``home/<username>/uploads``: where a user's uploads go."""
    return join(home(username), "uploads")


def feeds_root(username: str) -> str:
    """``home/<username>/feeds``: the folder of a user's feeds."""
    return join(home(username), "feeds")


def feed_dir(username: str, feed_id: int) -> str:
    """``home/<username>/feeds/feed_<id>``: one feed's folder."""
    return join(feeds_root(username), f"feed_{int(feed_id)}")


_FEED_DIR = re.compile(r"feed_([0-9]+)")


def feed_id_of(path: str) -> int | None:
    """The feed whose folder ``path`` is (``home/<user>/feeds/feed_<id>``), else ``None``."""
    owner = owner_of(path)
    if owner is None or parent(path) != feeds_root(owner):
        return None
    m = _FEED_DIR.fullmatch(basename(path))
    return int(m.group(1)) if m else None


def owner_of(path: str) -> str | None:
    """The user whose home holds ``path`` (``None`` outside ``home/``)."""
    parts = path.split("/")
    if len(parts) >= 2 and parts[0] == HOME:
        return parts[1]
    return None
