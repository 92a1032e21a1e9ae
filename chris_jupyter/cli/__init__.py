"""The ``chris-jupyter`` command: start the platform, and use the library from a shell.

One module per group of subcommands, each with a ``register(sub)``: :mod:`.launch` (``up``,
``hub``), :mod:`.library` (files, shares, search, studies), :mod:`.admin` (plugins, compute
resources, users), :mod:`.jobs` (``run``), and ``compute serve`` in :mod:`chris_jupyter.remote.cli`.
"""

from __future__ import annotations

import argparse
import sys

import httpx

from ..client import ChrisApiError
from . import admin, jobs, launch, library
from .jobs import typed_params
from .launch import hub_build_steps, up_banner

__all__ = ["build_parser", "error_line", "hub_build_steps", "main", "typed_params", "up_banner"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chris-jupyter", description=__doc__.splitlines()[0])
    p.add_argument("--url", help="server URL (default: $CHRIS_URL or the local running server)")
    p.add_argument("--token", help="API token (default: $CHRIS_TOKEN or the local server's token)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds to wait for the server's answer to one request (default 300)")
    sub = p.add_subparsers(dest="command", required=True)
    launch.register(sub)
    library.register(sub)
    admin.register(sub)

    from ..remote.cli import register as register_compute_serve

    register_compute_serve(sub)
    jobs.register(sub)
    return p


def error_line(exc: BaseException, args: argparse.Namespace) -> str | None:
    """The one line the CLI prints for an error it knows, by the error's type (``None``: a bug)."""
    if isinstance(exc, ChrisApiError | ValueError | OSError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return (f"the server did not answer within {args.timeout:g} s ({type(exc).__name__}); "
                "it may still be working: try again, or raise --timeout")
    if isinstance(exc, httpx.ConnectError):
        return f"cannot reach the server at {args.url or 'the configured URL'}: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"talking to the server failed: {type(exc).__name__}: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        line = error_line(e, args)
        if line is None:
            raise
        print(f"chris-jupyter: {line}", file=sys.stderr)
        return 1
