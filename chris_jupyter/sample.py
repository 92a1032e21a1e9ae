"""A small sample library so that a new installation has something to look at and run on."""

from __future__ import annotations

import getpass
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

from . import paths
from .backend import Backend, Settings


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
    (``images/build-reference-plugins.sh``), else the plugins installed in this Python
    environment as local subprocesses. ``docker`` needs only the engine: the reference images
    that are built are registered, the missing ones are named (a user may run only plugins of
    their own).
    """
    from .plugins.registry import PluginRegistry, RegistrationError

    reg = PluginRegistry(backend.db)
    have = {p.name for p in reg.list()}
    images = _docker_images(image_prefix) if runner in ("auto", "docker") else None
    if runner == "docker" and images is None:
        raise SystemExit("runner 'docker' asked for, but no Docker engine answers (is dockerd running, "
                         "and may this user use it?)")
    if images is not None and (runner == "docker" or len(images) == len(REFERENCE_PLUGINS)):
        for plugin, tag in images.items():
            if not any(p.dock_image == tag for p in reg.list(plugin)):
                try:
                    reg.register_image(tag)
                except (RegistrationError, ValueError) as exc:  # e.g. an admin's own build under that name and version
                    print(f"reference plugin {tag} not registered: {exc}", file=sys.stderr)
        missing = sorted(set(REFERENCE_PLUGINS) - set(images))
        if missing:
            print(f"reference plugin images not built (skipped): {', '.join(missing)} "
                  "(bash images/build-reference-plugins.sh builds them)", file=sys.stderr)
        return "docker"
    bindir = Path(sys.executable).parent
    for plugin, exe in REFERENCE_PLUGINS.items():
        if plugin not in have and (bindir / exe).exists():
            reg.register_executable(str(bindir / exe))
    return "local"


MNI_FILE = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
MNI_NOTICE = """\
mni152-t1/: the MNI ICBM 2009a nonlinear symmetric T1 template (1 mm, 197 x 233 x 189), an
average of 152 healthy adult brains, as NIfTI and as a DICOM series with the same geometry
(written by chris_jupyter.dicom.from_nifti). Taken from nilearn's wheel (nilearn is BSD-licensed).
Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological
Institute, McGill University. Permission to use, copy, modify and distribute it for any purpose
and without fee is granted, provided this copyright notice appears in all copies; the authors and
McGill University make no representations about its suitability for any purpose: it is provided
"as is" without express or implied warranty. (https://nist.mni.mcgill.ca/icbm-152-nonlinear-atlases-2009/)
"""


def mni_template() -> Path | None:
    """The MNI152 T1 template file: from an installed nilearn, else where scripts/install-deps
    puts it (``$XDG_CACHE_HOME/chris-jupyter/samples/``); None when neither has it."""
    spec = importlib.util.find_spec("nilearn")
    candidates = [Path(d) / "datasets" / "data" / MNI_FILE for d in (spec.submodule_search_locations or [])] \
        if spec else []
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chris-jupyter" / "samples"
    candidates.append(cache / MNI_FILE)
    return next((c for c in candidates if c.is_file()), None)


def _write_mni_sample(backend: Backend, sample: str) -> bool:
    """``<sample>/mni152-t1/`` with the template as NIfTI and as a DICOM series, when found."""
    from .dicom.from_nifti import write_series_from_nifti

    template = mni_template()
    if template is None:
        print("sample brain scan not found (bash scripts/install-deps fetches it, or pip install nilearn); "
              "only the phantom is in the sample library", file=sys.stderr)
        return False
    folder = backend.store.makedirs(paths.join(sample, "mni152-t1"))
    shutil.copyfile(template, folder / "mni152_t1.nii.gz")
    write_series_from_nifti(template, folder / "dicom", modality="MR", patient_id="MNI152",
                            patient_name="MNI152^Template", study_description="MNI ICBM152 2009a TEMPLATE",
                            series_description="T1 1mm", institution="Montreal Neurological Institute",
                            study_date="20090101")
    return True


def seed_sample_library(data_dir: Path, db_url: str | None = None, *, user: str | None = None,
                        runner: str = "auto") -> tuple[str, str]:
    """Create the embedded user, register the reference plugins and, once,
    ``home/<user>/uploads/sample`` with a CT phantom series and (when its file is here, see
    :func:`mni_template`) a real brain scan, the MNI152 T1 template as NIfTI and DICOM.

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
        brain = _write_mni_sample(backend, sample)
        (backend.store.disk(sample) / "README.txt").write_text(
            "Sample data made by chris-jupyter.\n\n"
            "ct-phantom/: a synthetic CT phantom (48 slices, 128x128, 1.5 x 1.5 x 3 mm) with a bright\n"
            "cube and a sphere at known positions.\n\n" + (MNI_NOTICE if brain else "")
        )
        backend.library.register_tree(sample)
        return user, runner
    finally:
        backend.close()
