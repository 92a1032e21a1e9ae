"""The ``chris-jupyter compute serve`` subcommand (registered by :mod:`chris_jupyter.cli`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compute serve`` to the command line's subcommands."""
    cp = sub.add_parser("compute", help="run this machine as a remote compute resource").add_subparsers(
        dest="compute_cmd", required=True)
    sv = cp.add_parser("serve", help="serve ChRIS pfcon's API (zipfile mode): other ChRIS servers push "
                       "jobs with their data here and pull the outputs back")
    sv.add_argument("--ip", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 5005)")
    sv.add_argument("--data-dir", help="this resource's own folder (default ./chris-compute-data)")
    sv.add_argument("--user", help="the user name clients log in with (default 'chris'); the password "
                    "comes from $CHRIS_COMPUTE_PASSWORD or the configuration, else one is generated and printed")
    sv.add_argument("--runner", help="dotted path of the Runner class that runs the jobs "
                    "(default chris_jupyter.compute.runners.docker.DockerRunner)")
    sv.add_argument("--config", help="a Python configuration file (c.ComputeServer.…, c.DockerRunner.…)")
    sv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import main

    argv = [f"--{opt}={value}" for opt, value in (
        ("ip", args.ip), ("port", args.port), ("data-dir", args.data_dir), ("user", args.user),
        ("runner", args.runner), ("config", args.config)) if value is not None]
    return main(argv)
