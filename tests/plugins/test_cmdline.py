"""argv building: types, actions, defaults, required, path parameters, shell metacharacters."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chris_jupyter.plugins.cmdline import (
    ParameterError,
    build_argv,
    effective_params,
    library_paths,
    resolve_params,
)
from chris_jupyter.plugins.descriptor import parse_descriptor

DESC = parse_descriptor({
    "name": "pl-x", "version": "1.0", "dock_image": "x", "selfexec": "x",
    "execshell": "/usr/bin/python3", "selfpath": "/usr/local/bin",
    "parameters": [
        {"name": "word", "type": "str", "flag": "--word", "optional": True, "default": ""},
        {"name": "n", "type": "int", "flag": "--n", "short_flag": "-n", "optional": True,
         "default": 1},
        {"name": "ratio", "type": "float", "flag": "--ratio", "optional": True, "default": 0.5},
        {"name": "loud", "type": "bool", "flag": "--loud", "action": "store_true",
         "optional": True, "default": False},
        {"name": "quiet", "type": "bool", "flag": "--no-quiet", "action": "store_false",
         "optional": True, "default": True},
        {"name": "src", "type": "path", "flag": "--src", "optional": False},
    ],
})
MOUNTS = {"home/alice/a": "/share/paths/0/a", "home/alice/b c": "/share/paths/1/b c"}


def argv(values, **kw):
    explicit = resolve_params(DESC, values)
    return build_argv(DESC, explicit, output_dir="/out", input_dir="/in",
                      can_read=lambda p: p.startswith("home/alice/"), mount_of=MOUNTS, **kw)


def test_argv_is_a_list_with_flags_values_and_dirs():
    a = argv({"word": "hi", "n": 3, "ratio": 2, "loud": True, "quiet": False,
              "src": "home/alice/a, home/alice/b c"})
    assert a == ["/usr/bin/python3", "/usr/local/bin/x", "--word", "hi", "--n", "3", "--ratio",
                 "2.0", "--loud", "--no-quiet", "--src", "/share/paths/0/a,/share/paths/1/b c",
                 "/in", "/out"]


def test_defaults_are_left_to_the_plugin_and_bools_only_when_they_differ():
    a = argv({"src": "home/alice/a", "loud": False, "quiet": True})
    assert a == ["/usr/bin/python3", "/usr/local/bin/x", "--src", "/share/paths/0/a", "/in", "/out"]
    eff = effective_params(DESC, resolve_params(DESC, {"src": "home/alice/a"}))
    assert eff["n"] == 1 and eff["quiet"] is True


@pytest.mark.parametrize("values, field, rule", [
    ({"src": "home/alice/a", "nope": 1}, "nope", "unknown parameter"),
    ({"src": "home/alice/a", "n": "three"}, "n", "integer"),
    ({"src": "home/alice/a", "n": True}, "n", "integer"),
    ({"src": "home/alice/a", "ratio": "x"}, "ratio", "number"),
    ({"src": "home/alice/a", "loud": "yes"}, "loud", "true or false"),
    ({"src": "home/alice/a", "word": ["x"]}, "word", "string"),
    ({"src": 5}, "src", "string"),
    ({}, "src", "required"),
    ({"src": "/etc/passwd"}, "src", "absolute"),
    ({"src": "home/alice/../bob"}, "src", "'..'"),
    ({"src": " , "}, "src", "at least one"),
])
def test_bad_values(values, field, rule):
    with pytest.raises(ParameterError) as err:
        resolve_params(DESC, values)
    assert err.value.field == field and rule in err.value.rule


def test_a_str_parameter_takes_the_string_form_of_any_scalar():
    """As ChRIS does: ``sleepLength=0`` sent as a number reaches a str parameter as ``"0"``."""
    got = resolve_params(DESC, {"src": "home/alice/a", "word": 0})
    assert got["word"] == "0"
    assert resolve_params(DESC, {"src": "home/alice/a", "word": 2.5})["word"] == "2.5"
    assert resolve_params(DESC, {"src": "home/alice/a", "word": True})["word"] == "true"


def test_path_the_user_may_not_read_is_refused_without_saying_whether_it_exists():
    with pytest.raises(ParameterError, match="does not exist or you may not read it"):
        argv({"src": "home/bob/secret"})
    assert library_paths(DESC, {"src": "home/alice/a,home/alice/a"}) == ["home/alice/a"]


def test_shell_metacharacters_reach_the_program_verbatim():
    nasty = "a; rm -rf / && $(touch /tmp/pwned) `id` | cat > x 'q' \"dq\" * ~ \n -- end"
    a = argv({"src": "home/alice/a", "word": nasty})
    assert a[a.index("--word") + 1] == nasty
    # and a real program receives it as one argument
    prog = [sys.executable, "-c", "import sys; print(repr(sys.argv[1:]))"]
    out = subprocess.run(prog + a[2:], capture_output=True, text=True, check=True).stdout
    assert repr(nasty) in out


def test_values_that_look_like_options_stay_values():
    a = argv({"src": "home/alice/a", "word": "--loud", "n": -2})
    assert "--word=--loud" in a and "--n=-2" in a and "--loud" not in a


def test_fs_plugin_gets_no_input_dir_and_ds_needs_one():
    fs = parse_descriptor({"name": "f", "version": "1", "dock_image": "f", "selfexec": "f",
                           "type": "fs", "parameters": []})
    assert build_argv(fs, {}, output_dir="/o", can_read=bool, mount_of={}) == ["f", "/o"]
    with pytest.raises(ValueError, match="input directory"):
        build_argv(DESC, {"src": "home/alice/a"}, output_dir="/o", can_read=bool, mount_of=MOUNTS)
