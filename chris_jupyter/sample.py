"""A small sample library so that a new installation has something to look at and run on."""

from __future__ import annotations

import getpass
import re
import sys
from pathlib import Path

from .backend import Backend, Settings
from .library import paths


def default_user() -> str:
    """The embedded user's name: the OS user (``chris`` for root), made path-safe."""
    name = re.sub(r"[^\w.\-]", "_", getpass.getuser()) or "chris"
    return "chris" if name == "root" else name


REFERENCE_PLUGINS = {"pl-dircopy": "dircopy", "pl-dcm2nifti": "dcm2nifti", "pl-dcm2png": "dcm2png",
                     "pl-noop": "noop", "pl-seg-threshold": "segthreshold"}
IMAGE_PREFIX = "chris-jupyter/"


def _docker_images(prefix: str = IMAGE_PREFIX) -> dict[str, str] | None:
    """Tags of the reference plugin images that are built (``{}``: none), or None when no Docker
    engine answers."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        tags = {t for img in client.images.list(name=prefix + "pl-*") for t in img.tags}
    except Exception:  # no docker package, no engine, no permission: all mean "not here"
        return None
    found = {}
    for plugin in REFERENCE_PLUGINS:
        tag = next((t for t in sorted(tags) if t.startswith(f"{prefix}{plugin}:")), None)
        if tag is not None:
            found[plugin] = tag
    return found


def seed_plugins(backend: Backend, runner: str = "auto", *, image_prefix: str = IMAGE_PREFIX) -> str:
    """Register the reference plugins; return the runner that can run them.

    ``auto`` uses Docker when an engine answers and every reference plugin image is built
    (``spawners/images/build-reference-plugins.sh``), else the plugins installed in this Python
    environment as local subprocesses. ``docker`` needs only the engine: the reference images
    that are built are registered, the missing ones are named (a user may run only plugins of
    their own).
    """
    from .plugins.registry import PluginRegistry

    reg = PluginRegistry(backend.db)
    have = {p.name for p in reg.list()}
    images = _docker_images(image_prefix) if runner in ("auto", "docker") else None
    if runner == "docker" and images is None:
        raise SystemExit("runner 'docker' asked for, but no Docker engine answers (is dockerd running, "
                         "and may this user use it?)")
    if images is not None and (runner == "docker" or len(images) == len(REFERENCE_PLUGINS)):
        for plugin, tag in images.items():
            if not any(p.dock_image == tag for p in reg.list(plugin)):
                reg.register_image(tag)
        missing = sorted(set(REFERENCE_PLUGINS) - set(images))
        if missing:
            print(f"reference plugin images not built (skipped): {', '.join(missing)} "
                  "(bash spawners/images/build-reference-plugins.sh builds them)", file=sys.stderr)
        return "docker"
    bindir = Path(sys.executable).parent
    for plugin, exe in REFERENCE_PLUGINS.items():
        if plugin not in have and (bindir / exe).exists():
            reg.register_executable(str(bindir / exe))
    return "local"


def seed_sample_library(data_dir: Path, db_url: str | None = None, *, user: str | None = None,
                        runner: str = "auto") -> tuple[str, str]:
    """Create the embedded user, register the reference plugins and, once,
    ``home/<user>/uploads/sample`` with a CT series.

    Returns (user name, runner). Running it again changes nothing.
    """
    user = user or default_user()
    backend = Backend(Settings(data_root=Path(data_dir), db_url=db_url))
    try:
        backend.users.ensure_user(user, is_admin=True)
        runner = seed_plugins(backend, runner)
        sample = paths.join(paths.uploads(user), "sample")
        if backend.store.exists(sample):
            return user, runner
        from .dicom import synth

        folder = backend.store.makedirs(paths.join(sample, "ct-phantom"))
        synth.write_ct_series(folder, n_slices=48, rows=128, cols=128, spacing=(1.5, 1.5, 3.0),
                              patient_id="SAMPLE01", patient_name="Sample^Phantom",
                              study_description="SAMPLE CT PHANTOM", series_description="Axial 3mm")
        (backend.store.disk(sample) / "README.txt").write_text(
            "Sample data made by chris-jupyter: a synthetic CT phantom (48 slices, 128x128,\n"
            "1.5 x 1.5 x 3 mm) with a bright cube and a sphere at known positions.\n"
        )
        backend.library.register_tree(sample)
        return user, runner
    finally:
        backend.close()
