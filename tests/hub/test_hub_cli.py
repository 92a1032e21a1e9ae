"""``chris-jupyter hub``: builds the missing images, then runs ``jupyterhub -f jupyterhub_config.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chris_jupyter.cli import hub_build_steps

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chris_jupyter.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_the_build_steps_cover_base_singleuser_and_plugin_images() -> None:
    steps = hub_build_steps(REPO, {"CHRIS_HUB_IMAGE": "lab/singleuser:1"})
    scripts = [Path(s[1]).relative_to(REPO).as_posix() for s in steps]
    assert scripts == ["images/build-base.sh", "spawners/singleuser/build.sh", "images/build-reference-plugins.sh"]
    assert steps[1][2] == "lab/singleuser:1"  # the image the hub will spawn
    assert all(Path(s[1]).is_file() for s in steps)
    # a local-process hub needs no single-user image; --no-plugins leaves the plugin images out
    assert [Path(s[1]).name for s in hub_build_steps(REPO, {"CHRIS_HUB_SPAWNER": "simple"}, plugins=False)] \
        == ["build-base.sh"]


def test_hub_runs_jupyterhub_with_the_repository_config(tmp_path: Path) -> None:
    # `-- --version`: jupyterhub prints its version and exits, proving the exec and its arguments
    proc = _cli("hub", "--no-build", "--state-dir", str(tmp_path / "state"), "--", "--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"jupyterhub -f {REPO / 'jupyterhub_config.py'}" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1][:1].isdigit()  # jupyterhub's version
    assert (tmp_path / "state").is_dir()


def test_hub_with_a_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    proc = _cli("hub", "--no-build", "--config", str(tmp_path / "nope.py"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "needs jupyterhub_config.py" in proc.stderr and "Traceback" not in proc.stderr
