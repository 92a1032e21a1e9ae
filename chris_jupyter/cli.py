"""The ``chris-jupyter`` command: start the platform, and use the library from a shell."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx

from .client import ChrisApiError, Client, HubServer
from .utils.text import human_size


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.token, timeout=args.timeout)


def _print(obj: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, default=str))


def cmd_ls(args: argparse.Namespace) -> int:
    c = _client(args)
    page = c.ls(args.path, limit=args.limit, offset=args.offset)
    if args.json:
        _print(page, True)
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
    c = _client(args)
    dest = args.dest or f"home/{c.me()['username']}/uploads/{Path(args.source).name}"
    out = c.upload(args.source, dest, overwrite=args.overwrite, progress=not args.quiet)
    n = len(out) if isinstance(out, list) else 1
    print(f"uploaded {n} file{'s' if n != 1 else ''} to {dest}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    path = _client(args).download(args.path, args.dest, progress=not args.quiet)
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
    c = _client(args)
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


def cmd_search(args: argparse.Namespace) -> int:
    page = _client(args).search(name=args.name, under=args.under, owner=args.owner, limit=args.limit)
    for e in page["items"]:
        print(e["path"])
    print(f"{page['total']} match{'es' if page['total'] != 1 else ''}", file=sys.stderr)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    c = _client(args)
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
    _client(args).set_password(args.username, password)
    print(f"password of {args.username} {'removed' if password is None else 'set'}")
    return 0


def cmd_plugin_add(args: argparse.Namespace) -> int:
    c = _client(args)
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
    for p in _client(args).plugins():
        print(f"{p['id']:>4}  {p['name']:<28} {p['version']:<10} {p['type']}  {p['title']}")
    return 0


def cmd_resource_ls(args: argparse.Namespace) -> int:
    for r in _client(args).compute_resources():
        limit = f"max {r['max_job_time']:g} s" if r.get("max_job_time") else "no time limit"
        print(f"{r['name']:<20} {r['kind']:<10} {limit:<16} {r['description']}")
    return 0


def cmd_share_server(args: argparse.Namespace) -> int:
    """Share codes for the JupyterHub server this runs in (no ChRIS connection needed)."""
    server = HubServer.from_env()
    if args.list:
        codes, shares = server.codes(), server.shares()
        if args.json:
            _print({"codes": codes, "shares": shares}, True)
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
        _print(model, True)
        return 0
    print(f"share link (valid until {model['expires_at']}): {model['full_accept_url']}")
    print("whoever accepts it works in this server as you: your files, your kernels, your ChRIS identity",
          file=sys.stderr)
    return 0


def cmd_resource_add(args: argparse.Namespace) -> int:
    settings = {}
    for name, value in args.setting or []:
        try:
            settings[name] = json.loads(value)  # numbers, true/false, lists as JSON
        except ValueError:
            settings[name] = value
    r = _client(args).add_compute_resource(args.name, args.kind, settings, description=args.description,
                                           max_job_time=args.max_job_time)
    print(f"added compute resource {r['name']} ({r['kind']})")
    return 0


def cmd_resource_rm(args: argparse.Namespace) -> int:
    _client(args).remove_compute_resource(args.name)
    print(f"removed compute resource {args.name}")
    return 0


def cmd_plugin_resources(args: argparse.Namespace) -> int:
    p = _client(args).set_plugin_compute_resources(args.plugin, args.names)
    print(f"{p['name']} {p['version']} runs on: {', '.join(p['compute_resources'])}")
    return 0


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"parameters are name=value, got {text!r}")
    return name, value


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
    c = _client(args)
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


def cmd_studies(args: argparse.Namespace) -> int:
    filters = {k: v for k, v in {"patient_id": args.patient_id, "patient_name": args.patient_name,
                                 "study_date": args.date, "modality": args.modality,
                                 "description": args.description}.items() if v}
    page = _client(args).studies(**filters)
    if args.json:
        _print(page, True)
        return 0
    for st in page["items"]:
        print(f"{st['study_date']}  {st['patient_id']:<14} {st['patient_name']:<24} "
              f"{','.join(st['modalities']):<6} {st['num_series']} series {st['num_instances']} images  "
              f"{st['study_description']}")
    print(f"{page['total']} stud{'ies' if page['total'] != 1 else 'y'}", file=sys.stderr)
    return 0


def up_banner(url: str, token: str, user: str, data_dir: Path, workspace: Path, runner: str) -> str:
    """What ``up`` prints before JupyterLab starts: where things are, how to open it, what to mind."""
    sample = f"home/{user}/uploads/sample"
    lines = [
        "ChRIS for Jupyter",
        f"  open:        {url}lab?token={token}",
        f"  you are:     {user} (administrator); your library home is home/{user}",
        f"  sample data: {sample}  (on disk: {data_dir / 'library' / sample})",
        "               in a notebook: c = chris_jupyter.Client(); c.ls(c.home + '/uploads/sample')",
        f"  notebooks:   {workspace}",
        f"  plugins run: by the {runner} runner",
    ]
    if runner == "local":
        lines += [
            "  WARNING: the local runner has no sandbox: plugins run as this process, with its rights",
            "           on every file it can reach. This server therefore serves only its embedded user",
            "           and administrators (no other users or their tokens). Start Docker and build the",
            "           plugin images (bash images/build-reference-plugins.sh) to sandbox jobs.",
        ]
    return "\n".join(lines)


def _given_token(extra: list[str]) -> str | None:
    for arg in extra:
        for opt in ("--IdentityProvider.token=", "--ServerApp.token=", "--NotebookApp.token="):
            if arg.startswith(opt):
                return arg[len(opt):]
    return os.environ.get("JUPYTER_TOKEN")


def cmd_up(args: argparse.Namespace) -> int:
    import secrets

    from .sample import seed_sample_library

    data_dir = Path(args.data_dir).resolve()
    workspace = Path(args.workspace).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    if notebooks.is_dir():
        for nb in notebooks.glob("*.ipynb"):
            if not (workspace / nb.name).exists():
                shutil.copy2(nb, workspace / nb.name)
    print("preparing the library and the plugins…", flush=True)
    user, runner = seed_sample_library(data_dir, args.db_url or None, runner=args.runner)
    token = _given_token(args.extra)
    if token is None:  # our own, so the URL printed below opens the lab (kept off the command line)
        token = secrets.token_hex(24)
        os.environ["JUPYTER_TOKEN"] = token
    argv = [sys.executable, "-m", "jupyterlab", f"--ip={args.ip}", f"--port={args.port}",
            f"--ServerApp.root_dir={workspace}", f"--ChrisApp.data_dir={data_dir}",
            f"--ChrisApp.embedded_user={user}", f"--ChrisApp.runner={runner}"]
    if args.db_url:
        argv.append(f"--ChrisApp.db_url={args.db_url}")
    if args.no_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    if not any(a.startswith("--ServerApp.port_retries") for a in args.extra):
        argv.append("--ServerApp.port_retries=0")  # the printed URL is the one served, or it fails saying so
    argv += args.extra
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "", "*") else args.ip
    print(up_banner(f"http://{host}:{args.port}/", token, user, data_dir, workspace, runner), flush=True)
    os.execv(sys.executable, argv)
    return 0  # not reached


def _checkout() -> Path | None:
    """The repository this package runs from (``jupyterhub_config.py`` and the image scripts), if any."""
    root = Path(__file__).resolve().parent.parent
    if (root / "jupyterhub_config.py").is_file() and (root / "spawners" / "singleuser" / "build.sh").is_file():
        return root
    return None


def hub_build_steps(root: Path, environ: dict[str, str] | os._Environ[str] = os.environ,
                    plugins: bool = True) -> list[list[str]]:
    """The image builds ``hub`` runs first (each script skips what is up to date)."""
    steps = [["bash", str(root / "images" / "build-base.sh")]]
    if environ.get("CHRIS_HUB_SPAWNER", "chris-docker") != "simple":
        image = environ.get("CHRIS_HUB_IMAGE") or "chris-jupyter/singleuser:latest"
        steps.append(["bash", str(root / "spawners" / "singleuser" / "build.sh"), image])
    if plugins:
        steps.append(["bash", str(root / "images" / "build-reference-plugins.sh")])
    return steps


def cmd_hub(args: argparse.Namespace) -> int:
    import subprocess

    root = _checkout()
    config = Path(args.config) if args.config else (root / "jupyterhub_config.py" if root else None)
    if config is None or not config.is_file():
        print("chris-jupyter: hub needs jupyterhub_config.py: run it from a checkout of chris_jupyter "
              "(or pass --config FILE)", file=sys.stderr)
        return 2
    if shutil.which("jupyterhub") is None and not (Path(sys.executable).parent / "jupyterhub").exists():
        print("chris-jupyter: jupyterhub is not installed (pip install 'chris_jupyter[hub]')", file=sys.stderr)
        return 2
    if not args.no_build:
        if root is None:
            print("chris-jupyter: no image scripts next to the package; building nothing", file=sys.stderr)
        else:
            for step in hub_build_steps(root, plugins=not args.no_plugins):
                print(f"chris-jupyter hub: {' '.join(Path(a).name if a.startswith('/') else a for a in step)}",
                      flush=True)
                if subprocess.run(step, stdin=subprocess.DEVNULL).returncode != 0:
                    print(f"chris-jupyter: building failed: {' '.join(step)}", file=sys.stderr)
                    return 1
    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    os.environ["CHRIS_HUB_STATE_DIR"] = str(state)
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(config.resolve()), *args.extra]
    print(f"chris-jupyter hub: jupyterhub -f {config} (state in {state})", flush=True)
    os.chdir(state)
    os.execv(sys.executable, argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chris-jupyter", description=__doc__)
    p.add_argument("--url", help="server URL (default: $CHRIS_URL or the local running server)")
    p.add_argument("--token", help="API token (default: $CHRIS_TOKEN or the local server's token)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds to wait for the server's answer to one request (default 300)")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start JupyterLab with ChRIS on this machine (sample library included)")
    up.add_argument("--port", type=int, default=8888)
    up.add_argument("--ip", default="127.0.0.1")
    up.add_argument("--data-dir", default=os.environ.get("CHRIS_DATA_DIR", "chris-data"))
    up.add_argument("--workspace", default="chris-workspace", help="folder for notebooks")
    up.add_argument("--db-url", default="", help="database URL (default: SQLite in the data dir)")
    up.add_argument("--no-browser", action="store_true")
    up.add_argument("--runner", choices=["auto", "local", "docker"], default="auto",
                    help="where plugins run (auto: Docker when an engine answers and the plugin images exist)")
    up.add_argument("extra", nargs="*", help="more JupyterLab options (after --)")
    up.set_defaults(func=cmd_up)

    hb = sub.add_parser("hub", help="multi-user ChRIS: build the missing images, then run "
                                    "jupyterhub -f jupyterhub_config.py (from a checkout)")
    hb.add_argument("--state-dir", default=os.environ.get("CHRIS_HUB_STATE_DIR", "chris-hub"),
                    help="the hub's database, cookie secret and ChRIS data (default: ./chris-hub)")
    hb.add_argument("--config", help="another jupyterhub config file (default: the checkout's jupyterhub_config.py)")
    hb.add_argument("--no-build", action="store_true", help="build no images")
    hb.add_argument("--no-plugins", action="store_true", help="do not build the reference plugin images")
    hb.add_argument("extra", nargs="*", help="more jupyterhub options (after --)")
    hb.set_defaults(func=cmd_hub)

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
    ca.add_argument("-s", "--setting", action="append", type=_param,
                    help="runner setting name=value (a JSON value or a string; repeat)")
    ca.add_argument("--description", default="")
    ca.add_argument("--max-job-time", type=float, help="seconds a job may run there")
    ca.set_defaults(func=cmd_resource_add)
    crm = cr.add_parser("rm", help="remove a compute resource without unfinished jobs (administrators)")
    crm.add_argument("name")
    crm.set_defaults(func=cmd_resource_rm)

    from .remote.cli import register as register_compute_serve

    register_compute_serve(sub)

    rn = sub.add_parser("run", help="run a plugin")
    rn.add_argument("plugin", help="name, name@version or id")
    rn.add_argument("-p", "--param", action="append", type=_param, help="name=value (repeat)")
    rn.add_argument("--previous", type=int, help="instance to run after (ds plugins)")
    rn.add_argument("--version")
    rn.add_argument("--title")
    rn.add_argument("--compute-resource", help="where to run it (default: the plugin's first compute resource)")
    rn.add_argument("--wait", type=float, nargs="?", const=3600, help="wait until it ends (seconds)")
    rn.set_defaults(func=cmd_run)

    stu = sub.add_parser("studies", help="search the DICOM index")
    stu.add_argument("--patient-id")
    stu.add_argument("--patient-name")
    stu.add_argument("--date", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    stu.add_argument("--modality")
    stu.add_argument("--description")
    stu.set_defaults(func=cmd_studies)

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


if __name__ == "__main__":
    sys.exit(main())
