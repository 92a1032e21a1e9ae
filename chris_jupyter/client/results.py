"""Client results that show as tables in a notebook.

The client returns the server's JSON as it is, wrapped in :class:`Page` (a ``dict`` with
``items``), :class:`Rows` (a ``list`` of dicts) or :class:`Record` (one ``dict``). They *are* the
dicts and lists (indexing, ``==``, ``json.dumps`` keep working); only their notebook display
changes: ``_repr_html_`` renders an HTML table, every value escaped. ``.data`` is the plain
JSON (a copy without the wrapper types), for code that wants exactly that.
"""

from __future__ import annotations

import html
import json
from typing import Any

MAX_ROWS = 50          # rows shown in a notebook (the data keeps them all)
MAX_CELL = 80          # characters of one cell shown
PREFERRED = ("id", "name", "path", "kind", "size", "owner", "state", "title", "version", "type",
             "patient_id", "patient_name", "study_date", "modality", "description", "series_count",
             "instance_count", "pacs", "plugin", "plugin_name", "feed_id", "created", "modified")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(_plain(value), default=str)
    elif value is None:
        text = ""
    else:
        text = str(value)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return html.escape(text)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows[:MAX_ROWS]:
        for k in r:
            seen.setdefault(k, None)
    first = [k for k in PREFERRED if k in seen]
    return first + [k for k in seen if k not in first]


def html_table(rows: list[Any], caption: str = "") -> str:
    """An escaped HTML table of dict rows (other rows get one ``value`` column)."""
    dict_rows = [r if isinstance(r, dict) else {"value": r} for r in rows]
    cols = _columns(dict_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>"
                   for r in dict_rows[:MAX_ROWS])
    more = len(rows) - MAX_ROWS
    cap = html.escape(caption) + (f" — first {MAX_ROWS} shown" if more > 0 else "")
    return (f'<table class="chris-result"><caption style="text-align:left">{cap}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


class Record(dict):
    """One JSON object (a user, a plugin, a job …), shown as a field/value table."""

    kind = "record"

    @property
    def data(self) -> dict[str, Any]:
        return _plain(self)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>"
                       for k, v in self.items())
        return f'<table class="chris-result"><caption style="text-align:left">{html.escape(self.kind)}' \
               f"</caption><tbody>{rows}</tbody></table>"


class Rows(list):
    """A list of JSON objects (plugins, jobs, feeds …), shown as one table."""

    kind = "items"

    def __init__(self, items: Any = (), kind: str | None = None) -> None:
        super().__init__(items)
        if kind:
            self.kind = kind

    @property
    def data(self) -> list[Any]:
        return _plain(self)

    def _repr_html_(self) -> str:
        return html_table(list(self), f"{len(self)} {self.kind}")


class Page(dict):
    """One page of a listing or search: ``{"total", "items", …}``, shown as a table of the items."""

    kind = "items"

    def __init__(self, page: dict[str, Any], kind: str | None = None) -> None:
        super().__init__(page)
        if kind:
            self.kind = kind

    @property
    def data(self) -> dict[str, Any]:
        return _plain(self)

    def _repr_html_(self) -> str:
        items = self.get("items") or []
        total = self.get("total", len(items))
        where = f" in {self['path']}" if self.get("path") else ""
        shown = f"{len(items)} of {total}" if total != len(items) else f"{total}"
        return html_table(list(items), f"{shown} {self.kind}{where}")


def page(value: Any, kind: str) -> Any:
    return Page(value, kind) if isinstance(value, dict) else value


def rows(value: Any, kind: str) -> Any:
    return Rows(value, kind) if isinstance(value, list) else value


def record(value: Any, kind: str) -> Any:
    if not isinstance(value, dict):
        return value
    out = Record(value)
    out.kind = kind
    return out


_KINDS = {"files": "entries", "instances": "jobs", "studies": "studies", "plugins": "plugins"}


def kind_of(endpoint: str) -> str:
    """What an endpoint's items are called: ``dicom/studies`` → ``studies``, ``instances/3`` → ``job``."""
    parts = [p for p in endpoint.split("?")[0].strip("/").split("/") if p]
    words = [p for p in parts if not p.isdigit()] or ["result"]
    last = words[-1]
    if parts and parts[-1].isdigit():  # one object of a collection
        single = _KINDS.get(last, last)
        return single[:-1] if single.endswith("s") else single
    return _KINDS.get(last, last)


def wrap(value: Any, endpoint: str) -> Any:
    """The server's JSON, as the display types above (a dict with ``items`` is a page)."""
    kind = kind_of(endpoint)
    if isinstance(value, dict):
        if isinstance(value.get("items"), list):
            return Page(value, kind)
        return record(value, kind)
    if isinstance(value, list):
        return Rows(value, kind)
    return value
