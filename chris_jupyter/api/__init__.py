"""REST API: one module per resource, each with ``AUTH_RESOURCE``, ``default_handlers`` and
``openapi_paths``. A new resource adds its module name to ``MODULES``."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

MODULES = [
    "files", "shares", "feeds", "users", "dicom", "pacs", "annotations", "plugins", "instances", "pipelines",
    "events", "openapi",
]


def api_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{m}") for m in MODULES]


def all_handlers() -> list[tuple[str, Any]]:
    return [h for mod in api_modules() for h in mod.default_handlers]
