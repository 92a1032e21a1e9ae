"""What every ``chris-jupyter`` subcommand uses: the client from the global options, JSON output,
``name=value`` arguments."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..client import Client


def client_from(args: argparse.Namespace) -> Client:
    return Client(args.url, args.token, timeout=args.timeout)


def print_json(obj: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, default=str))


def name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"parameters are name=value, got {text!r}")
    return name, value
