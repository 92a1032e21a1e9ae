"""Build plugin images offline for the Docker tests and benches, with the project's builder
(``images/build-image.sh CONTEXT TAG``: wheels downloaded on the host, local base image)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_IMAGE = REPO / "images" / "build-image.sh"


def context_hash(context: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(context.rglob("*")):
        if p.is_file() and not {"wheels", "__pycache__", "build"} & set(p.relative_to(context).parts):
            h.update(str(p.relative_to(context)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def build_plugin_image(context: Path, name: str) -> str:
    """Build (or reuse) ``chris-jupyter-test/<name>:<hash of the context>``; returns the tag."""
    tag = f"chris-jupyter-test/{name}:{context_hash(context)}"
    subprocess.run(["bash", str(BUILD_IMAGE), str(context), tag], check=True,
                   stdout=subprocess.DEVNULL)
    return tag
