"""ChRIS for Jupyter: the ChRIS medical-imaging platform as a Jupyter server extension."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["Client", "__version__", "view"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import ChrisApp

    return [{"module": "chris_jupyter.app", "app": ChrisApp}]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package for the server extension must not pull in httpx or widgets.
    if name == "Client":
        from .client import Client

        return Client
    if name == "view":
        from .widgets import view

        return view
    raise AttributeError(name)
