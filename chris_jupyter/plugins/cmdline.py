"""Validate run parameters against a descriptor and build the plugin's argv.

The command line is always a list handed to ``execve`` (subprocess or the container's entrypoint);
no shell ever sees it, so a value such as ``"a; rm -rf / $(x)"`` reaches the program verbatim as
one argument. ``path``/``unextpath`` values are comma-separated *library* paths: each is normalised
with :mod:`chris_jupyter.paths`, checked with the caller's ``can_read`` and replaced by
the place where the runner mounts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import paths
from .descriptor import ParameterSpec, PluginDescriptor

# Flags chris_plugin/chrisapp plugins accept besides their declared parameters.
META_FLAGS = ("--saveinputmeta", "--saveoutputmeta")


class ParameterError(ValueError):
    """A run request's parameter is unknown, missing, of the wrong type or not readable."""

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"parameter {field}={value!r}: {rule}")


def _check_type(spec: ParameterSpec, value: Any) -> Any:
    t = spec.type
    if t == "bool":
        if isinstance(value, bool):
            return value
        raise ParameterError(spec.name, value, "must be true or false")
    if t == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise ParameterError(spec.name, value, "must be an integer")
    if t == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ParameterError(spec.name, value, "must be a number")
    if t == "str" and isinstance(value, bool):
        value = "true" if value else "false"  # the string form of any scalar, as ChRIS takes it
    elif t == "str" and isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise ParameterError(spec.name, value, "must be a string")
    if "\x00" in value:
        raise ParameterError(spec.name, value, "must not contain a NUL byte")
    if spec.is_path:
        return ",".join(_split_paths(spec, value))
    return value


def _split_paths(spec: ParameterSpec, value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ParameterError(spec.name, value, "needs at least one library path")
    out = []
    for item in items:
        try:
            out.append(paths.normalize(item))
        except paths.InvalidPath as exc:
            raise ParameterError(spec.name, item, str(exc)) from None
    return out


def resolve_params(desc: PluginDescriptor, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a run request's parameter values; return the explicit values, typed.

    Unknown names, wrong types and missing required parameters raise :class:`ParameterError`.
    Defaults are *not* added: the plugin applies its own (``chris_plugin`` writes placeholder
    defaults such as ``-1`` into descriptors that the program itself does not use).
    """
    values = dict(values or {})
    out: dict[str, Any] = {}
    for key, value in values.items():
        spec = desc.parameter(key)
        if spec is None:
            known = ", ".join(p.name for p in desc.parameters) or "none"
            raise ParameterError(key, value, f"unknown parameter of {desc.name} (known: {known})")
        if value is None:
            if spec.optional:
                continue
            raise ParameterError(key, value, "is required")
        out[key] = _check_type(spec, value)
    for spec in desc.parameters:
        if not spec.optional and spec.name not in out:
            raise ParameterError(spec.name, None, f"is required by {desc.name}")
    return out


def effective_params(desc: PluginDescriptor, explicit: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value as the plugin sees it (explicit, else the declared default)."""
    return {p.name: explicit.get(p.name, p.default) for p in desc.parameters}


def library_paths(desc: PluginDescriptor, explicit: Mapping[str, Any]) -> list[str]:
    """The distinct library paths named by path parameters, in order of appearance."""
    seen: list[str] = []
    for spec in desc.parameters:
        if spec.is_path and spec.name in explicit:
            for p in str(explicit[spec.name]).split(","):
                if p not in seen:
                    seen.append(p)
    return seen


def check_readable(
    desc: PluginDescriptor, explicit: Mapping[str, Any], can_read: Callable[[str], bool]
) -> None:
    """Refuse path parameters naming anything the user may not read (same message either way)."""
    for spec in desc.parameters:
        if spec.is_path and spec.name in explicit:
            for p in str(explicit[spec.name]).split(","):
                if not can_read(p):
                    raise ParameterError(spec.name, p, "does not exist or you may not read it")


def base_command(desc: PluginDescriptor) -> list[str]:
    """``[execshell, selfpath/selfexec]`` (the parts that are set)."""
    exe = f"{desc.selfpath.rstrip('/')}/{desc.selfexec}" if desc.selfpath else desc.selfexec
    return [desc.execshell, exe] if desc.execshell else [exe]


def build_argv(
    desc: PluginDescriptor,
    explicit: Mapping[str, Any],
    *,
    output_dir: str,
    input_dir: str | None = None,
    can_read: Callable[[str], bool],
    mount_of: Mapping[str, str] | Callable[[str], str],
    command: list[str] | None = None,
) -> list[str]:
    """Build the argv of one run.

    Parameters
    ----------
    desc
        The plugin's descriptor.
    explicit
        Values returned by :func:`resolve_params`.
    output_dir, input_dir
        The directories as the program sees them (``/share/outgoing`` in a container). ``fs``
        plugins get no input dir.
    can_read
        ``can_read(library_path) -> bool`` for the user running the job.
    mount_of
        Library path -> where the program sees it (a mapping or a callable).
    command
        The program to call; defaults to :func:`base_command`.
    """
    check_readable(desc, explicit, can_read)
    lookup = mount_of.__getitem__ if isinstance(mount_of, Mapping) else mount_of
    argv = list(command if command is not None else base_command(desc))
    for spec in desc.parameters:
        if spec.name not in explicit:
            continue
        value = explicit[spec.name]
        if spec.action == "store_true":
            if value:
                argv.append(spec.flag)
            continue
        if spec.action == "store_false":
            if not value:
                argv.append(spec.flag)
            continue
        if spec.is_path:
            text = ",".join(lookup(p) for p in str(value).split(","))
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        if text.startswith("-"):
            # '--flag=value' / '-fvalue' keep argparse from reading '-x' as an option
            sep = "=" if spec.flag.startswith("--") else ""
            argv.append(f"{spec.flag}{sep}{text}")
        else:
            argv += [spec.flag, text]
    if desc.type == "ds" and input_dir is None:
        raise ValueError(f"ds plugin {desc.name} needs an input directory")
    if desc.type != "fs" and input_dir is not None:
        # ts: chris_plugin gives ts plugins an input dir too (the parents' outputs side by side)
        argv.append(input_dir)
    argv.append(output_dir)
    return argv
