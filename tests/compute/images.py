"""Build plugin images offline for the Docker tests and benches.

Uses ``spawners/images/build-image.sh CONTEXT TAG`` when it exists (the project's builder);
otherwise does the same by hand: wheels for ``requirements.txt`` (Python 3.11.2, binary only,
cached) next to a copy of the context, then ``docker build`` on the local base image.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_IMAGE = REPO / "spawners" / "images" / "build-image.sh"
BUILD_BASE = REPO / "spawners" / "images" / "build-base.sh"
BASE_IMAGE = os.environ.get("CHRIS_BASE_IMAGE", "chris-jupyter/python-base:bookworm")
DOCKER = "/usr/bin/docker"
WHEEL_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chris-jupyter" / "wheels"


def context_hash(context: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(context.rglob("*")):
        if p.is_file() and "wheels" not in p.parts and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(context)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def image_exists(tag: str) -> bool:
    return subprocess.run([DOCKER, "image", "inspect", tag], capture_output=True).returncode == 0


def ensure_base() -> None:
    if not image_exists(BASE_IMAGE):
        subprocess.run(["bash", str(BUILD_BASE)], check=True)


def build_plugin_image(context: Path, name: str) -> str:
    """Build (or reuse) ``chris-jupyter-test/<name>:<hash of the context>``; returns the tag."""
    tag = f"chris-jupyter-test/{name}:{context_hash(context)}"
    if image_exists(tag):
        return tag
    ensure_base()
    if BUILD_IMAGE.exists():
        subprocess.run(["bash", str(BUILD_IMAGE), str(context), tag], check=True)
        return tag
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp) / "ctx"
        shutil.copytree(context, ctx, ignore=shutil.ignore_patterns("__pycache__", "wheels"))
        wheels = ctx / "wheels"
        wheels.mkdir()
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels), "--cache-dir",
             str(WHEEL_CACHE), "--python-version", "3.11.2", "--only-binary=:all:",
             "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
             "-r", str(ctx / "requirements.txt")],
            check=True,
        )
        subprocess.run(
            [DOCKER, "build", "-q", "--force-rm", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
             "-t", tag, str(ctx)],
            check=True, stdout=subprocess.DEVNULL,
        )
    return tag
