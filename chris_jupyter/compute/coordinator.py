"""The compute coordinator: turns run requests into plugin instances and drives their jobs.

Durable state lives in the DB (:class:`~chris_jupyter.db.models.compute.PluginInstance`); state
changes go through :func:`.states.transition`, which publishes an event for clients. The methods
below block (DB, Docker) and are meant to be called from a server through
``asyncio.to_thread``; the coordinator runs its own worker threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from .. import paths
from ..db import Database
from ..db.models.compute import PipelineRun, Plugin, PluginInstance
from ..plugins.cmdline import ParameterError, check_readable, resolve_params
from ..plugins.descriptor import PluginDescriptor
from ..plugins.registry import PluginRef, PluginRegistry, descriptor_of
from . import states as st
from .instances import check_resources, create_feed, descendants, output_path_for
from .lifecycle import JobLifecycle
from .pipelines import PipelineSpec, PipelineStore, parse_pipeline, spec_of
from .resources import ComputeResources, ResourceError
from .runners.base import Runner


class Coordinator(JobLifecycle):
    """Create plugin instances, run them through a :class:`Runner`, and keep their state true.

    Parameters
    ----------
    db
        The metadata database.
    data_root
        The library store on disk; outputs go to ``paths.feed_dir(owner, feed)/…``.
    runner
        Where jobs run (local subprocesses, Docker…).
    publish
        ``publish(event_type, payload)``: events to clients; payloads carry ``owner``, ``feed_id``.
    register_outputs
        ``register_outputs(output_library_path, owner_username) -> int`` registers a finished
        job's files in the library DB. Must be idempotent (it is called again if the backend
        died while registering).
    create_folder
        ``create_folder(output_library_path, owner_username)`` makes a new instance's (empty)
        output folder known to the library when the instance is created, so the path it reports
        can be listed even if it never runs. The folder is made on disk in any case.
    can_read
        ``can_read(username, library_path) -> bool``.
    can_write
        ``can_write(username, library_path) -> bool``: a job added below another user's instance
        writes into that user's feed, so it needs write access there (a read share lets you run
        plugins on the data in a feed of your own, not add to theirs). Default: own home only.
    may_run
        ``may_run(username)``: raises ``ValueError`` (with the reason) when the owner's jobs may
        no longer start here; checked at every launch, also of jobs queued before a restart.
    default_timeout
        Seconds a job may run (``None``: no limit); a job over time is cancelled.
    max_parallel
        Jobs running at once; the rest stay ``scheduled`` in a queue.
    resources
        The compute resources (:class:`~.resources.ComputeResources`) jobs may run on; without,
        every job runs on ``runner``.
    """

    def __init__(
        self,
        db: Database,
        data_root: Path | str,
        runner: Runner,
        *,
        publish: Callable[[str, dict], None],
        register_outputs: Callable[[str, str], int],
        can_read: Callable[[str, str], bool],
        can_write: Callable[[str, str], bool] | None = None,
        may_run: Callable[[str], None] | None = None,
        create_folder: Callable[[str, str], Any] | None = None,
        default_timeout: float | None = None,
        max_parallel: int = 8,
        registry: PluginRegistry | None = None,
        resources: ComputeResources | None = None,
    ) -> None:
        self.db = db
        self.data_root = Path(data_root)
        self.runner = runner
        self.resources = resources
        self._job_runners: dict[str, Runner] = {}
        self.publish = publish
        self.register_outputs = register_outputs
        self.create_folder = create_folder
        self.can_read = can_read
        self.can_write = can_write or (lambda user, path: paths.owner_of(path) == user)
        self.may_run = may_run
        self.default_timeout = default_timeout
        self.max_parallel = max_parallel
        self.registry = registry or PluginRegistry(db)
        self.pipelines = PipelineStore(db)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._slots: set[int] = set()
        self._pending: deque[int] = deque()
        self._watching: set[int] = set()
        self._stopped = True
        self._changed = threading.Condition()
        self._generation = 0  # bumped on every transition this coordinator makes

    def _runner_for(self, resource: str | None) -> Runner:
        """The runner of a compute resource (``runner`` when there are no resources)."""
        if self.resources is None or not resource or resource == self.runner.name:
            return self.runner
        return self.resources.runner(resource)

    def _resource_for(self, plugin: Plugin, requested: str | None,
                      timeout: float | None) -> tuple[str, float | None]:
        """The compute resource a new instance runs on, and its time limit (the smallest of the
        request or server default and the resource's ``max_job_time``)."""
        timeout = timeout if timeout is not None else self.default_timeout
        if self.resources is None:
            if requested and requested != self.runner.name:
                raise ParameterError("compute_resource_name", requested, "no such compute resource")
            return self.runner.name, timeout
        name, cap = self.resources.choose(plugin.id, plugin.name, requested)
        if cap is not None:
            timeout = cap if timeout is None else min(timeout, cap)
        return name, timeout

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker threads and reconcile whatever an earlier run left unfinished."""
        if not self._stopped:
            return
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chris-coordinator")
        self._stopped = False
        self.reconcile()

    def stop(self) -> None:
        """Stop scheduling. Running jobs keep running; the next ``start()`` adopts them."""
        self._stopped = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        with self._changed:
            self._changed.notify_all()

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        try:
            self.publish(event, payload)
        finally:
            with self._changed:
                self._generation += 1
                self._changed.notify_all()

    def wait_for(self, instance_id: int, states: frozenset[str] = st.FINAL,
                 timeout: float | None = None) -> str:
        """Block until the instance reaches one of ``states`` (woken by transitions, no polling).

        Returns the state it is in when the wait ends (which may not be in ``states`` on timeout).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._generation
            inst = self._load(instance_id)  # outside the lock: emitters never wait on the DB
            if inst is None:
                raise LookupError(f"no plugin instance {instance_id}")
            left = None if deadline is None else deadline - time.monotonic()
            if inst.state in states or (left is not None and left <= 0):
                return inst.state
            with self._changed:
                if self._generation == seen:
                    # 5 s cap: another process (a second backend) may change the row unseen
                    self._changed.wait(timeout=min(left, 5.0) if left is not None else 5.0)

    # -- requests ---------------------------------------------------------------------------
    def run_plugin(
        self,
        owner: str,
        plugin_ref: PluginRef,
        params: Mapping[str, Any] | None = None,
        previous_id: int | None = None,
        title: str | None = None,
        resources: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        compute_resource: str | None = None,
    ) -> int:
        """Create one plugin instance and start it when its parent(s) have finished.

        It runs on ``compute_resource`` (a name), by default the plugin's first resource.

        ``fs`` plugins start a new feed; ``ds`` plugins need ``previous_id``; ``ts`` plugins
        join the instances listed in their ``plugininstances`` parameter (comma-separated ids).

        Raises
        ------
        PluginNotFound, ParameterError, LookupError
            Unknown plugin, bad/missing parameter or resource, unreadable path or parent.
        """
        plugin = self.registry.get(plugin_ref)
        desc = descriptor_of(plugin)
        explicit = resolve_params(desc, params)
        res = check_resources(desc, resources)
        check_readable(desc, explicit, lambda p: self.can_read(owner, p))
        where, timeout = self._resource_for(plugin, compute_resource, timeout)
        with self.db.session() as s:
            joins = self._joins(desc, explicit)
            if desc.type == "ts" and previous_id is None and joins:
                previous_id, joins = joins[0], joins[1:]
            inst = self._new_instance(
                s, plugin, desc, owner, explicit, res, previous_id, joins, title, timeout,
                resource=where,
            )
            iid, out = inst.id, inst.output_path
        self._make_output(out, owner, where)
        self._spawn(self._advance, iid)
        return iid

    def _make_output(self, output_path: str, owner: str, resource: str | None = None) -> None:
        """Create an instance's output folder (on disk and in the library) when the instance is
        created, so the ``output_path`` it reports exists even if it never runs."""
        self._runner_for(resource).prepare_output(self._disk(output_path))
        if self.create_folder is not None:
            self.create_folder(output_path, owner)

    @staticmethod
    def _joins(desc: PluginDescriptor, explicit: Mapping[str, Any]) -> list[int]:
        if desc.type != "ts" or not explicit.get("plugininstances"):
            return []
        try:
            return [int(x) for x in str(explicit["plugininstances"]).split(",") if x.strip()]
        except ValueError:
            raise ParameterError("plugininstances", explicit["plugininstances"],
                                 "must be comma-separated plugin instance ids") from None

    def _new_instance(
        self,
        s: Session,
        plugin: Plugin,
        desc: PluginDescriptor,
        owner: str,
        explicit: dict[str, Any],
        res: dict[str, int],
        previous_id: int | None,
        joins: list[int],
        title: str | None,
        timeout: float | None,
        run_id: int | None = None,
        piping_title: str | None = None,
        resource: str = "",
    ) -> PluginInstance:
        parent = None
        if desc.type == "fs":
            if previous_id is not None:
                raise ParameterError("previous_id", previous_id, "an fs plugin starts a new feed")
            feed_id = create_feed(s, owner, title or plugin.title or plugin.name).id
        else:
            if previous_id is None:
                raise ParameterError("previous_id", None, f"a {desc.type} plugin needs a parent")
            for pid in [previous_id, *joins]:
                row = s.get(PluginInstance, pid)
                if row is None or not (
                    row.owner == owner or (row.output_path and self.can_read(owner, row.output_path))
                ):
                    raise ParameterError("previous_id", pid, "no such plugin instance you may read")
            parent = s.get(PluginInstance, previous_id)
            if parent.owner != owner and not self.can_write(owner, parent.output_path or ""):
                raise ParameterError("previous_id", previous_id,
                                     "you may read this feed but not add jobs to it")
            feed_id = parent.feed_id
        inst = PluginInstance(
            feed_id=feed_id,
            previous_id=previous_id,
            plugin_id=plugin.id,
            owner=owner,
            title=title or "",
            state=st.CREATED,
            params=explicit,
            joins=joins,
            resources=res,
            image=desc.dock_image,
            timeout_s=timeout if timeout is not None else self.default_timeout,
            runner=resource,
            pipeline_run_id=run_id,
            piping_title=piping_title,
        )
        s.add(inst)
        s.flush()
        inst.output_path = output_path_for(s, inst, plugin.name, parent)
        s.flush()
        return inst

    def run_pipeline(
        self,
        owner: str,
        pipeline: int | str | Mapping[str, Any] | PipelineSpec,
        previous_id: int | None,
        *,
        title: str | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        resources: Mapping[str, Mapping[str, Any]] | None = None,
        compute_resources: Mapping[str, str] | None = None,
    ) -> int:
        """Create every instance of a pipeline run at once, each waiting on its parent.

        ``pipeline`` is a saved pipeline id, YAML/JSON source or a parsed spec; ``params``,
        ``resources`` and ``compute_resources`` (a compute resource's name) override the pipings'
        defaults by piping title, so one run's instances may run on different resources.
        Everything is checked before anything is created. Returns the :class:`PipelineRun` id.
        """
        pipeline_id = None
        if isinstance(pipeline, int):
            pipeline_id = pipeline
            spec = spec_of(self.pipelines.get(pipeline))
        elif isinstance(pipeline, PipelineSpec):
            spec = pipeline
        else:
            spec = parse_pipeline(pipeline)
        params, resources = dict(params or {}), dict(resources or {})
        where_to = dict(compute_resources or {})
        unknown = (set(params) | set(resources) | set(where_to)) - {p.title for p in spec.pipings}
        if unknown:
            raise ParameterError("pipings", sorted(unknown)[0], "no piping has this title")
        plan = []
        for p in spec.pipings:
            plugin = self.registry.get((p.plugin_name, p.plugin_version))
            desc = descriptor_of(plugin)
            values = {**p.params, **params.get(p.title, {})}
            if desc.type == "ts":
                values["plugininstances"] = "0"  # replaced by the real ids below
            try:
                explicit = resolve_params(desc, values)
                res = check_resources(desc, {**p.resources, **resources.get(p.title, {})})
                where, timeout = self._resource_for(plugin, where_to.get(p.title) or p.compute_resource, None)
            except ParameterError as exc:
                raise ParameterError(f"{p.title}.{exc.field}", exc.value, exc.rule) from None
            except ResourceError as exc:
                raise ResourceError(f"{p.title}: {exc}") from None
            check_readable(desc, explicit, lambda q: self.can_read(owner, q))
            plan.append((p, plugin, desc, explicit, res, where, timeout))
        with self.db.session() as s:
            run = PipelineRun(pipeline_id=pipeline_id, pipeline_name=spec.name, owner=owner,
                              title=title or spec.name, previous_id=previous_id)
            s.add(run)
            s.flush()
            made: dict[str, int] = {}
            outputs: list[tuple[str, str]] = []
            for p, plugin, desc, explicit, res, where, timeout in plan:
                prev = previous_id if p.previous is None else made[p.previous]
                joins = [made[t] for t in p.joins]
                if desc.type == "ts":
                    explicit["plugininstances"] = ",".join(str(i) for i in [prev, *joins])
                inst = self._new_instance(s, plugin, desc, owner, explicit, res, prev, joins,
                                          p.title, timeout, run.id, p.title, resource=where)
                made[p.title] = inst.id
                outputs.append((inst.output_path, where))
            run_id, ids = run.id, list(made.values())
        for out, where in outputs:
            self._make_output(out, owner, where)
        for iid in ids:
            self._spawn(self._advance, iid)
        return run_id

    def cancel(self, instance_id: int, reason: str = "cancelled by the user") -> list[int]:
        """Cancel an instance and all its descendants; returns the ids actually cancelled."""
        with self.db.session() as s:
            if s.get(PluginInstance, instance_id) is None:
                raise LookupError(f"no plugin instance {instance_id}")
            below = descendants(s, instance_id)
        done = self._cancel_ids([instance_id], reason)
        return done + self._cancel_ids(below, f"cancelled because instance {instance_id} was cancelled")

    def logs(self, instance_id: int) -> str:
        """The job's output: live from the runner while it runs, else as stored."""
        inst = self._load(instance_id)
        if inst is None:
            raise LookupError(f"no plugin instance {instance_id}")
        if inst.state in st.LAUNCHING | st.RUNNING and inst.runner_job_id:
            live = self._job_logs(inst.runner_job_id)
            if live:
                return live
        return inst.logs or ""

    def get(self, instance_id: int) -> PluginInstance:
        inst = self._load(instance_id)
        if inst is None:
            raise LookupError(f"no plugin instance {instance_id}")
        return inst

    def provenance(self, instance_id: int) -> dict[str, Any]:
        """Everything needed to re-run a result (plugin, params, argv, resources, image…)."""
        inst = self.get(instance_id)
        return {
            "id": inst.id, "plugin": inst.plugin.name, "plugin_version": inst.plugin.version,
            "image": inst.image, "params": inst.params, "argv": inst.argv, "env": inst.env,
            "resources": inst.resources, "previous_id": inst.previous_id, "joins": inst.joins,
            "runner": inst.runner, "state": inst.state, "exit_code": inst.exit_code,
            "created_at": inst.created_at, "started_at": inst.started_at,
            "ended_at": inst.ended_at, "output_path": inst.output_path,
            "output_files": inst.output_files, "output_count": inst.output_count,
            "error": inst.error,
        }
