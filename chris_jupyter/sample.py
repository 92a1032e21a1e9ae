"""A small sample library so that a new installation has something to look at and run on."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from .backend import Backend, Settings
from .library import paths


def default_user() -> str:
    """The embedded user's name: the OS user (``chris`` for root), made path-safe."""
    name = re.sub(r"[^\w.\-]", "_", getpass.getuser()) or "chris"
    return "chris" if name == "root" else name


def seed_sample_library(data_dir: Path, db_url: str | None = None, *, user: str | None = None) -> str:
    """Create the embedded user and, once, ``home/<user>/uploads/sample`` with a CT series.

    Returns the user name. Running it again changes nothing.
    """
    user = user or default_user()
    backend = Backend(Settings(data_root=Path(data_dir), db_url=db_url))
    try:
        backend.users.ensure_user(user, is_admin=True)
        sample = paths.join(paths.uploads(user), "sample")
        if backend.store.exists(sample):
            return user
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
        return user
    finally:
        backend.close()
