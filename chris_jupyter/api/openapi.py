"""The OpenAPI document of the whole REST API, assembled from each module's ``openapi_paths``."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:api"


def document(modules: list[Any]) -> dict[str, Any]:
    """The OpenAPI 3 description of the API, assembled from every module's ``openapi_paths``."""
    paths: dict[str, Any] = {}
    for mod in modules:
        for p, ops in getattr(mod, "openapi_paths", {}).items():
            for op in ops.values():
                op.setdefault("responses", {"200": {"description": "OK"}})
            paths.setdefault(p, {}).update(ops)
    return {
        "openapi": "3.0.3",
        "info": {"title": "ChRIS for Jupyter", "version": __version__,
                 "description": "Library, feeds, sharing, DICOM and compute API of chris_jupyter."},
        "servers": [{"url": "/" + api_path("")}],
        "components": {"securitySchemes": {
            "apiToken": {"type": "http", "scheme": "bearer",
                         "description": "A token from POST /tokens (prefix chris_)"},
            "jupyter": {"type": "apiKey", "in": "header", "name": "Authorization",
                        "description": "The Jupyter server's token or login cookie"}}},
        "security": [{"apiToken": []}, {"jupyter": []}],
        "paths": dict(sorted(paths.items())),
    }


class OpenAPIHandler(ChrisHandler):
    """``GET openapi.json``: the API's OpenAPI description."""

    @endpoint
    async def get(self) -> None:
        """The OpenAPI document."""
        from . import api_modules

        self.reply(document(api_modules()))


default_handlers = [(api_path("openapi.json"), OpenAPIHandler)]
openapi_paths = {"/openapi.json": {"get": {"summary": "This document"}}}
