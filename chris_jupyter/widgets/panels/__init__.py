"""Panels as notebook widgets: what a JupyterLab side panel gives, inside a notebook.

- :class:`LibraryBrowser`: folder tree (lazy, paginated) and search; opens volumes in the viewer.
- :class:`JobMonitor`: live job states of a feed (event stream), logs, cancel.
- :class:`LaunchForm`: a plugin's parameters as a form; "Run" starts it, a monitor follows it.

The logic lives in widget-free modules (``library_model``, ``jobs_model``, ``form_model``);
these widgets only draw it. Plain ipywidgets 8: no JavaScript of their own to bundle.
"""

from __future__ import annotations

from .jobs import JobMonitor
from .launch import LaunchForm
from .library import LibraryBrowser

__all__ = ["JobMonitor", "LaunchForm", "LibraryBrowser"]
