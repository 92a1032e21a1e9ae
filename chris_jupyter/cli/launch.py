"""``chris-jupyter up`` (the embedded platform on this machine) and ``chris-jupyter hub`` (multi-user)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


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

    from ..sample import seed_sample_library

    data_dir = Path(args.data_dir).resolve()
    workspace = Path(args.workspace).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
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
    root = Path(__file__).resolve().parents[2]
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


def register(sub: argparse._SubParsersAction) -> None:
    """The ``up`` and ``hub`` subcommands."""
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
