"""Runner settings are reachable from the server's configuration (``c.DockerRunner.…``)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from chris_jupyter.app import ChrisApp
from chris_jupyter.backend import Backend
from chris_jupyter.compute.runners.local import LocalRunner


class QuietLocalRunner(LocalRunner):
    """A runner plugged in by class path, configured from its own section."""

    name = "quiet-local"


def test_runner_settings_come_from_the_app_config(tmp_path) -> None:
    cfg = Config()
    cfg.ChrisApp.data_dir = str(tmp_path / "data")
    cfg.ChrisApp.db_url = f"sqlite:///{tmp_path}/c.db"
    cfg.ChrisApp.runner = "docker"
    cfg.DockerRunner.pids_limit = 64
    cfg.DockerRunner.uid = 1234
    cfg.DockerRunner.stop_grace = 7
    app = ChrisApp(config=cfg)
    backend = Backend(app.backend_settings())
    try:
        runner = backend.compute.c.runner
        assert (runner.name, runner.pids_limit, runner.uid, runner.stop_grace) == ("docker", 64, 1234, 7)
    finally:
        backend.close()


def test_runner_class_is_chosen_by_a_type_trait(tmp_path) -> None:
    cfg = Config()
    cfg.ChrisApp.data_dir = str(tmp_path / "data")
    cfg.ChrisApp.db_url = f"sqlite:///{tmp_path}/c.db"
    cfg.ChrisApp.runner_class = f"{__name__}.QuietLocalRunner"
    cfg.QuietLocalRunner.kill_grace = 0.5
    app = ChrisApp(config=cfg)
    backend = Backend(app.backend_settings())
    try:
        runner = backend.compute.c.runner
        assert isinstance(runner, QuietLocalRunner) and runner.kill_grace == 0.5
        assert runner.work_dir == str(tmp_path / "data" / "jobs")
    finally:
        backend.close()


def test_a_bad_runner_setting_is_a_clear_error(tmp_path) -> None:
    from traitlets import TraitError

    from chris_jupyter.compute.service import make_runner

    cfg = Config()
    cfg.DockerRunner.uid = 0
    with pytest.raises(TraitError, match="DockerRunner.uid must be a non-root id"):
        make_runner("docker", tmp_path, config=cfg)
