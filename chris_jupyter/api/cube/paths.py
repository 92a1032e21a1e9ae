"""Translating between CUBE 5 path names and ours (which CUBE 6 shares), both ways.

CUBE 5 (aiochris, caw) names a user's files ``<user>/uploads/…`` and feed outputs
``<user>/feed_<id>/…``; CUBE 6 and this platform use ``home/<user>/uploads/…`` and
``home/<user>/feeds/feed_<id>/…``. Paths are only renamed here: every check stays with
:func:`chris_jupyter.paths.normalize` and the library's permissions.
"""

from __future__ import annotations

import re

from ... import paths

_TOP = (paths.HOME, paths.SERVICES, paths.PUBLIC, paths.SHARED, paths.PIPELINES)
_OLD_FEED = re.compile(r"feed_[0-9]+")


def from_cube(path: str) -> str:
    """A library path from either dialect (``<user>/…`` or ``home/<user>/…``)."""
    p = path.strip().strip("/")
    first, _, rest = p.partition("/")
    if not p or first in _TOP:
        return p
    second = rest.split("/", 1)[0]
    if _OLD_FEED.fullmatch(second):
        return f"{paths.HOME}/{first}/feeds/{rest}"
    return f"{paths.HOME}/{first}/{rest}" if rest else f"{paths.HOME}/{first}"


def to_cube5(path: str) -> str:
    """Our library path as CUBE 5 names it."""
    parts = path.split("/")
    if len(parts) >= 2 and parts[0] == paths.HOME:
        if len(parts) >= 4 and parts[2] == "feeds" and _OLD_FEED.fullmatch(parts[3]):
            return "/".join([parts[1], *parts[3:]])
        return "/".join(parts[1:])
    return path


def from_cube_list(value: str) -> str:
    """A path parameter's value: one or several comma-separated paths."""
    return ",".join(from_cube(v) for v in value.split(","))
