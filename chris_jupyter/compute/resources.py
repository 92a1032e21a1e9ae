"""Compute resources: named places where plugin jobs run, each one runner kind with its settings.

As in ChRIS, a plugin is registered for one or more resources and a run may name one
(``compute_resource_name``; default: the plugin's first). A plugin registered for none runs on
the *default* resource: the runner the server is configured with (``ChrisApp.runner``), which
is always there under the name of its kind (``local`` or ``docker``). Administrators add and
remove the others (REST, client, CLI, ``ChrisApp.compute_resources``).

A resource's ``settings`` are trait values of its kind's runner class on top of the server's
configuration of that class (``c.SlurmRunner.partition`` …), so every runner setting can be
given per resource without a line of code here. Each resource's runner is built once, on first
use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from ..db import Database
from ..db.models.compute import ComputeResource, PluginComputeResource, PluginInstance
from . import states as st
from .runners.base import Runner

#: The kind names; a resource's kind may also be a dotted path to a Runner class.
KINDS = ("local", "docker", "swarm", "slurm", "kubernetes", "remote")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,29}$")


class ResourceError(ValueError):
    """A bad compute resource request; the message says what to change."""


def resource_json(r: ComputeResource) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "kind": r.kind, "settings": r.settings or {},
            "description": r.description, "max_job_time": r.max_job_time,
            "created_at": r.created_at.isoformat()}


class ComputeResources:
    """The resources of one backend, and a runner for each.

    Parameters
    ----------
    db
        The metadata database.
    make_runner
        ``make_runner(kind, **settings) -> Runner`` (the server's configuration applied).
    default
        The server's own runner: the resource of that runner's ``name`` (created if missing).
    """

    def __init__(self, db: Database, make_runner: Callable[..., Runner], default: Runner) -> None:
        self.db = db
        self._make = make_runner
        self.default = default
        self.default_name = default.name
        self._runners: dict[str, Runner] = {default.name: default}
        self._lock = threading.Lock()
        with self.db.session() as s:
            if s.scalar(select(ComputeResource).where(ComputeResource.name == default.name)) is None:
                s.add(ComputeResource(name=default.name, kind=default.name, settings={},
                                      description=f"this server's {default.name} runner"))

    # -- administration ---------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [resource_json(r) for r in s.scalars(select(ComputeResource).order_by(ComputeResource.id))]

    def get(self, name: str) -> dict[str, Any]:
        with self.db.session() as s:
            return resource_json(self._row(s, name))

    @staticmethod
    def _row(s: Any, name: str) -> ComputeResource:
        row = s.scalar(select(ComputeResource).where(ComputeResource.name == name))
        if row is None:
            raise LookupError(f"no compute resource {name!r} is known")
        return row

    def add(self, name: str, kind: str, settings: Mapping[str, Any] | None = None, *,
            description: str = "", max_job_time: float | None = None, replace: bool = False) -> dict[str, Any]:
        """Add a resource (``replace``: or update the one of that name). Its runner is built
        right away, so a bad kind or setting is refused here and not at the first job."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ResourceError(f"bad compute resource name {name!r}: 1-30 of a-z 0-9 _ . - "
                                "(starting with a letter or digit)")
        if not isinstance(kind, str) or (kind not in KINDS and "." not in kind):
            raise ResourceError(f"unknown compute resource kind {kind!r}: one of {', '.join(KINDS)}")
        if settings is not None and not isinstance(settings, Mapping):
            raise ResourceError("'settings' must be an object of runner setting -> value")
        if max_job_time is not None and (isinstance(max_job_time, bool) or not isinstance(max_job_time, int | float)
                                         or max_job_time <= 0):
            raise ResourceError(f"'max_job_time' must be a positive number of seconds, not {max_job_time!r}")
        if name == self.default_name and (kind != self.default.name or settings):
            raise ResourceError(f"{name!r} is this server's own runner; configure it with "
                                f"c.{type(self.default).__name__}.<setting> instead")
        settings = dict(settings or {})
        try:
            runner = self._make(kind, **settings) if name != self.default_name else self.default
            _name_it(runner, name)
        except Exception as e:
            raise ResourceError(f"compute resource {name!r} ({kind}): {e}") from None
        with self.db.session() as s:
            row = s.scalar(select(ComputeResource).where(ComputeResource.name == name))
            if row is not None and not replace:
                raise ResourceError(f"compute resource {name!r} exists")
            if row is None:
                row = ComputeResource(name=name)
                s.add(row)
            row.kind, row.settings, row.description, row.max_job_time = kind, settings, description, max_job_time
            s.flush()
            out = resource_json(row)
        with self._lock:
            old = self._runners.get(name)
            self._runners[name] = runner
        if old is not None and old is not runner:
            old.close()
        return out

    def remove(self, name: str) -> None:
        """Remove a resource no unfinished job uses (the server's own runner stays)."""
        if name == self.default_name:
            raise ResourceError(f"{name!r} is this server's own runner; it cannot be removed")
        with self.db.session() as s:
            self._row(s, name)
            busy = s.scalar(select(PluginInstance.id).where(PluginInstance.runner == name,
                                                            PluginInstance.state.not_in(st.FINAL)).limit(1))
            if busy is not None:
                raise ResourceError(f"compute resource {name!r} still has unfinished jobs (instance {busy})")
            s.execute(delete(ComputeResource).where(ComputeResource.name == name))
        with self._lock:
            runner = self._runners.pop(name, None)
        if runner is not None:
            runner.close()

    # -- plugins ------------------------------------------------------------------------------
    def assign(self, plugin_id: int, names: Iterable[str]) -> list[str]:
        """Register a plugin for exactly these resources, in order (the first is its default)."""
        names = list(dict.fromkeys(names))
        with self.db.session() as s:
            ids = [self._row(s, n).id for n in names]
            s.execute(delete(PluginComputeResource).where(PluginComputeResource.plugin_id == plugin_id))
            s.add_all(PluginComputeResource(plugin_id=plugin_id, resource_id=r, position=i)
                      for i, r in enumerate(ids))
        return names

    def of_plugin(self, plugin_id: int) -> list[str]:
        """The resources a plugin runs on, its default first (the server's runner if none)."""
        with self.db.session() as s:
            names = list(s.scalars(
                select(ComputeResource.name).join(PluginComputeResource,
                                                  PluginComputeResource.resource_id == ComputeResource.id)
                .where(PluginComputeResource.plugin_id == plugin_id).order_by(PluginComputeResource.position)))
        return names or [self.default_name]

    def choose(self, plugin_id: int, plugin_name: str, requested: str | None) -> tuple[str, float | None]:
        """The resource a run goes to, and that resource's ``max_job_time``."""
        allowed = self.of_plugin(plugin_id)
        name = requested or allowed[0]
        if name not in allowed:
            raise ResourceError(f"{plugin_name} is not registered for compute resource {name!r} "
                                f"(it runs on: {', '.join(allowed)})")
        with self.db.session() as s:
            try:
                return name, self._row(s, name).max_job_time
            except LookupError:
                raise ResourceError(f"no compute resource {name!r}") from None

    # -- runners ------------------------------------------------------------------------------
    def runner(self, name: str | None) -> Runner:
        """The runner of a resource (``""``/``None``: the default, as for jobs older than resources)."""
        if not name:
            return self.default
        with self._lock:
            runner = self._runners.get(name)
        if runner is not None:
            return runner
        with self.db.session() as s:
            row = s.scalar(select(ComputeResource).where(ComputeResource.name == name))
            if row is None:
                raise ResourceError(f"compute resource {name!r} no longer exists")
            kind, settings = row.kind, dict(row.settings or {})
        made = _name_it(self._make(kind, **settings), name)
        with self._lock:
            runner = self._runners.setdefault(name, made)
        if runner is not made:
            made.close()
        return runner

    def close(self) -> None:
        with self._lock:
            runners, self._runners = list(self._runners.values()), {}
        for r in runners:
            if r is not self.default:
                r.close()


def _name_it(runner: Runner, name: str) -> Runner:
    """Tell a runner that names its resource in messages (``resource_name``) which one it is."""
    if runner.has_trait("resource_name") and not runner.resource_name:
        runner.resource_name = name
    return runner


def state_dir_for(data_root: Path, kind: str) -> Path:
    """Runners of each kind keep their own files apart: ``<data_dir>/jobs/<kind>`` (job ids
    are unique, so resources of one kind may share it)."""
    return Path(data_root) / "jobs" / re.sub(r"[^A-Za-z0-9_.-]", "_", kind)
