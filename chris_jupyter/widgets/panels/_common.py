"""Small helpers shared by the panel widgets."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ...states import (
    CANCELLED,
    COPYING,
    CREATED,
    ERROR,
    REGISTERING,
    SCHEDULED,
    STARTED,
    SUCCESS,
    UPLOADING,
    WAITING,
)
from ...utils.text import human_size  # noqa: F401  (re-exported for the panels)

STATE_COLORS = {
    CREATED: "#6b7280", WAITING: "#6b7280", SCHEDULED: "#2563eb", COPYING: "#2563eb",
    STARTED: "#2563eb", UPLOADING: "#2563eb",
    REGISTERING: "#7c3aed", SUCCESS: "#15803d", ERROR: "#b91c1c", CANCELLED: "#92400e",
}


def get_client(client: Any | None) -> Any:
    """The given client, else ``Client()`` (inside a kernel it finds its server by itself)."""
    if client is not None:
        return client
    from ...client import Client

    return Client()


def badge(state: str) -> str:
    color = STATE_COLORS.get(state, "#6b7280")
    return (f'<span class="chris-state" data-state="{html.escape(state)}" style="color:#fff;'
            f'background:{color};border-radius:3px;padding:0 6px;font-size:90%">{html.escape(state)}</span>')


def message(text: str, kind: str = "info") -> str:
    """HTML of a one-line message: ``kind`` is info | error | ok."""
    if not text:
        return ""
    color = {"error": "#b91c1c", "ok": "#15803d"}.get(kind, "#374151")
    return f'<div class="chris-msg chris-msg-{kind}" style="color:{color}">{html.escape(text)}</div>'


def row_layout(**kw: Any) -> W.Layout:
    return W.Layout(align_items="center", min_height="28px", **kw)
