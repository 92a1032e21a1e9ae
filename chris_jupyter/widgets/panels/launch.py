"""``LaunchForm``: a form made from a plugin's descriptor; "Run" starts the plugin.

Each parameter gets the input of its type (text, integer, float, checkbox, library path),
required ones are marked ``*``, defaults are filled in, the help text is the tooltip. CPU and
memory are bounded by the plugin's min/max. The server judges the run: when it refuses, its
message is shown under the form. A started job is handed to a :class:`JobMonitor`.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ._common import get_client, message
from .form_model import Field, FormModel

_STYLE = {"description_width": "160px"}
_LAYOUT = {"width": "480px"}


def _input(f: Field) -> W.Widget:
    common: dict[str, Any] = {"description": f.label, "tooltip": f.help or f.flag, "style": _STYLE}
    if f.kind == "checkbox":
        w: W.Widget = W.Checkbox(value=bool(f.initial), indent=False, **common)
    elif f.kind == "int":
        w = W.IntText(value=int(f.initial), layout=W.Layout(**_LAYOUT), **common)
    elif f.kind == "float":
        w = W.FloatText(value=float(f.initial), layout=W.Layout(**_LAYOUT), **common)
    else:
        placeholder = "library path, e.g. home/<you>/uploads/scan" if f.kind == "path" else f.help[:60]
        w = W.Text(value=str(f.initial), placeholder=placeholder, layout=W.Layout(**_LAYOUT), **common)
    w.add_class("chris-param")
    w.add_class(f"chris-param-{f.kind}")
    if f.required:
        w.add_class("chris-required")
    return w


class LaunchForm(W.VBox):
    """Run one plugin from a form.

    Parameters
    ----------
    plugin
        A plugin name (its newest version), an id, or a ``GET plugins`` item.
    client
        A :class:`chris_jupyter.Client`; by default ``Client()``.
    monitor
        A :class:`JobMonitor` that follows the feed of each job started here.
    previous_id
        For ``ds`` plugins: the parent instance filled in at first.
    """

    def __init__(self, plugin: str | int | dict[str, Any], client: Any | None = None, *,
                 monitor: Any | None = None, previous_id: int | None = None, **kwargs: Any) -> None:
        self.client = get_client(client)
        self.model = FormModel(self._resolve(plugin))
        self.monitor = monitor
        self.last_instance: dict[str, Any] | None = None
        self.inputs: dict[str, W.Widget] = {f.name: _input(f) for f in self.model.fields}
        self.resource_inputs: dict[str, W.BoundedIntText] = {}
        for r in self.model.resources:
            hi = r.hi if r.hi is not None else 2**31 - 1
            ceiling = f"{r.hi}" if r.hi is not None else "no limit"
            w = W.BoundedIntText(value=r.default, min=r.lo, max=hi, description=f"{r.label} ({r.unit})",
                                 tooltip=f"{r.lo} to {ceiling} {r.unit} for this plugin", style=_STYLE,
                                 layout=W.Layout(**_LAYOUT))
            w.add_class("chris-resource")
            self.resource_inputs[r.name] = w
        self.title_input = W.Text(description="Title", placeholder="optional", style=_STYLE,
                                  layout=W.Layout(**_LAYOUT))
        self.previous_input = W.IntText(value=previous_id or 0, description="After job # *",
                                        tooltip="the parent plugin instance whose output is the input",
                                        style=_STYLE, layout=W.Layout(**_LAYOUT))
        self.run_button = W.Button(description="Run", icon="play", button_style="primary")
        self.run_button.add_class("chris-run")
        self.message = W.HTML()
        self.run_button.on_click(lambda _: self.run())

        p = self.model.plugin
        desc = (p.get("descriptor") or {}).get("description") or ""
        parts: list[W.Widget] = [W.HTML(f"<b>{html.escape(self.model.title)}</b>"
                                        + (f"<br><small>{html.escape(desc)}</small>" if desc else ""))]
        if self.model.needs_parent:
            parts.append(self.previous_input)
        parts += list(self.inputs.values())
        if not self.model.fields:
            parts.append(W.HTML("<i>this plugin takes no parameters</i>"))
        parts += [W.HTML("<small>* required</small>"), self.title_input,
                  *self.resource_inputs.values(), W.HBox([self.run_button]), self.message]
        super().__init__(parts, **kwargs)
        self.add_class("chris-launch-form")

    def _resolve(self, plugin: str | int | dict[str, Any]) -> dict[str, Any]:
        if isinstance(plugin, dict):
            return plugin
        if isinstance(plugin, int):
            return self.client.get(f"plugins/{plugin}")
        name, _, version = str(plugin).partition("@")
        found = [p for p in self.client.plugins(name) if not version or p["version"] == version]
        if not found:
            raise LookupError(f"no plugin {plugin!r} is registered")
        return found[-1]  # the list is sorted by version: the newest

    # -- reading the inputs ---------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.inputs.items()}

    def request(self) -> dict[str, Any]:
        """The :meth:`Client.run` keyword arguments of what the form shows now."""
        resources = {k: w.value for k, w in self.resource_inputs.items()}
        return self.model.request(self.values(), resources=resources,
                                  previous_id=self.previous_input.value if self.model.needs_parent else None,
                                  title=self.title_input.value)

    def run(self) -> dict[str, Any] | None:
        """POST the run; on success the monitor follows the new job, on refusal the server's
        message is shown. Returns the new instance, or None when refused."""
        from ...client import ChrisApiError

        self.run_button.disabled = True
        try:
            inst = self.client.run(**self.request())
        except ChrisApiError as e:
            self.message.value = message(f"not started: {e.message}", "error")
            return None
        finally:
            self.run_button.disabled = False
        self.last_instance = inst
        self.message.value = message(f"started job #{inst['id']} ({inst['state']}) in feed #{inst['feed_id']}", "ok")
        if self.monitor is not None:
            self.monitor.follow(inst["feed_id"], select=inst["id"])
        return inst
