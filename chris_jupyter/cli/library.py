"""The library from a shell: list, upload, download, share (and share a hub server), search files and studies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..client import HubServer
from ..utils.text import human_size
from .common import client_from, print_json


def cmd_ls(args: argparse.Namespace) -> int:
    c = client_from(args)
    page = c.ls(args.path, limit=args.limit, offset=args.offset)
    if args.json:
        print_json(page, True)
        return 0
    for e in page["items"]:
        kind = "d" if e["kind"] == "folder" else "-"
        size = "" if e["kind"] == "folder" else human_size(e["size"])
        print(f"{kind} {size:>9}  {e['owner'] or '-':<12} {e['name']}{'/' if kind == 'd' else ''}")
    shown = args.offset + len(page["items"])
    if shown < page["total"]:
        print(f"… {page['total'] - shown} more (use --offset {shown})", file=sys.stderr)
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    c = client_from(args)
    dest = args.dest or f"home/{c.me()['username']}/uploads/{Path(args.source).name}"
    out = c.upload(args.source, dest, overwrite=args.overwrite, progress=not args.quiet)
    n = len(out) if isinstance(out, list) else 1
    print(f"uploaded {n} file{'s' if n != 1 else ''} to {dest}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    path = client_from(args).download(args.path, args.dest, progress=not args.quiet)
    print(f"saved {path}")
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    # Options that do not apply are refused, not ignored: a user who asked for an expiry or for
    # write access must not get a share without it.
    if args.expires_days is not None and not args.link:
        print("chris-jupyter: --expires-days applies to --link only (shares last until removed)", file=sys.stderr)
        return 2
    if args.write and args.link:
        print("chris-jupyter: --write applies to --user and --group (links are read-only)", file=sys.stderr)
        return 2
    c = client_from(args)
    if args.link:
        out = c.link(args.path, expires_in=(7 if args.expires_days is None else args.expires_days) * 86400)
        print(out["url"])
        print(f"(expires {out['expires_at']}; anyone with this link can read {args.path})", file=sys.stderr)
        return 0
    out = c.share(args.path, user=args.user, group=args.group, public=args.public,
                  permission="write" if args.write else "read")
    who = args.user or (f"group {args.group}" if args.group else "everyone")
    print(f"shared {args.path} with {who} ({out['permission']})")
    return 0


def cmd_share_server(args: argparse.Namespace) -> int:
    """Share codes for the JupyterHub server this runs in (no ChRIS connection needed)."""
    server = HubServer.from_env()
    if args.list:
        codes, shares = server.codes(), server.shares()
        if args.json:
            print_json({"codes": codes, "shares": shares}, True)
            return 0
        for c in codes:
            print(f"{c['id']}  expires {c['expires_at']}  accepted {c['exchange_count']}x")
        for s in shares:
            print(f"shared with {(s['user'] or s['group'])['name']} ({s['kind']})")
        return 0
    if args.revoke:
        server.revoke_code(args.revoke)
        print("revoked the share code")
        return 0
    if args.stop:
        server.revoke_code()
        server.revoke_shares()
        print(f"{server.user}'s server is shared with no one now (all codes revoked)")
        return 0
    model = server.create_code(args.expires_in)
    if args.json:
        print_json(model, True)
        return 0
    print(f"share link (valid until {model['expires_at']}): {model['full_accept_url']}")
    print("whoever accepts it works in this server as you: your files, your kernels, your ChRIS identity",
          file=sys.stderr)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    page = client_from(args).search(name=args.name, under=args.under, owner=args.owner, limit=args.limit)
    for e in page["items"]:
        print(e["path"])
    print(f"{page['total']} match{'es' if page['total'] != 1 else ''}", file=sys.stderr)
    return 0


def cmd_studies(args: argparse.Namespace) -> int:
    filters = {k: v for k, v in {"patient_id": args.patient_id, "patient_name": args.patient_name,
                                 "study_date": args.date, "modality": args.modality,
                                 "description": args.description}.items() if v}
    page = client_from(args).studies(**filters)
    if args.json:
        print_json(page, True)
        return 0
    for st in page["items"]:
        print(f"{st['study_date']}  {st['patient_id']:<14} {st['patient_name']:<24} "
              f"{','.join(st['modalities']):<6} {st['num_series']} series {st['num_instances']} images  "
              f"{st['study_description']}")
    print(f"{page['total']} stud{'ies' if page['total'] != 1 else 'y'}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """The library's subcommands."""
    ls = sub.add_parser("ls", help="list a library folder")
    ls.add_argument("path", nargs="?", default="")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--offset", type=int, default=0)
    ls.set_defaults(func=cmd_ls)
    up_ = sub.add_parser("upload", help="upload a file or folder")
    up_.add_argument("source")
    up_.add_argument("dest", nargs="?", help="library path (default: home/<me>/uploads/<name>)")
    up_.add_argument("--overwrite", action="store_true")
    up_.add_argument("-q", "--quiet", action="store_true")
    up_.set_defaults(func=cmd_upload)
    dl = sub.add_parser("download", help="download a file, or a folder as zip")
    dl.add_argument("path")
    dl.add_argument("dest", nargs="?")
    dl.add_argument("-q", "--quiet", action="store_true")
    dl.set_defaults(func=cmd_download)
    sh = sub.add_parser("share", help="share a path with a user, a group, everyone, or by private link")
    sh.add_argument("path")
    who = sh.add_mutually_exclusive_group(required=True)
    who.add_argument("--user")
    who.add_argument("--group")
    who.add_argument("--public", action="store_true")
    who.add_argument("--link", action="store_true", help="create an expiring private link")
    sh.add_argument("--write", action="store_true", help="grant write access (users and groups)")
    sh.add_argument("--expires-days", type=float, help="with --link: days until it expires (default 7)")
    sh.set_defaults(func=cmd_share)
    ss = sub.add_parser("share-server", help="make a share code for this JupyterHub server (live "
                                             "co-editing; whoever accepts works as you)")
    ss.add_argument("--expires-in", type=int, default=86400, metavar="SECONDS",
                    help="seconds the code may be accepted (60 to a year; default a day)")
    what = ss.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list this server's valid codes and its shares")
    what.add_argument("--revoke", metavar="CODE", help="revoke one code (the code or its sc_<n> id)")
    what.add_argument("--stop", action="store_true", help="revoke every code and every accepted share")
    ss.set_defaults(func=cmd_share_server)
    se = sub.add_parser("search", help="search files you may read")
    se.add_argument("--name")
    se.add_argument("--under")
    se.add_argument("--owner")
    se.add_argument("--limit", type=int, default=100)
    se.set_defaults(func=cmd_search)
    stu = sub.add_parser("studies", help="search the DICOM index")
    stu.add_argument("--patient-id")
    stu.add_argument("--patient-name")
    stu.add_argument("--date", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    stu.add_argument("--modality")
    stu.add_argument("--description")
    stu.set_defaults(func=cmd_studies)
