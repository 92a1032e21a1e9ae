"""What the plugin launch form shows: one field per descriptor parameter, and the run request.

Pure Python (no widgets). The server stays the one judge of a run: this model only types the
values and leaves defaults to the plugin (``resolve_params`` does not add them either), so what
the form sends is what a person changed, plus every required parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...plugins.descriptor import (
    DEFAULT_CPU_MILLICORES,
    DEFAULT_MEMORY_MIB,
    NO_LIMIT,
    DescriptorError,
    parse_cpu,
    parse_memory,
)

#: Descriptor parameter type -> the kind of input the widget layer draws.
INPUT_KINDS = {"str": "text", "int": "int", "float": "float", "bool": "checkbox",
               "path": "path", "unextpath": "path"}


@dataclass(frozen=True)
class Field:
    """One input of the form."""

    name: str
    type: str  # descriptor type: str | int | float | bool | path | unextpath
    kind: str  # text | int | float | checkbox | path
    label: str
    required: bool
    default: Any
    help: str
    flag: str

    @property
    def initial(self) -> Any:
        """What the input shows at first: the default, else an empty value of its type."""
        if self.default is not None:
            return self.default
        return {"int": 0, "float": 0.0, "checkbox": False}.get(self.kind, "")


@dataclass(frozen=True)
class ResourceRange:
    """A resource the person may choose, within the plugin's ``min``..``max``."""

    name: str  # cpu_limit | memory_limit
    label: str
    unit: str
    lo: int
    hi: int | None  # None: no ceiling declared
    default: int


def _range(name: str, label: str, unit: str, lo: int, hi: int, preferred: int) -> ResourceRange:
    ceiling = None if hi >= NO_LIMIT else hi
    return ResourceRange(name, label, unit, lo, ceiling, min(max(preferred, lo), hi))


class FormModel:
    """The form of one plugin (a ``GET plugins`` item: ``parameters`` and ``descriptor``)."""

    def __init__(self, plugin: dict[str, Any]) -> None:
        self.plugin = plugin
        self.plugin_type: str = plugin.get("type") or "ds"
        params = plugin.get("parameters") or (plugin.get("descriptor") or {}).get("parameters") or []
        self.fields: list[Field] = [
            Field(
                name=p["name"], type=p["type"], kind=INPUT_KINDS.get(p["type"], "text"),
                label=p["name"] + ("" if p.get("optional") else " *"),
                required=not p.get("optional", False), default=p.get("default"),
                help=p.get("help") or "", flag=p.get("flag") or "",
            )
            for p in params
            if p.get("ui_exposed", True)
        ]
        desc = plugin.get("descriptor") or {}
        self.resources = [
            _range("cpu_limit", "CPU", "millicores",
                   *self._limits(desc, "cpu_limit", parse_cpu, DEFAULT_CPU_MILLICORES), DEFAULT_CPU_MILLICORES),
            _range("memory_limit", "Memory", "MiB",
                   *self._limits(desc, "memory_limit", parse_memory, DEFAULT_MEMORY_MIB), DEFAULT_MEMORY_MIB),
        ]

    @staticmethod
    def _limits(desc: dict[str, Any], what: str, parse: Any, default: int) -> tuple[int, int]:
        try:
            lo_raw, hi_raw = desc.get(f"min_{what}"), desc.get(f"max_{what}")
            lo = default if lo_raw in (None, "") else parse(lo_raw)
            hi = NO_LIMIT if hi_raw in (None, "") else parse(hi_raw)
        except DescriptorError:
            return default, NO_LIMIT  # the server judges the request anyway
        return lo, max(lo, hi)

    @property
    def title(self) -> str:
        p = self.plugin
        return f"{p.get('title') or p['name']} ({p['name']} v{p.get('version', '?')}, {self.plugin_type})"

    @property
    def needs_parent(self) -> bool:
        """``ds`` plugins run after a parent instance (``previous_id``); ``fs`` start a feed."""
        return self.plugin_type == "ds"

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """The ``params`` of the run: required fields, and optional ones changed from the default.

        An empty text of a required field is left out, so the server names it as missing.
        """
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in values:
                continue
            value = values[f.name]
            if f.kind in ("text", "path"):
                value = "" if value is None else str(value)
                if f.kind == "path":
                    value = value.strip()
                if value == "" and (f.required or f.default in (None, "")):
                    continue
            if f.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if f.required or value != f.default:
                out[f.name] = value
        return out

    def request(self, values: dict[str, Any], *, resources: dict[str, int] | None = None,
                previous_id: int | None = None, title: str = "") -> dict[str, Any]:
        """The keyword arguments of :meth:`chris_jupyter.Client.run` for these inputs."""
        body: dict[str, Any] = {"plugin": self.plugin["id"], "params": self.params(values)}
        if resources:
            body["resources"] = {k: int(v) for k, v in resources.items() if v is not None}
        if previous_id:
            body["previous_id"] = int(previous_id)
        if title.strip():
            body["title"] = title.strip()
        return body
