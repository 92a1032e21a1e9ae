"""Shared test helpers for the compute and plugin tests (imported by both conftests)."""

from __future__ import annotations

import os
import site as site_mod
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from chris_jupyter import paths

REPO = Path(__file__).resolve().parents[2]
REFERENCE_PLUGINS = REPO / "plugins"
TESTBOX = REPO / "tests" / "compute" / "plugins" / "pl-testbox"
TSBOX = REPO / "tests" / "compute" / "plugins" / "pl-tsbox"
HELLO = REPO / "tests" / "plugins" / "fixtures" / "pl-hello"
OLDAPP = REPO / "tests" / "plugins" / "fixtures" / "pl-oldapp"

ALL_PLUGIN_SOURCES = [
    *(REFERENCE_PLUGINS / n for n in ("pl-noop", "pl-dircopy", "pl-dcm2nifti", "pl-dcm2png")),
    TESTBOX,
    TSBOX,
    HELLO,
    OLDAPP,
]


def make_plugin_venv(where: Path, sources: list[Path] = ALL_PLUGIN_SOURCES) -> Path:
    """A venv (no pip of its own) that sees the project's site-packages and holds the plugins.

    Offline: the plugins are installed from their source folders with the project's pip and
    its hatchling, without build isolation or an index. Returns the venv's ``bin`` dir.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = where / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    parent_site = site_mod.getsitepackages()[0]
    (site / "_project.pth").write_text(parent_site + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(where / "bin" / "python"), "install", "-q",
         "--no-deps", "--no-build-isolation", "--no-index", *map(str, sources)],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return where / "bin"


class Registrar:
    """Stands in for the library's ``register_outputs``: an idempotent upsert that also counts
    how often each file was handed over (to prove nothing is registered twice)."""

    def __init__(self, data_root: Path) -> None:
        self.data_root = data_root
        self.calls: list[tuple[str, str]] = []
        self.files: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, output_path: str, owner: str) -> int:
        root = paths.to_disk(self.data_root, output_path)
        found = [
            paths.join(output_path, os.path.relpath(os.path.join(d, f), root))
            for d, _, names in os.walk(root)
            for f in names
        ]
        with self._lock:
            self.calls.append((output_path, owner))
            self.files.update(found)
        return len(found)

    def twice(self) -> list[str]:
        return [f for f, n in self.files.items() if n > 1]


def can_read(user: str, path: str) -> bool:
    """Test permission rule: a user reads their own home and PUBLIC."""
    return paths.owner_of(path) == user or paths.is_within(path, paths.PUBLIC)


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, payload: dict) -> None:
        with self._lock:
            self.items.append((kind, dict(payload)))

    def states(self, instance_id: int) -> list[str]:
        with self._lock:
            return [p["state"] for _, p in self.items if p["id"] == instance_id]
