"""Creating plugin-instance rows: resources, output folders, the DAG around an instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import paths
from ..db.models.compute import PluginInstance
from ..db.models.feeds import Feed
from ..db.models.library import User
from ..plugins.cmdline import ParameterError
from ..plugins.descriptor import (
    DEFAULT_CPU_MILLICORES,
    DEFAULT_MEMORY_MIB,
    RESOURCE_KEYS,
    DescriptorError,
    PluginDescriptor,
    parse_cpu,
    parse_memory,
)

#: What a run gets when it asks for nothing, clamped to the plugin's min..max. (A plugin's
#: minimum is what it needs, not a ceiling to throttle it to: 100m of CPU would make Python's
#: start-up alone take seconds.)
DEFAULT_REQUEST = {"cpu_limit": DEFAULT_CPU_MILLICORES, "memory_limit": DEFAULT_MEMORY_MIB, "gpu_limit": 0,
                   "number_of_workers": 1}
#: How a requested value is read: quantities with units; the counts must be plain ints.
_PARSERS = {"cpu_limit": parse_cpu, "memory_limit": parse_memory}


def check_resources(desc: PluginDescriptor, requested: Mapping[str, Any] | None) -> dict[str, int]:
    """Resources of one run: the request, else :data:`DEFAULT_REQUEST` clamped to the plugin's
    min..max range; a request outside that range is refused.

    Keys: ``cpu_limit`` (millicores), ``memory_limit`` (MiB), ``gpu_limit``,
    ``number_of_workers``. Units as in descriptors ("1500m", "512Mi", "2Gi", ints).
    """
    requested = dict(requested or {})
    unknown = set(requested) - set(RESOURCE_KEYS)
    if unknown:
        key = sorted(unknown)[0]
        raise ParameterError(f"resources.{key}", requested[key], "unknown resource")
    out = {}
    for key in RESOURCE_KEYS:
        parse, (lo, hi) = _PARSERS.get(key), desc.resource_range(key)
        raw = requested.get(key)
        if raw in (None, ""):
            out[key] = min(max(DEFAULT_REQUEST[key], lo), hi)
            continue
        try:
            if parse is not None:
                value = parse(raw, f"resources.{key}")
            elif isinstance(raw, int) and not isinstance(raw, bool):
                value = raw
            else:
                raise DescriptorError(f"resources.{key}", raw, "must be an integer")
        except DescriptorError as exc:
            raise ParameterError(exc.field, exc.value, exc.rule) from None
        if not lo <= value <= hi:
            raise ParameterError(
                f"resources.{key}", raw, f"must be between {lo} and {hi} for {desc.name}"
            )
        out[key] = value
    return out


def user_id(s: Session, username: str) -> int:
    uid = s.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise LookupError(f"unknown user {username!r}")
    return uid


def create_feed(s: Session, owner: str, name: str) -> Feed:
    feed = Feed(name=name[:200], owner_id=user_id(s, owner))
    s.add(feed)
    s.flush()
    return feed


def output_path_for(
    s: Session, inst: PluginInstance, plugin_name: str, parent: PluginInstance | None
) -> str:
    """``home/<feed owner>/feeds/feed_<id>/<plugin>_<id>/data``; children nest in the parent's
    folder (``…/pl-dircopy_16/pl-simpledsapp_17/data``)."""
    folder = f"{paths.safe_component(plugin_name)}_{inst.id}"
    if parent is not None and parent.output_path:
        return paths.join(paths.parent(parent.output_path), folder, "data")
    feed = s.get(Feed, inst.feed_id)
    owner = feed.owner.username if feed is not None else inst.owner
    return paths.join(paths.feed_dir(owner, inst.feed_id), folder, "data")


def parents_of(inst: PluginInstance) -> list[int]:
    return [p for p in [inst.previous_id, *(inst.joins or [])] if p is not None]


def descendants(s: Session, instance_id: int) -> list[int]:
    """Every instance downstream of ``instance_id`` (children, ts joins), parents first."""
    feed_id = s.execute(
        select(PluginInstance.feed_id).where(PluginInstance.id == instance_id)
    ).scalar_one_or_none()
    rows = s.execute(
        select(PluginInstance.id, PluginInstance.previous_id, PluginInstance.joins).where(
            PluginInstance.feed_id == feed_id
        )
    ).all()
    children: dict[int, list[int]] = {}
    for iid, prev, joins in rows:
        for p in {prev, *(joins or [])}:
            if p is not None:
                children.setdefault(p, []).append(iid)
    out: list[int] = []
    todo = list(children.get(instance_id, []))
    while todo:
        iid = todo.pop(0)
        if iid not in out:
            out.append(iid)
            todo += children.get(iid, [])
    return out
