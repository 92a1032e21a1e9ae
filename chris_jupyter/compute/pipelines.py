"""ChRIS pipelines: parse, check and store them.

A pipeline is a tree of *pipings* with exactly one root. Both source forms of the original are
read: the YAML/JSON file form (``plugin_tree`` entries with ``title``, ``plugin: "pl-x v1.2"``,
``previous: <title>``, ``plugin_parameter_defaults: {name: value}``) and the REST form
(``plugin_name``/``plugin_version``, ``previous_index``, defaults as ``[{name, default}]``; the
tree may be a JSON string). A ``ts`` piping adds edges through its ``plugininstances`` default
(a comma-separated list of titles or indices). The result must be acyclic.

Running a pipeline (creating all its instances at once, each waiting on its parent) is
:meth:`chris_jupyter.compute.coordinator.Coordinator.run_pipeline`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from sqlalchemy import select

from ..db import Database
from ..db.models.compute import Pipeline
from ..plugins.descriptor import RESOURCE_KEYS

_PLUGIN_RE = re.compile(r"^\s*(\S+)\s+v?([0-9][0-9.]*)\s*$")


class PipelineError(ValueError):
    """The pipeline source is not valid; the message says where and why."""


@dataclass
class Piping:
    """One node of a pipeline: a plugin, its defaults and resources, its parent's title and the
    compute resource it runs on (``None``: the plugin's first)."""

    title: str
    plugin_name: str
    plugin_version: str
    previous: str | None
    params: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    joins: list[str] = field(default_factory=list)  # titles of extra (ts) parents
    compute_resource: str | None = None


@dataclass
class PipelineSpec:
    """A parsed pipeline: its pipings, parents before children."""

    name: str
    pipings: list[Piping]  # parents before children
    authors: str = ""
    category: str = ""
    description: str = ""
    locked: bool = True

    @property
    def root(self) -> Piping:
        """The first piping (it runs on the pipeline's parent instance)."""
        return self.pipings[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _defaults(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, list):
        out = {}
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping) or "name" not in item:
                raise PipelineError(f"{where}.plugin_parameter_defaults[{i}]: needs 'name' and 'default'")
            out[str(item["name"])] = item.get("default")
        return out
    raise PipelineError(f"{where}.plugin_parameter_defaults: must be a mapping or a list")


def _piping(raw: Any, index: int) -> tuple[Piping, Any]:
    where = f"plugin_tree[{index}]"
    if not isinstance(raw, Mapping):
        raise PipelineError(f"{where}: must be a mapping")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise PipelineError(f"{where}.title: a non-empty title is required")
    where = f"plugin_tree[{index}] ({title})"
    if "plugin" in raw:
        m = _PLUGIN_RE.match(str(raw["plugin"]))
        if not m:
            raise PipelineError(f"{where}.plugin: {raw['plugin']!r} must read 'name vVERSION'")
        name, version = m.groups()
    else:
        name, version = raw.get("plugin_name"), raw.get("plugin_version")
        if not name or not version:
            raise PipelineError(f"{where}: needs 'plugin' or 'plugin_name' and 'plugin_version'")
    params = _defaults(raw.get("plugin_parameter_defaults"), where)
    resources = {k: raw[k] for k in RESOURCE_KEYS if raw.get(k) not in (None, "")}
    prev = raw["previous"] if "previous" in raw else raw.get("previous_index")
    where_to = raw.get("compute_resource_name")
    if where_to is not None and (not isinstance(where_to, str) or not where_to.strip()):
        raise PipelineError(f"{where}.compute_resource_name: must be a compute resource's name")
    return Piping(title.strip(), str(name), str(version), None, params, resources,
                  compute_resource=where_to.strip() if where_to else None), prev


def parse_pipeline(source: str | Mapping[str, Any]) -> PipelineSpec:
    """Parse a pipeline from YAML or JSON text (or an already-decoded mapping) and check it.

    Raises
    ------
    PipelineError
        Unknown parents, duplicate titles, zero or several roots, cycles (the message lists
        the titles in the cycle).
    """
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            raise PipelineError(f"not valid YAML or JSON: {exc}") from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise PipelineError("a pipeline must be a mapping with 'name' and 'plugin_tree'")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PipelineError("name: a non-empty pipeline name is required")
    tree = data.get("plugin_tree")
    if isinstance(tree, str):
        try:
            tree = json.loads(tree)
        except json.JSONDecodeError as exc:
            raise PipelineError(f"plugin_tree: invalid JSON string: {exc}") from None
    if not isinstance(tree, list) or not tree:
        raise PipelineError("plugin_tree: must be a non-empty list of pipings")
    parsed = [_piping(raw, i) for i, raw in enumerate(tree)]
    titles = [p.title for p, _ in parsed]
    dupes = sorted({t for t in titles if titles.count(t) > 1})
    if dupes:
        raise PipelineError(f"titles must be unique; repeated: {', '.join(dupes)}")

    def ref(value: Any, where: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(titles):
                raise PipelineError(f"{where}: index {value} is out of range")
            return titles[value]
        text = str(value).strip()
        if text.isdigit() and text not in titles:
            return ref(int(text), where)
        if text not in titles:
            raise PipelineError(f"{where}: no piping titled {text!r}")
        return text

    for i, (p, prev) in enumerate(parsed):
        where = f"plugin_tree[{i}] ({p.title})"
        p.previous = None if prev is None else ref(prev, f"{where}.previous")
        if p.previous == p.title:
            raise PipelineError(f"{where}.previous: a piping cannot be its own parent")
        joins = p.params.get("plugininstances")
        if isinstance(joins, str | int) and str(joins).strip():
            items = [x for x in str(joins).split(",") if x.strip()]
            p.joins = [ref(x, f"{where}.plugininstances") for x in items]
            p.joins = [j for j in p.joins if j != p.previous]
    roots = [p.title for p, _ in parsed if p.previous is None]
    if len(roots) != 1:
        raise PipelineError(
            f"a pipeline needs exactly one root (piping with previous: null); found {len(roots)}"
            + (f": {', '.join(roots)}" if roots else "")
        )
    order = _toposort({p.title: [x for x in [p.previous, *p.joins] if x] for p, _ in parsed})
    by_title = {p.title: p for p, _ in parsed}
    return PipelineSpec(
        name=name.strip(),
        pipings=[by_title[t] for t in order],
        authors=str(data.get("authors") or ""),
        category=str(data.get("category") or ""),
        description=str(data.get("description") or ""),
        locked=bool(data.get("locked", True)),
    )


def _toposort(parents: dict[str, list[str]]) -> list[str]:
    """Titles with every parent before its children; a cycle raises with its members."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = stack[stack.index(node) :] + [node]
            raise PipelineError("the pipeline has a cycle: " + " -> ".join(cycle))
        state[node] = 1
        for parent in parents[node]:
            visit(parent, [*stack, node])
        state[node] = 2
        order.append(node)

    for node in parents:
        visit(node, [])
    return order


class PipelineStore:
    """Saved pipelines (parsed once at upload; the source text is kept for download)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, owner: str, source: str | Mapping[str, Any]) -> Pipeline:
        """Parse and save a pipeline owned by ``owner``; refused when the name is taken."""
        spec = parse_pipeline(source)
        text = source if isinstance(source, str) else json.dumps(source, indent=2)
        with self.db.session() as s:
            exists = s.execute(
                select(Pipeline).where(Pipeline.name == spec.name, Pipeline.owner == owner)
            ).scalar_one_or_none()
            if exists is not None:
                raise PipelineError(f"you already have a pipeline named {spec.name!r}")
            row = Pipeline(
                name=spec.name,
                owner=owner,
                authors=spec.authors,
                category=spec.category,
                description=spec.description,
                locked=spec.locked,
                source=text,
                pipings=[asdict(p) for p in spec.pipings],
            )
            s.add(row)
            s.flush()
            return row

    def get(self, pipeline_id: int) -> Pipeline:
        """One saved pipeline."""
        with self.db.session() as s:
            row = s.get(Pipeline, pipeline_id)
        if row is None:
            raise LookupError(f"no pipeline with id {pipeline_id}")
        return row

    def list(self, owner: str | None = None) -> list[Pipeline]:
        """Saved pipelines (of ``owner`` when given), by name."""
        with self.db.session() as s:
            q = select(Pipeline).order_by(Pipeline.name)
            if owner is not None:
                q = q.where(Pipeline.owner == owner)
            return list(s.execute(q).scalars())

    def delete(self, pipeline_id: int) -> None:
        """Remove a saved pipeline."""
        with self.db.session() as s:
            row = s.get(Pipeline, pipeline_id)
            if row is None:
                raise LookupError(f"no pipeline with id {pipeline_id}")
            s.delete(row)


def spec_of(row: Pipeline) -> PipelineSpec:
    """Rebuild the parsed spec of a saved pipeline."""
    return PipelineSpec(
        name=row.name,
        pipings=[Piping(**p) for p in row.pipings],
        authors=row.authors,
        category=row.category,
        description=row.description,
        locked=row.locked,
    )
