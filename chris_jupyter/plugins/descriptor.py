"""The ChRIS plugin descriptor: a typed model and its validation.

A descriptor is what ``chris_plugin_info`` (``chris_plugin``) or ``<selfexec> --json`` (the older
``chrisapp`` superclass) prints. :func:`parse_descriptor` accepts both: unknown keys are ignored,
empty strings for resource limits mean "use the default", and the fields old descriptors lack
(``name``, ``version``, ``dock_image``, ``execshell``/``selfpath``/``selfexec``) are filled from
registration arguments (``chrisapp`` 1.0.x prints neither a name nor a version). ``dock_image``
may stay empty: such a plugin runs only with the local runner.
Every rejection is a :class:`DescriptorError` naming the field, the value and the rule.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PLUGIN_TYPES = ("fs", "ds", "ts")
PARAM_TYPES = ("str", "int", "float", "bool", "path", "unextpath")
PARAM_ACTIONS = ("store", "store_true", "store_false")
PATH_TYPES = ("path", "unextpath")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_FLAG_RE = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_\-]*$")
_DEST_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CPU_RE = re.compile(r"^([0-9]+)m$")
_MEM_RE = re.compile(r"^([0-9]+)(Mi|Gi|M|G)$")

DEFAULT_CPU_MILLICORES = 1000
DEFAULT_MEMORY_MIB = 200
NO_LIMIT = 2**31 - 1  # a missing max_cpu_limit / max_memory_limit

#: The resources of a run, each bounded by the descriptor's ``min_<key>``/``max_<key>`` pair:
#: ``cpu_limit`` (millicores), ``memory_limit`` (MiB), ``gpu_limit``, ``number_of_workers``.
RESOURCE_KEYS = ("cpu_limit", "memory_limit", "gpu_limit", "number_of_workers")


class DescriptorError(ValueError):
    """A descriptor (or one of its parameters) breaks a rule.

    Attributes
    ----------
    field
        Dotted location of the offending field (``parameters[2].default``).
    value
        The value found there.
    rule
        The rule it breaks, in plain words.
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}={value!r}: {rule}")


@dataclass(frozen=True)
class ParameterSpec:
    """One plugin parameter, as the descriptor declares it."""

    name: str
    type: str
    flag: str
    short_flag: str = ""
    action: str = "store"
    optional: bool = False
    default: Any = None
    help: str = ""
    ui_exposed: bool = True

    @property
    def is_path(self) -> bool:
        return self.type in PATH_TYPES


@dataclass(frozen=True)
class PluginDescriptor:
    """A validated plugin descriptor. Resource limits are normalised to ints."""

    name: str
    version: str
    dock_image: str
    execshell: str
    selfpath: str
    selfexec: str
    parameters: tuple[ParameterSpec, ...]
    type: str = "ds"
    title: str = ""
    category: str = ""
    authors: str = ""
    description: str = ""
    documentation: str = ""
    license: str = ""
    icon: str = ""
    public_repo: str = ""
    min_number_of_workers: int = 1
    max_number_of_workers: int = 1
    min_cpu_limit: int = DEFAULT_CPU_MILLICORES  # millicores
    max_cpu_limit: int = DEFAULT_CPU_MILLICORES
    min_memory_limit: int = DEFAULT_MEMORY_MIB  # MiB
    max_memory_limit: int = DEFAULT_MEMORY_MIB
    min_gpu_limit: int = 0
    max_gpu_limit: int = 0

    def parameter(self, name: str) -> ParameterSpec | None:
        """The parameter called ``name``, or ``None``."""
        return next((p for p in self.parameters if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the descriptor format (parameters as a list of dicts)."""
        data = dataclasses.asdict(self)
        data["parameters"] = [dataclasses.asdict(p) for p in self.parameters]
        return data

    def resource_range(self, key: str) -> tuple[int, int]:
        """The ``(min, max)`` the plugin allows for a resource of :data:`RESOURCE_KEYS`."""
        if key not in RESOURCE_KEYS:
            raise KeyError(key)
        return getattr(self, f"min_{key}"), getattr(self, f"max_{key}")

    @property
    def version_key(self) -> tuple[int, ...]:
        """Sortable key of the version."""
        return version_key(self.version)


def version_key(version: str) -> tuple[int, ...]:
    """Sortable key of a dotted numeric version (``"1.10.0"`` > ``"1.9"``)."""
    return tuple(int(x) for x in version.split("."))


_CPU_RULE = "must be millicores such as '1000m' or an int"
_MEM_RULE = "must be memory such as '200Mi', '2Gi' or an int (MiB)"


def _quantity(value: Any, field: str, pattern: re.Pattern[str], rule: str,
              scale: Callable[[re.Match[str]], int]) -> int:
    """The one rule for a resource quantity: a non-negative int, a digit string, or ``pattern``
    (whose match ``scale`` turns into the int); anything else is refused with ``rule``."""
    if isinstance(value, bool):
        raise DescriptorError(field, value, rule)
    if isinstance(value, int):
        if value < 0:
            raise DescriptorError(field, value, "must not be negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        m = pattern.match(text)
        if m:
            return scale(m)
    raise DescriptorError(field, value, rule)


def parse_cpu(value: Any, field: str = "cpu_limit") -> int:
    """Millicores from ``"1500m"``, an int (millicores) or a digit string."""
    return _quantity(value, field, _CPU_RE, _CPU_RULE, lambda m: int(m.group(1)))


def parse_memory(value: Any, field: str = "memory_limit") -> int:
    """MiB from ``"200Mi"``, ``"2Gi"`` (``M``/``G`` accepted as aliases) or an int (MiB)."""
    return _quantity(value, field, _MEM_RE, _MEM_RULE,
                     lambda m: int(m.group(1)) * (1024 if m.group(2) in ("Gi", "G") else 1))


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DescriptorError(field, value, "must be an integer")
    try:
        n = int(value)
    except ValueError:
        raise DescriptorError(field, value, "must be an integer") from None
    if n < 0:
        raise DescriptorError(field, value, "must not be negative")
    return n


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DescriptorError(key, value, "must be a string")
    return value


def _value_matches(ptype: str, value: Any) -> bool:
    if ptype == "bool":
        return isinstance(value, bool)
    if ptype == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if ptype == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def parse_parameter(raw: Any, index: int) -> ParameterSpec:
    """Validate one entry of ``parameters``."""
    where = f"parameters[{index}]"
    if not isinstance(raw, Mapping):
        raise DescriptorError(where, raw, "must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not _DEST_RE.match(name):
        raise DescriptorError(f"{where}.name", name, "must be an identifier (argparse dest)")
    where = f"parameters[{index}] ({name})"
    ptype = raw.get("type")
    if ptype not in PARAM_TYPES:
        raise DescriptorError(f"{where}.type", ptype, f"must be one of {', '.join(PARAM_TYPES)}")
    flag = raw.get("flag")
    if not isinstance(flag, str) or not _FLAG_RE.match(flag):
        raise DescriptorError(f"{where}.flag", flag, "must look like '--name' or '-n'")
    short_flag = raw.get("short_flag") or flag
    if not isinstance(short_flag, str) or not _FLAG_RE.match(short_flag):
        raise DescriptorError(f"{where}.short_flag", short_flag, "must look like '-n'")
    action = raw.get("action") or ("store_true" if ptype == "bool" else "store")
    if action not in PARAM_ACTIONS:
        raise DescriptorError(f"{where}.action", action, f"must be one of {', '.join(PARAM_ACTIONS)}")
    if (ptype == "bool") != (action != "store"):
        rule = (
            "a bool parameter needs action store_true or store_false"
            if ptype == "bool"
            else f"action {action} is only for bool parameters"
        )
        raise DescriptorError(f"{where}.action", action, rule)
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise DescriptorError(f"{where}.optional", optional, "must be true or false")
    default = raw.get("default")
    if action == "store_true" and default is None:
        default = False
    if action == "store_false" and default is None:
        default = True
    if optional and ptype in PATH_TYPES:
        raise DescriptorError(f"{where}.optional", optional, f"a {ptype} parameter cannot be optional")
    if optional and default is None:
        raise DescriptorError(f"{where}.default", default, "an optional parameter needs a default")
    if default is not None and not _value_matches(ptype, default):
        raise DescriptorError(f"{where}.default", default, f"must be of type {ptype}")
    if ptype == "float" and isinstance(default, int):
        default = float(default)
    ui_exposed = raw.get("ui_exposed", True)
    if not isinstance(ui_exposed, bool):
        raise DescriptorError(f"{where}.ui_exposed", ui_exposed, "must be true or false")
    if not optional and not ui_exposed:
        raise DescriptorError(f"{where}.ui_exposed", ui_exposed, "a required parameter must be exposed")
    help_text = raw.get("help") or ""
    if not isinstance(help_text, str):
        raise DescriptorError(f"{where}.help", help_text, "must be a string")
    return ParameterSpec(
        name=name,
        type=ptype,
        flag=flag,
        short_flag=short_flag,
        action=action,
        optional=optional,
        default=default,
        help=help_text,
        ui_exposed=ui_exposed,
    )


def _pair(
    data: Mapping[str, Any], what: str, parse, default: int, default_max: int | None = None
) -> tuple[int, int]:
    """A min/max pair; a missing max means "no ceiling" (``default_max``), as in CUBE."""
    lo_key, hi_key = f"min_{what}", f"max_{what}"
    lo_raw, hi_raw = data.get(lo_key), data.get(hi_key)
    lo = default if lo_raw in (None, "") else parse(lo_raw, lo_key)
    ceiling = default if default_max is None else default_max
    hi = max(lo, ceiling) if hi_raw in (None, "") else parse(hi_raw, hi_key)
    if lo > hi:
        raise DescriptorError(lo_key, lo_raw, f"must not exceed {hi_key}={hi_raw!r}")
    return lo, hi


def parse_descriptor(
    data: Mapping[str, Any],
    *,
    name: str | None = None,
    version: str | None = None,
    dock_image: str | None = None,
    execshell: str | None = None,
    selfpath: str | None = None,
    selfexec: str | None = None,
) -> PluginDescriptor:
    """Validate a descriptor dict and return a :class:`PluginDescriptor`.

    Parameters
    ----------
    data
        The descriptor as decoded from JSON. Extra keys are ignored.
    name, version, dock_image, execshell, selfpath, selfexec
        Registration arguments. ``name``, ``version`` and ``dock_image`` override the descriptor's
        own values (as in ChRIS, the registration request wins: an admin may register an image
        under another name); the exec fields only fill gaps.

    Raises
    ------
    DescriptorError
        With the field, the value and the rule broken.
    """
    if not isinstance(data, Mapping):
        raise DescriptorError("descriptor", type(data).__name__, "must be a JSON object")
    plugin_name = name or _str(data, "name")
    if not plugin_name:
        raise DescriptorError("name", plugin_name, "is required (in the descriptor or at registration)")
    if not _NAME_RE.match(plugin_name):
        raise DescriptorError("name", plugin_name, "letters, digits, '_', '.', '-' only (max 100)")
    version = version or data.get("version")
    if version is None or version == "":
        raise DescriptorError("version", version, "is required (in the descriptor or at registration, "
                                                  "e.g. --version 1.0.0)")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise DescriptorError("version", version, "must be digits and dots such as '1.2.0'")
    image = dock_image or _str(data, "dock_image")
    exec_fields = {
        "execshell": _str(data, "execshell") or execshell or "",
        "selfpath": _str(data, "selfpath") or selfpath or "",
        "selfexec": _str(data, "selfexec") or selfexec or "",
    }
    if not exec_fields["selfexec"]:
        raise DescriptorError("selfexec", "", "is required (in the descriptor or at registration)")
    if "/" in exec_fields["selfexec"]:
        raise DescriptorError("selfexec", exec_fields["selfexec"], "must be a file name without '/'")
    ptype = data.get("type") or "ds"
    if ptype not in PLUGIN_TYPES:
        raise DescriptorError("type", ptype, "must be one of fs, ds, ts")
    raw_params = data.get("parameters")
    if raw_params is None:
        raise DescriptorError("parameters", raw_params, "is required (a list, possibly empty)")
    if not isinstance(raw_params, list):
        raise DescriptorError("parameters", raw_params, "must be a list")
    params = tuple(parse_parameter(p, i) for i, p in enumerate(raw_params))
    seen_names: set[str] = set()
    seen_flags: set[str] = set()
    for i, p in enumerate(params):
        if p.name in seen_names:
            raise DescriptorError(f"parameters[{i}].name", p.name, "is declared twice")
        for f in {p.flag, p.short_flag}:
            if f in seen_flags:
                raise DescriptorError(f"parameters[{i}].flag", f, "is used by another parameter")
            seen_flags.add(f)
        seen_names.add(p.name)
    workers = _pair(data, "number_of_workers", _int, 1)
    if workers[0] < 1:
        raise DescriptorError("min_number_of_workers", workers[0], "must be at least 1")
    cpu = _pair(data, "cpu_limit", parse_cpu, DEFAULT_CPU_MILLICORES, NO_LIMIT)
    mem = _pair(data, "memory_limit", parse_memory, DEFAULT_MEMORY_MIB, NO_LIMIT)
    gpu = _pair(data, "gpu_limit", _int, 0)
    return PluginDescriptor(
        name=plugin_name,
        version=version,
        dock_image=image,
        parameters=params,
        type=ptype,
        title=_str(data, "title"),
        category=_str(data, "category"),
        authors=_str(data, "authors"),
        description=_str(data, "description"),
        documentation=_str(data, "documentation"),
        license=_str(data, "license"),
        icon=_str(data, "icon"),
        public_repo=_str(data, "public_repo"),
        min_number_of_workers=workers[0],
        max_number_of_workers=workers[1],
        min_cpu_limit=cpu[0],
        max_cpu_limit=cpu[1],
        min_memory_limit=mem[0],
        max_memory_limit=mem[1],
        min_gpu_limit=gpu[0],
        max_gpu_limit=gpu[1],
        **exec_fields,
    )


def is_version(text: str) -> bool:
    """Whether ``text`` is a plugin version (digits and dots)."""
    return bool(_VERSION_RE.match(text))


__all__ = [
    "DescriptorError",
    "ParameterSpec",
    "is_version",
    "PluginDescriptor",
    "RESOURCE_KEYS",
    "parse_cpu",
    "parse_descriptor",
    "parse_memory",
    "version_key",
]
