"""Starting the platform: configuration errors stop the start; ``up --runner docker`` needs only
the engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.plugins.registry import PluginRegistry
from chris_jupyter.sample import seed_plugins
from chris_jupyter.utils.net import free_port


@pytest.mark.parametrize("bad", [
    ["--ChrisApp.runner=local", "--ChrisApp.runner=docker"],  # given twice
    ["--ChrisApp.db_url=postgresql://nobody@127.0.0.1:1/none"],  # a database that cannot be reached
])
def test_a_configuration_error_stops_the_server_with_a_clear_message(tmp_path: Path, bad: list[str]) -> None:
    argv = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={free_port()}",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={tmp_path}",
            f"--ChrisApp.data_dir={tmp_path / 'data'}", "--allow-root", *bad]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the server kept running despite the configuration error")
    assert proc.returncode != 0
    assert "chris_jupyter: " in err and "the server does not start" in err


@pytest.mark.docker
def test_the_docker_runner_needs_only_the_engine_not_every_reference_image(
    tmp_path: Path, plugin_image, capsys
) -> None:
    plugin_image("pl-dircopy")  # chris-jupyter-test/ has it, and never pl-seg-threshold
    backend = Backend(Settings(data_root=tmp_path / "data"))
    try:
        assert seed_plugins(backend, "docker", image_prefix="chris-jupyter-test/") == "docker"
        assert "pl-dircopy" in {p.name for p in PluginRegistry(backend.db).list()}
        assert "pl-seg-threshold" in capsys.readouterr().err
    finally:
        backend.close()
