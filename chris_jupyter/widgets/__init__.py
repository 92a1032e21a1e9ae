"""Notebook widgets: the offline volume viewer (``Viewer``, ``view``) and the panels
(``LibraryBrowser``, ``JobMonitor``, ``LaunchForm``).

Imported lazily so ``import chris_jupyter.widgets`` stays cheap: a notebook's first viewer
does not wait for the panels' client code (the time to first slice of a fresh kernel).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .panels import JobMonitor, LaunchForm, LibraryBrowser
    from .viewer import Viewer, view

_WHERE = {"Viewer": "viewer", "view": "viewer", "JobMonitor": "panels", "LaunchForm": "panels",
          "LibraryBrowser": "panels"}
__all__ = ["JobMonitor", "LaunchForm", "LibraryBrowser", "Viewer", "view"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(name)
