"""REST API: one module per resource, each with ``AUTH_RESOURCE``, ``default_handlers`` and
``openapi_paths``. A new resource adds its module name to ``MODULES``.

``AUTH_RESOURCE`` is what the Jupyter server's ``Authorizer`` is asked about (``chris:files``,
``chris:compute``, …; see :func:`auth_resources`), so a deployment can allow one area and not another.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

MODULES = [
    "files", "shares", "feeds", "users", "dicom", "pacs", "annotations", "plugins", "instances", "pipelines",
    "compute_resources", "events", "openapi", "viewer_assets",
]


def api_modules() -> list[ModuleType]:
    """The API modules, imported."""
    return [importlib.import_module(f"{__name__}.{m}") for m in MODULES]


def all_handlers() -> list[tuple[str, Any]]:
    """Every ``(url pattern, handler class)`` of the API."""
    return [h for mod in api_modules() for h in mod.default_handlers]


@functools.cache
def auth_resources() -> frozenset[str]:
    """The authorization resources of the API, one per module (``chris:files``, ``chris:compute``, …),
    and ``chris:cube`` for the CUBE-compatible ``api/v1/`` (:mod:`chris_jupyter.api.cube`)."""
    from .cube.base import AUTH_RESOURCE as CUBE

    return frozenset(mod.AUTH_RESOURCE for mod in api_modules()) | {CUBE}
