"""``api/v1/openapi.json``: the OpenAPI description of the CUBE-compatible routes."""

from __future__ import annotations

from typing import Any

from ..._version import __version__
from ..base import endpoint
from .base import CubeHandler, cube_path


def document() -> dict[str, Any]:
    from . import cube_modules

    paths: dict[str, Any] = {}
    for mod in cube_modules():
        for p, ops in getattr(mod, "openapi_paths", {}).items():
            for op in ops.values():
                op.setdefault("responses", {"200": {"description": "OK"},
                                            "401": {"description": "{detail}: no or bad credentials"}})
            paths.setdefault(p, {}).update(ops)
    return {
        "openapi": "3.0.3",
        "info": {"title": "ChRIS for Jupyter: CUBE-compatible API", "version": __version__,
                 "description": "The subset of CUBE's REST API that aiochris, caw and python-chrisclient "
                                "use. JSON with 'Accept: application/json', else Collection+JSON."},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {
            "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                      "description": "'Token chris_…' from POST /auth-token/ or chris-jupyter user add"},
            "basic": {"type": "http", "scheme": "basic", "description": "username and password"}}},
        "security": [{"token": []}, {"basic": []}],
        "paths": dict(sorted(paths.items())),
    }


class OpenAPIHandler(CubeHandler):
    @endpoint
    async def get(self) -> None:
        self.reply(document())


default_handlers = [(cube_path("openapi.json"), OpenAPIHandler)]
openapi_paths = {"/openapi.json": {"get": {"summary": "This document"}}}
