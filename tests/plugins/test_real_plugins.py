"""Real ChRIS plugins from PyPI register and run unmodified (tests/plugins/real/README.md).

Each plugin set is installed offline, from the wheels ``scripts/install-deps --test`` put in
``$CHRIS_TEST_DIR/real-plugins``, into a venv of its own: ``simpledsapp`` on ``chrisapp`` 1.0.5
(whose ``--json`` has neither name nor version, and which has no ``--version``),
``freesurfer_pp`` on ``chrisapp`` 2.5.3 and ``spleendatads`` on ``chris_plugin``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.plugins.descriptor import DescriptorError
from chris_jupyter.plugins.registry import PluginRegistry, RegistrationError

REPO = Path(__file__).resolve().parents[2]
SETS = REPO / "tests" / "plugins" / "real"
WHEELHOUSE = Path(os.environ.get("CHRIS_TEST_DIR", REPO / ".chris-test")) / "real-plugins"


def make_real_venv(where: Path, requirements: Path) -> Path:
    """A venv holding one plugin set, installed with no index; returns its ``bin`` dir."""
    if not (WHEELHOUSE / "wheels").is_dir():
        pytest.fail(f"{WHEELHOUSE}/wheels is missing: run scripts/install-deps --test")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(where / "bin" / "python"), "install", "-q",
         "--no-index", "--find-links", str(WHEELHOUSE / "wheels"), "-r", str(requirements)],
        check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return where / "bin"


@pytest.fixture(scope="session")
def real_bin(tmp_path_factory: pytest.TempPathFactory):
    """``real_bin("chrisapp1")`` -> bin dir of that set's venv (made once per session)."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = make_real_venv(tmp_path_factory.mktemp(f"real-{name}") / "venv", SETS / f"{name}.txt")
        return made[name]

    return get


def test_chrisapp1_plugin_registers_with_name_and_version_from_the_request(cdb, real_bin, tmp_path):
    exe = real_bin("chrisapp1") / "simpledsapp.py"
    raw = json.loads(subprocess.run([str(exe), "--json"], capture_output=True, text=True, check=True).stdout)
    assert "name" not in raw and "version" not in raw  # what chrisapp 1.0.x prints
    reg = PluginRegistry(cdb)
    # the descriptor file: name and version from the registration request, no image needed
    (tmp_path / "d.json").write_text(json.dumps(raw))
    with pytest.raises(DescriptorError, match="version=None: is required"):
        reg.register(tmp_path / "d.json", name="pl-simpledsapp")
    p = reg.register(tmp_path / "d.json", name="pl-simpledsapp", version="1.0.3")
    assert (p.name, p.version, p.dock_image, p.source) == ("pl-simpledsapp", "1.0.3", "", "local")
    # the executable: the request wins; without one, the installed distribution tells
    p = reg.register_executable(str(exe), name="pl-simpledsapp", version="1.0.4")
    assert (p.name, p.version, p.source) == ("pl-simpledsapp", "1.0.4", "local")
    p = reg.register_executable(str(exe))
    assert (p.name, p.version) == ("simpledsapp", "1.0.3")


def test_chrisapp2_and_chris_plugin_plugins_register_unmodified(cdb, real_bin):
    reg = PluginRegistry(cdb)
    fs = reg.register_executable(str(real_bin("chrisapp2") / "freesurfer_pp.py"))
    assert (fs.name, fs.version, fs.type, fs.title) == ("freesurfer_pp", "2.0.8", "ds", "FreeSurfer Pre-Populated")
    sp = reg.register_executable(str(real_bin("chris_plugin") / "spleendatads"))
    assert (sp.name, sp.version, sp.type) == ("spleendatads", "2.0.6", "ds")


def test_real_chrisapp_plugins_run_on_the_local_runner(
    cdb, real_bin, plugin_bin, make_coordinator, local_runner, local_plugins, data_root
):
    reg = PluginRegistry(cdb)
    reg.register_executable(str(real_bin("chrisapp1") / "simpledsapp.py"), name="pl-simpledsapp", version="1.0.3")
    (data_root / "home/alice/uploads/in").mkdir()
    (data_root / "home/alice/uploads/in/f.txt").write_text("data")
    c = make_coordinator(local_runner)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/in"})
    # a str parameter given as a number: the string form is what the plugin gets (as in ChRIS)
    s = c.run_plugin("alice", "pl-simpledsapp", {"prefix": 0, "sleepLength": 0}, previous_id=root)
    assert c.wait_for(s, timeout=120) == st.SUCCESS, c.get(s).error + c.get(s).logs
    out = data_root / c.get(s).output_path
    assert (out / "in" / "0f.txt").read_text() == "data"


def test_a_program_that_is_no_plugin_says_so_in_plain_words(cdb, tmp_path):
    prog = tmp_path / "notaplugin"
    prog.write_text("#!/bin/sh\necho 'usage: notaplugin FILE' >&2\nexit 2\n")
    prog.chmod(0o755)
    with pytest.raises(RegistrationError, match=r"is not a ChRIS plugin.*Wrapping a program as a ChRIS plugin"):
        PluginRegistry(cdb).register_executable(str(prog))


def test_a_plugin_whose_json_hangs_is_bounded(cdb, tmp_path):
    prog = tmp_path / "hangs"
    prog.write_text("#!/bin/sh\nexec sleep 600\n")
    prog.chmod(0o755)
    with pytest.raises(RegistrationError, match="did not finish within 1 s"):
        PluginRegistry(cdb).register_executable(str(prog), timeout=1)
