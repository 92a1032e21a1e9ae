"""Registering plugins: descriptors, images (chris_plugin and chrisapp, unmodified), executables."""

from __future__ import annotations

import json

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.plugins.descriptor import DescriptorError
from chris_jupyter.plugins.registry import (
    PluginExists,
    PluginInUse,
    PluginNotFound,
    PluginRegistry,
    RegistrationError,
)

DESC = {"name": "pl-x", "version": "1.0.0", "dock_image": "x:1", "selfexec": "x",
        "parameters": [{"name": "n", "type": "int", "flag": "--n", "optional": True, "default": 1}]}


def test_register_versions_lookup_delete(cdb, tmp_path):
    reg = PluginRegistry(cdb)
    a = reg.register(DESC)
    assert reg.register(dict(DESC)).id == a.id  # same descriptor: idempotent
    with pytest.raises(PluginExists):
        reg.register({**DESC, "title": "changed"})
    path = tmp_path / "d.json"
    path.write_text(json.dumps({**DESC, "version": "1.10.0"}))
    b = reg.register(path)
    c = reg.register(json.dumps({**DESC, "version": "1.9.0"}))
    assert [p.version for p in reg.list("pl-x")] == ["1.0.0", "1.9.0", "1.10.0"]
    assert reg.get("pl-x").id == b.id  # newest by numeric version
    assert reg.get("pl-x@1.9.0").id == c.id
    assert reg.get(("pl-x", "1.0.0")).id == a.id
    assert reg.get({"name": "pl-x", "version": "1.0.0"}).id == a.id
    assert reg.get(a.id).parameters[0]["name"] == "n"
    for bad in ("pl-y", "pl-x@2.0", 999):
        with pytest.raises(PluginNotFound):
            reg.get(bad)
    with pytest.raises(DescriptorError, match="version"):
        reg.register({**DESC, "version": "one"})
    with pytest.raises(RegistrationError):
        reg.register(str(tmp_path / "missing.json"))
    reg.delete(c.id)
    assert [p.version for p in reg.list("pl-x")] == ["1.0.0", "1.10.0"]


def test_delete_refuses_a_plugin_with_instances(cdb):
    from chris_jupyter.db.models.compute import PluginInstance

    reg = PluginRegistry(cdb)
    p = reg.register(DESC)
    with cdb.session() as s:
        s.add(PluginInstance(plugin_id=p.id, owner="alice"))
    with pytest.raises(PluginInUse):
        reg.delete(p.id)


def test_register_installed_executables(cdb, plugin_bin):
    reg = PluginRegistry(cdb)
    hello = reg.register_executable(str(plugin_bin / "hello"))
    assert (hello.name, hello.version, hello.source) == ("pl-hello", "1.2.0", "local")
    assert hello.descriptor["selfpath"] == str(plugin_bin)
    old = reg.register_executable(str(plugin_bin / "oldapp"), name="pl-oldapp")
    assert (old.name, old.version, old.type) == ("pl-oldapp", "2.0.1", "ds")
    with pytest.raises(RegistrationError, match="not found"):
        reg.register_executable("no-such-program-here")


def _run_both(make_coordinator, runner, data_root, hello_ref, old_ref):
    (data_root / "home/alice/uploads/in").mkdir()
    (data_root / "home/alice/uploads/in/f.txt").write_text("data")
    c = make_coordinator(runner)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/in"})
    h = c.run_plugin("alice", hello_ref, {"name": "ChRIS", "shout": True}, previous_id=root)
    o = c.run_plugin("alice", old_ref, {"prefix": "> ", "upper": True, "times": 2}, previous_id=h)
    for iid in (h, o):
        assert c.wait_for(iid, timeout=120) == st.SUCCESS, c.get(iid).error + c.get(iid).logs
    hout = data_root / c.get(h).output_path
    assert (hout / "greeting.txt").read_text() == "HELLO, CHRIS\n"
    assert (hout / "in" / "f.txt").read_text() == "data"  # PathMapper copied the input
    listing = (data_root / c.get(o).output_path / "listing.txt").read_text()
    assert listing == "> GREETING.TXT\n> IN\n> GREETING.TXT\n> IN\n"


def test_unmodified_plugins_run_locally(cdb, plugin_bin, make_coordinator, local_runner,
                                         local_plugins, data_root):
    reg = PluginRegistry(cdb)
    reg.register_executable(str(plugin_bin / "hello"))
    reg.register_executable(str(plugin_bin / "oldapp"), name="pl-oldapp")
    _run_both(make_coordinator, local_runner, data_root, "pl-hello", "pl-oldapp")


@pytest.mark.docker
def test_unmodified_plugins_register_from_their_images_and_run(
    cdb, plugin_image, dclient, make_coordinator, docker_runner, docker_plugins, data_root
):
    reg = PluginRegistry(cdb)
    hello = reg.register_image(plugin_image("pl-hello"), client=dclient)
    assert (hello.name, hello.version, hello.type) == ("pl-hello", "1.2.0", "ds")
    assert hello.descriptor["selfpath"] == "/opt/venv/bin"
    old = reg.register_image(plugin_image("pl-oldapp"), client=dclient)  # chrisapp: `oldapp --json`
    assert (old.name, old.version) == ("pl-oldapp", "2.0.1")
    assert old.descriptor["selfexec"] == "oldapp" and old.descriptor["min_memory_limit"] == 64
    _run_both(make_coordinator, docker_runner, data_root, hello.id, old.id)
