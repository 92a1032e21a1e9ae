"""Descriptor parsing and validation, on real chris_plugin and chrisapp output."""

from __future__ import annotations

import json
import subprocess

import pytest

from chris_jupyter.plugins.descriptor import (
    NO_LIMIT,
    DescriptorError,
    parse_cpu,
    parse_descriptor,
    parse_memory,
)

BASE = {
    "name": "pl-x",
    "version": "1.0.0",
    "dock_image": "local/pl-x:1.0.0",
    "execshell": "/usr/local/bin/python",
    "selfpath": "/usr/local/bin",
    "selfexec": "x",
    "parameters": [],
}


def with_(**kw):
    return {**BASE, **kw}


def param(**kw):
    return {"name": "p", "type": "str", "flag": "--p", "action": "store", "optional": False, **kw}


def test_units():
    assert parse_cpu("1000m") == 1000
    assert parse_cpu(250) == 250
    assert parse_cpu("2000") == 2000
    assert parse_memory("200Mi") == 200
    assert parse_memory("2Gi") == 2048
    assert parse_memory(512) == 512
    for bad in ("1.5", "1000 m", "m", True, None, -1):
        with pytest.raises(DescriptorError):
            parse_cpu(bad)
    for bad in ("2Ti", "1.5Gi", "", False, -3):
        with pytest.raises(DescriptorError):
            parse_memory(bad)


def test_defaults_and_ranges():
    d = parse_descriptor(BASE)
    assert (d.type, d.min_cpu_limit, d.min_memory_limit, d.min_gpu_limit) == ("ds", 1000, 200, 0)
    assert d.max_memory_limit == NO_LIMIT and d.max_cpu_limit == NO_LIMIT
    d = parse_descriptor(with_(min_memory_limit="1Gi", max_memory_limit="2Gi", min_cpu_limit=""))
    assert (d.min_memory_limit, d.max_memory_limit, d.min_cpu_limit) == (1024, 2048, 1000)


@pytest.mark.parametrize(
    "data, field, rule",
    [
        (with_(version="1.0-beta"), "version", "digits and dots"),
        (with_(type="xs"), "type", "fs, ds, ts"),
        (with_(name=""), "name", "required"),
        (with_(name="a/b"), "name", "letters"),
        (with_(selfexec="bin/x"), "selfexec", "without '/'"),
        (with_(parameters=None), "parameters", "required"),
        (with_(min_cpu_limit="2000m", max_cpu_limit="1000m"), "min_cpu_limit", "must not exceed"),
        (with_(min_memory_limit="lots"), "min_memory_limit", "memory such as"),
        (with_(parameters=[param(type="list")]), "parameters[0] (p).type", "must be one of"),
        (with_(parameters=[param(optional=True)]), "parameters[0] (p).default", "needs a default"),
        (with_(parameters=[param(type="path", optional=True, default="x")]),
         "parameters[0] (p).optional", "cannot be optional"),
        (with_(parameters=[param(type="int", optional=True, default="3")]),
         "parameters[0] (p).default", "of type int"),
        (with_(parameters=[param(flag="p")]), "parameters[0] (p).flag", "'--name'"),
        (with_(parameters=[param(action="store_true")]), "parameters[0] (p).action",
         "only for bool"),
        (with_(parameters=[param(ui_exposed=False)]), "parameters[0] (p).ui_exposed",
         "must be exposed"),
        (with_(parameters=[param(), param(flag="--q")]), "parameters[1].name", "declared twice"),
        (with_(parameters=[param(), param(name="q")]), "parameters[1].flag", "another parameter"),
    ],
)
def test_rejections_name_field_value_and_rule(data, field, rule):
    with pytest.raises(DescriptorError) as err:
        parse_descriptor(data)
    assert err.value.field == field
    assert rule in err.value.rule
    assert field in str(err.value)


def test_old_descriptor_filled_from_registration_and_extra_keys_ignored():
    old = {k: v for k, v in BASE.items() if k not in ("name", "dock_image", "selfexec")}
    old.update(max_limits={"x": 1}, extra="ignored", selfpath="")
    with pytest.raises(DescriptorError, match="name"):
        parse_descriptor(old)
    d = parse_descriptor(old, name="pl-old", dock_image="img:1", selfexec="old", selfpath="/bin")
    assert (d.name, d.dock_image, d.selfexec, d.selfpath) == ("pl-old", "img:1", "old", "/bin")


def _info(plugin_bin, dist):
    env = {"PATH": f"{plugin_bin}:/usr/bin:/bin"}
    out = subprocess.run(
        [str(plugin_bin / "python"), "-m", "chris_plugin.tool.chris_plugin_info",
         "--dock-image", f"docker.io/test/{dist}:1", dist],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    return json.loads(out)


def test_real_chris_plugin_output(plugin_bin):
    d = parse_descriptor(_info(plugin_bin, "pl-hello"))
    assert (d.name, d.version, d.type, d.title) == ("pl-hello", "1.2.0", "ds", "Hello")
    assert d.selfexec == "hello" and d.selfpath == str(plugin_bin)
    assert (d.min_memory_limit, d.min_cpu_limit) == (32, 100)
    name = d.parameter("name")
    assert (name.flag, name.short_flag, name.type, name.optional, name.default) == (
        "--name", "-n", "str", True, "world")
    shout = d.parameter("shout")
    assert (shout.type, shout.action, shout.default) == ("bool", "store_true", False)
    assert d.parameter("version") is None  # argparse's version action is not a parameter
    fs = parse_descriptor(_info(plugin_bin, "pl-dircopy"))
    assert fs.type == "fs" and fs.parameter("dir").type == "path"


def test_real_chrisapp_json(plugin_bin):
    out = subprocess.run([str(plugin_bin / "oldapp"), "--json"], capture_output=True, text=True,
                         env={"PATH": f"{plugin_bin}:/usr/bin:/bin"}, check=True).stdout
    raw = json.loads(out)
    assert "name" not in raw and "dock_image" not in raw
    d = parse_descriptor(raw, name="pl-oldapp", dock_image="local/oldapp")
    assert (d.version, d.min_cpu_limit, d.max_memory_limit) == ("2.0.1", 200, 1024)
    assert d.parameter("upper").action == "store_true"
    assert d.parameter("prefix").optional is False
    assert d.parameter("times").default == 1
