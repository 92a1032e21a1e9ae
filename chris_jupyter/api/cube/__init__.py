"""A CUBE-compatible REST API at ``<base_url>api/v1/``, so that the existing ChRIS clients
(aiochris, caw, python-chrisclient) work against this platform unmodified.

Thin: every route parses CUBE's request shape, calls the same core services as the native API
(``chris/api/v1/``) and answers in CUBE's shape. No rule lives here: paths are only renamed
(:mod:`.paths`), permissions and checks stay in the core.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

MODULES = ["auth", "users", "root", "tags", "plugins", "instances", "files", "pipelines", "openapi"]


def cube_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{m}") for m in MODULES]


def all_handlers() -> list[tuple[str, Any]]:
    return [h for mod in cube_modules() for h in mod.default_handlers]
