"""Running plugins from a shell: ``chris-jupyter run`` with typed ``-p name=value`` parameters."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import client_from, name_value

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def typed_params(plugin: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    """``name=value`` strings typed by the plugin's descriptor (never guessed from the value:
    ``sleepLength=0`` stays the string ``"0"`` for a ``str`` parameter)."""
    types = {p["name"]: p["type"] for p in plugin.get("parameters") or []}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        kind = types.get(name)
        try:
            if kind == "int":
                out[name] = int(value)
            elif kind == "float":
                out[name] = float(value)
            elif kind == "bool" and value.strip().lower() in _TRUE + _FALSE:
                out[name] = value.strip().lower() in _TRUE
            elif kind == "bool":
                raise ValueError(value)
            else:  # str, path, unextpath; an unknown name goes as given (the server names it)
                out[name] = value
        except ValueError:
            raise ValueError(f"parameter {name}={value!r}: {plugin['name']} expects {kind}") from None
    return out


def cmd_run(args: argparse.Namespace) -> int:
    c = client_from(args)
    ref = f"{args.plugin}@{args.version}" if args.version and not args.plugin.isdigit() else args.plugin
    params = typed_params(c.plugin(ref), dict(args.param or []))
    inst = c.run(args.plugin, params, previous_id=args.previous, version=args.version,
                 title=args.title, compute_resource_name=args.compute_resource)
    print(f"instance {inst['id']} ({inst['plugin']} {inst['plugin_version']}): {inst['state']}")
    if args.wait:
        inst = c.wait(inst["id"], timeout=args.wait)
        print(f"instance {inst['id']}: {inst['state']} — output in {inst['output_path']}")
        if inst["state"] != "finishedSuccessfully":
            print(inst.get("error") or c.logs(inst["id"])[-2000:], file=sys.stderr)
            return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """The ``run`` subcommand."""
    rn = sub.add_parser("run", help="run a plugin")
    rn.add_argument("plugin", help="name, name@version or id")
    rn.add_argument("-p", "--param", action="append", type=name_value, help="name=value (repeat)")
    rn.add_argument("--previous", type=int, help="instance to run after (ds plugins)")
    rn.add_argument("--version")
    rn.add_argument("--title")
    rn.add_argument("--compute-resource", help="where to run it (default: the plugin's first compute resource)")
    rn.add_argument("--wait", type=float, nargs="?", const=3600, help="wait until it ends (seconds)")
    rn.set_defaults(func=cmd_run)
