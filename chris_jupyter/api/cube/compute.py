"""The one place this package calls the compute service to start a job."""

from __future__ import annotations

from typing import Any

from ...backend import Backend
from ...identity import Principal


def run_plugin(backend: Backend, principal: Principal, plugin_id: int, params: dict[str, Any], *,
               previous_id: int | None, title: str | None, resources: dict[str, Any]) -> dict[str, Any]:
    """Start ``plugin_id`` for ``principal`` (CUBE's plugin instance create)."""
    return backend.compute.run(principal, plugin_id, params, previous_id=previous_id, title=title,
                               resources=resources)
