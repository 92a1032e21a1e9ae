"""Notebook widgets: the offline volume viewer (``Viewer``, ``view``).

Imported lazily so ``import chris_jupyter.widgets`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .panels import JobMonitor, LaunchForm, LibraryBrowser  # noqa: F401  (panels as widgets)

if TYPE_CHECKING:
    from .viewer import Viewer, view

__all__ = ["Viewer", "view"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import viewer

        return getattr(viewer, name)
    raise AttributeError(name)
