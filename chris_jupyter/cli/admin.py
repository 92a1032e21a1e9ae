"""Administration from a shell: plugins, compute resources, users and their passwords."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import client_from, name_value


def cmd_user_add(args: argparse.Namespace) -> int:
    c = client_from(args)
    c.create_user(args.username, groups=args.group or [], is_admin=args.admin)
    tok = c.create_token(args.username, name="cli")
    print(f"user {args.username} ready; API token (shown once):")
    print(tok["token"])
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    if args.remove:
        password = None
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        password = getpass.getpass(f"new password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("chris-jupyter: the passwords differ; nothing changed", file=sys.stderr)
            return 1
    client_from(args).set_password(args.username, password)
    print(f"password of {args.username} {'removed' if password is None else 'set'}")
    return 0


def cmd_plugin_add(args: argparse.Namespace) -> int:
    c = client_from(args)
    extra = {"name": args.name, "version": args.version}
    if args.descriptor:
        if args.image:
            extra["dock_image"] = args.image
        out = c.register_plugin(descriptor=Path(args.descriptor), **extra)
    elif args.image_only:
        out = c.register_plugin(image=args.image_only, **extra)
    else:
        out = c.register_plugin(executable=args.executable, **extra)
    print(f"registered {out['name']} {out['version']} ({out['type']}, id {out['id']})")
    return 0


def cmd_plugin_ls(args: argparse.Namespace) -> int:
    for p in client_from(args).plugins():
        print(f"{p['id']:>4}  {p['name']:<28} {p['version']:<10} {p['type']}  {p['title']}")
    return 0


def cmd_plugin_resources(args: argparse.Namespace) -> int:
    p = client_from(args).set_plugin_compute_resources(args.plugin, args.names)
    print(f"{p['name']} {p['version']} runs on: {', '.join(p['compute_resources'])}")
    return 0


def cmd_resource_ls(args: argparse.Namespace) -> int:
    for r in client_from(args).compute_resources():
        limit = f"max {r['max_job_time']:g} s" if r.get("max_job_time") else "no time limit"
        print(f"{r['name']:<20} {r['kind']:<10} {limit:<16} {r['description']}")
    return 0


def cmd_resource_add(args: argparse.Namespace) -> int:
    settings = {}
    for name, value in args.setting or []:
        try:
            settings[name] = json.loads(value)  # numbers, true/false, lists as JSON
        except ValueError:
            settings[name] = value
    r = client_from(args).add_compute_resource(args.name, args.kind, settings, description=args.description,
                                           max_job_time=args.max_job_time)
    print(f"added compute resource {r['name']} ({r['kind']})")
    return 0


def cmd_resource_rm(args: argparse.Namespace) -> int:
    client_from(args).remove_compute_resource(args.name)
    print(f"removed compute resource {args.name}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """The ``plugin``, ``compute-resource`` and ``user`` subcommands."""
    pl = sub.add_parser("plugin", help="plugins").add_subparsers(dest="plugin_cmd", required=True)
    pa = pl.add_parser("add", help="register a plugin (administrators)")
    src = pa.add_mutually_exclusive_group(required=True)
    src.add_argument("--descriptor", help="a descriptor JSON file (prog --json / chris_plugin_info output)")
    src.add_argument("--executable", help="an installed plugin command (local runner)")
    src.add_argument("--from-image", dest="image_only", metavar="IMAGE",
                     help="a local image; its descriptor is read from it")
    pa.add_argument("--image", help="with --descriptor: the image the plugin runs in")
    pa.add_argument("--name", help="register under this name (default: the plugin's own, else the "
                                   "image's or program's name)")
    pa.add_argument("--version", help="register as this version (default: the plugin's own, else what "
                                      "its --version says, else the image tag)")
    pa.set_defaults(func=cmd_plugin_add)
    pl.add_parser("ls", help="list plugins").set_defaults(func=cmd_plugin_ls)
    pr = pl.add_parser("resources", help="set the compute resources a plugin runs on (administrators)")
    pr.add_argument("plugin", help="name, name@version or id")
    pr.add_argument("names", nargs="+", help="compute resource names; the first is the plugin's default")
    pr.set_defaults(func=cmd_plugin_resources)
    cr = sub.add_parser("compute-resource", help="compute resources: where plugin jobs run").add_subparsers(
        dest="resource_cmd", required=True)
    cr.add_parser("ls", help="list compute resources").set_defaults(func=cmd_resource_ls)
    ca = cr.add_parser("add", help="add a compute resource (administrators)")
    ca.add_argument("name")
    ca.add_argument("kind", help="local, docker, swarm, slurm, kubernetes or a dotted Runner class path")
    ca.add_argument("-s", "--setting", action="append", type=name_value,
                    help="runner setting name=value (a JSON value or a string; repeat)")
    ca.add_argument("--description", default="")
    ca.add_argument("--max-job-time", type=float, help="seconds a job may run there")
    ca.set_defaults(func=cmd_resource_add)
    crm = cr.add_parser("rm", help="remove a compute resource without unfinished jobs (administrators)")
    crm.add_argument("name")
    crm.set_defaults(func=cmd_resource_rm)
    us = sub.add_parser("user", help="administer users").add_subparsers(dest="user_cmd", required=True)
    ua = us.add_parser("add", help="create a user and print an API token for it")
    ua.add_argument("username")
    ua.add_argument("--group", action="append")
    ua.add_argument("--admin", action="store_true")
    ua.set_defaults(func=cmd_user_add)
    up = us.add_parser("passwd", help="set a user's password (for ChRIS clients that log in with one)")
    up.add_argument("username")
    up.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    up.add_argument("--remove", action="store_true", help="remove the password (no password login)")
    up.set_defaults(func=cmd_user_passwd)
