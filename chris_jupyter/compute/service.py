"""Compute as the backend offers it: the coordinator with the caller's rights applied.

Builds the runner (``auto``: Docker when an engine answers, local subprocesses otherwise), the
coordinator with the library's registration and permission rules, and turns the compute core's
exceptions into the backend's errors with their messages intact.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from traitlets import TraitError

from .. import paths
from ..db import Database
from ..db.models.compute import Pipeline, Plugin, PluginInstance
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..events import EventBus
from ..identity import AuthError, NotServed, Principal, Users
from ..library.service import Library
from ..plugins.cmdline import ParameterError
from ..plugins.descriptor import DescriptorError
from ..plugins.registry import PluginExists, PluginInUse, PluginNotFound, PluginRef, RegistrationError
from . import states as st
from .coordinator import Coordinator
from .pipelines import PipelineError
from .resources import ComputeResources, ResourceError, state_dir_for
from .runners.base import Runner

log = logging.getLogger("chris_jupyter.compute")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except PluginNotFound as e:
        raise NotFound(str(e)) from None
    except (ParameterError, DescriptorError, PipelineError, RegistrationError, ResourceError) as e:
        raise BadRequest(str(e)) from None
    except (PluginExists, PluginInUse) as e:
        raise Conflict(str(e)) from None
    except LookupError as e:
        raise NotFound(str(e).strip("'\"")) from None


#: Runner classes by the short names ``ChrisApp.runner`` (and a compute resource's kind) accept.
RUNNER_KINDS = {
    "local": "chris_jupyter.compute.runners.local.LocalRunner",
    "docker": "chris_jupyter.compute.runners.docker.DockerRunner",
    "swarm": "chris_jupyter.compute.runners.swarm.SwarmRunner",
    "slurm": "chris_jupyter.compute.runners.slurm.SlurmRunner",
    "kubernetes": "chris_jupyter.compute.runners.kubernetes.KubernetesRunner",
    "remote": "chris_jupyter.compute.runners.remote.RemoteRunner",
}


def runner_class(kind: str) -> type[Runner]:
    """The runner class of a kind name (``local``, ``docker``, …) or a dotted class path."""
    from traitlets.utils.importstring import import_item

    target = RUNNER_KINDS.get(kind, kind)
    if "." not in target:
        raise ValueError(f"unknown runner kind {kind!r}: one of {', '.join(RUNNER_KINDS)} "
                         "or a dotted path to a Runner class")
    try:
        cls = import_item(target)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot import runner class {target!r}: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Runner)):
        raise ValueError(f"{target!r} is not a chris_jupyter Runner class")
    return cls


def make_runner(kind: str, work_dir: Path, *, cls: type[Runner] | None = None, config: Any = None,
                **settings: Any) -> Runner:
    """A configured runner: ``cls`` if given, else the class of ``kind`` (``auto``: Docker when
    an engine answers, local subprocesses otherwise).

    ``config`` is the server's traitlets configuration (``c.DockerRunner.pids_limit`` …);
    ``settings`` (a compute resource's) win over it. ``work_dir`` is the runner's ``state_dir``.
    """
    common = {"config": config, "state_dir": str(work_dir), **settings}
    if cls is not None:
        return cls(**common)
    if kind in ("docker", "auto"):
        try:
            runner = runner_class("docker")(**common)
            runner.client.ping()
            return runner
        except TraitError:
            raise  # a bad setting, not a missing engine: say so
        except Exception as e:  # the docker package missing or no engine: both mean "not here"
            if kind == "docker":
                raise RuntimeError(f"runner 'docker' was asked for but no Docker engine answers: {e}") from e
            log.info("no Docker engine (%s): plugins run as local subprocesses", e)
        kind = "local"
    return runner_class(kind)(**common)


def plugin_json(p: Plugin, compute_resources: list[str] | None = None) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "version": p.version, "type": p.type, "title": p.title,
            "category": p.category, "dock_image": p.dock_image, "source": p.source,
            "parameters": p.parameters, "descriptor": p.descriptor, "created_at": p.created_at.isoformat(),
            "compute_resources": compute_resources or []}


def instance_json(i: PluginInstance) -> dict[str, Any]:
    out = st.event_payload(i)
    out.update({
        "params": i.params, "resources": i.resources, "image": i.image, "runner": i.runner,
        "created_at": i.created_at.isoformat(),
        "started_at": i.started_at.isoformat() if i.started_at else None,
        "ended_at": i.ended_at.isoformat() if i.ended_at else None,
        "piping_title": i.piping_title,
    })
    return out


def pipeline_json(p: Pipeline) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "owner": p.owner, "authors": p.authors, "category": p.category,
            "description": p.description, "pipings": p.pipings, "created_at": p.created_at.isoformat()}


class Compute:
    def __init__(self, db: Database, library: Library, users: Users, events: EventBus, *,
                 data_root: Path, runner: str = "auto", runner_cls: type[Runner] | None = None,
                 config: Any = None, default_timeout: float | None = None, max_parallel: int = 4,
                 compute_resources: list[dict[str, Any]] | None = None) -> None:
        self.db = db
        self.library = library
        self.users = users
        self.events = events
        self.runner_kind = runner
        self.runner_cls = runner_cls
        self.config = config
        self.data_root = Path(data_root)
        self.coordinator: Coordinator | None = None
        self.default_timeout = default_timeout
        self.max_parallel = max_parallel
        self.configured_resources = list(compute_resources or [])
        self.resources: ComputeResources | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        runner = make_runner(self.runner_kind, self.data_root / "jobs", cls=self.runner_cls,
                             config=self.config)
        self.resources = ComputeResources(self.db, self._resource_runner, runner)
        for r in self.configured_resources:
            self._add_configured(r)
        self.coordinator = Coordinator(
            self.db, self.library.store.root, runner, publish=self._publish,
            register_outputs=lambda path, owner: self.library.register_tree(path),
            create_folder=lambda path, owner: self.library.register_tree(path),
            can_read=self._can_read, can_write=self._can_write, may_run=self._may_run,
            default_timeout=self.default_timeout, max_parallel=self.max_parallel,
            resources=self.resources,
        )
        self.coordinator.start()
        log.info("compute: %s runner", type(runner).__name__)

    def stop(self) -> None:
        if self.coordinator is not None:
            self.coordinator.stop()
        if self.resources is not None:
            self.resources.close()

    def _resource_runner(self, kind: str, **settings: Any) -> Runner:
        return make_runner(kind, state_dir_for(self.data_root, kind), config=self.config, **settings)

    def _add_configured(self, r: dict[str, Any]) -> None:
        """A resource from ``ChrisApp.compute_resources``: added, or updated to match."""
        assert self.resources is not None
        unknown = set(r) - {"name", "kind", "settings", "description", "max_job_time"}
        if unknown or "name" not in r or "kind" not in r:
            raise ValueError(f"ChrisApp.compute_resources: each entry has 'name', 'kind' and optionally "
                             f"'settings', 'description', 'max_job_time', not {sorted(r)}")
        self.resources.add(r["name"], r["kind"], r.get("settings"), description=r.get("description", ""),
                           max_job_time=r.get("max_job_time"), replace=True)

    @property
    def c(self) -> Coordinator:
        if self.coordinator is None:
            raise RuntimeError("compute is not started")
        return self.coordinator

    def _publish(self, event: str, payload: dict[str, Any]) -> None:
        owner, feed_id = payload.get("owner"), payload.get("feed_id")
        path = paths.feed_dir(owner, feed_id) if owner and feed_id else None
        self.events.publish(event, payload, users=[owner] if owner else [], path=path)

    @property
    def confines_jobs(self) -> bool:
        """Whether the runner in use keeps each job to its own folders (False before start)."""
        return self.coordinator is not None and self.coordinator.runner.confines_jobs

    def _may_run(self, username: str) -> None:
        try:
            self.users.principal(username, via="token")
        except (NotServed, AuthError) as e:
            raise ValueError(str(e)) from None

    def _can_read(self, username: str, path: str) -> bool:
        """May ``username`` read ``path``, and is it there? (Admins may read anything, but a path
        that does not exist must be refused before a job starts, not fail inside the plugin.)"""
        principal = self.users.principal(username, via="token")
        if not self.library.grants(principal).can_read(path):
            return False
        try:
            return self.library.store.exists(path)
        except ValueError:  # not a library path at all
            return False

    def _can_write(self, username: str, path: str) -> bool:
        principal = self.users.principal(username, via="token")
        return self.library.grants(principal).can_write(path)

    def _visible(self, principal: Principal, inst: PluginInstance) -> bool:
        return (principal.is_admin or inst.owner == principal.username
                or (bool(inst.output_path) and self.library.grants(principal).can_read(inst.output_path)))

    def _instance(self, principal: Principal, instance_id: int) -> PluginInstance:
        with _errors():
            inst = self.c.get(instance_id)
        if not self._visible(principal, inst):
            raise NotFound(f"no plugin instance {instance_id}, or not shared with you")
        return inst

    # -- plugins ----------------------------------------------------------------------------------
    def _plugin_json(self, p: Plugin) -> dict[str, Any]:
        names = self.resources.of_plugin(p.id) if self.resources is not None else []
        return plugin_json(p, names)

    def plugins(self, name: str | None = None) -> list[dict[str, Any]]:
        return [self._plugin_json(p) for p in self.c.registry.list(name)]

    def plugin(self, ref: Any) -> dict[str, Any]:
        with _errors():
            return self._plugin_json(self.c.registry.get(ref))

    def register(self, principal: Principal, *, descriptor: Mapping[str, Any] | None = None,
                 image: str | None = None, executable: str | None = None, source: str = "image",
                 name: str | None = None, version: str | None = None, dock_image: str | None = None,
                 execshell: str | None = None, selfpath: str | None = None, selfexec: str | None = None,
                 compute_resources: Sequence[str] | None = None) -> dict[str, Any]:
        """Admins register a plugin from a ``descriptor``, a local ``image`` or an installed
        ``executable`` (the first given), for ``compute_resources`` (default: the server's runner)."""
        if not principal.is_admin:
            raise Forbidden("only administrators register plugins")
        where = list(compute_resources or [])
        for n in where:  # checked before anything is registered
            with _errors():
                self._res().get(n)
        extra = {k: v for k, v in {"name": name, "version": version, "dock_image": dock_image,
                                   "execshell": execshell, "selfpath": selfpath, "selfexec": selfexec}.items() if v}
        with _errors():
            if descriptor is not None:
                p = self.c.registry.register(dict(descriptor), source=source, **extra)
            elif image is not None:
                self._check_runs_images(image, where)
                p = self.c.registry.register_image(image, name=name or None, version=version or None,
                                                   selfexec=selfexec or None)
            elif executable is not None:
                p = self.c.registry.register_executable(executable, name=name or None, version=version or None)
            else:
                raise BadRequest("give 'descriptor' (a JSON object), 'image' (a local image name) "
                                 "or 'executable' (an installed plugin command)")
        if where and self.resources is not None:
            self.resources.assign(p.id, where)
        self.events.publish("plugin.registered", {"id": p.id, "name": p.name, "version": p.version},
                            path="")
        return self._plugin_json(p)

    def _check_runs_images(self, image: str, where: list[str]) -> None:
        """Refuse an image plugin that none of its compute resources (default: the server's own
        runner) can start."""
        if where and self.resources is not None:
            with _errors():
                if any(self.resources.runner(n).runs_images for n in where):
                    return
        runner = self.c.runner
        if not runner.runs_images:
            raise BadRequest(f"this server runs plugins with the {runner.name!r} runner, which runs installed "
                             f"commands, not images: {image!r} could never start here; register the plugin's "
                             f"installed command instead ({{\"executable\": \"/path/to/command\"}}), or run the "
                             f"server with the Docker runner (--ChrisApp.runner=docker)")

    def runner_info(self) -> dict[str, Any]:
        """What the server's runner is and can do, for clients choosing how to register or run."""
        r = self.c.runner
        return {"name": r.name, "confines_jobs": r.confines_jobs, "runs_images": r.runs_images}

    def unregister(self, principal: Principal, plugin_id: int) -> None:
        if not principal.is_admin:
            raise Forbidden("only administrators remove plugins")
        with _errors():
            self.c.registry.delete(plugin_id)

    # -- instances --------------------------------------------------------------------------------
    def run(self, principal: Principal, plugin: PluginRef, params: Mapping[str, Any] | None = None, *,
            version: str | None = None, previous_id: int | None = None, title: str | None = None,
            resources: Mapping[str, Any] | None = None, timeout: float | None = None,
            compute_resource_name: str | None = None) -> dict[str, Any]:
        """Run ``plugin`` (an id, a name, ``name@version`` or ``(name, version)``) for ``principal``
        on ``compute_resource_name`` (default: the plugin's first compute resource)."""
        if isinstance(plugin, str) and version:
            plugin = (plugin, str(version))
        with _errors():
            iid = self.c.run_plugin(principal.username, plugin, params or {}, previous_id=previous_id,
                                    title=title, resources=resources, timeout=timeout,
                                    compute_resource=compute_resource_name)
            return instance_json(self.c.get(iid))

    def instances(self, principal: Principal, *, feed_id: int | None = None, state: str | None = None,
                  limit: int = 100, offset: int = 0) -> dict[str, Any]:
        with self.db.session() as s:
            q = select(PluginInstance).order_by(PluginInstance.id)
            if feed_id is not None:
                q = q.where(PluginInstance.feed_id == feed_id)
            if state:
                q = q.where(PluginInstance.state == state)
            if feed_id is None and not principal.is_admin:
                q = q.where(PluginInstance.owner == principal.username)
            rows = [i for i in s.scalars(q) if self._visible(principal, i)]
        return {"total": len(rows), "limit": limit, "offset": offset,
                "items": [instance_json(i) for i in rows[offset:offset + limit]]}

    def instance(self, principal: Principal, instance_id: int) -> dict[str, Any]:
        return instance_json(self._instance(principal, instance_id))

    def logs(self, principal: Principal, instance_id: int) -> str:
        self._instance(principal, instance_id)
        with _errors():
            return self.c.logs(instance_id)

    def provenance(self, principal: Principal, instance_id: int) -> dict[str, Any]:
        self._instance(principal, instance_id)
        with _errors():
            return self.c.provenance(instance_id)

    def cancel(self, principal: Principal, instance_id: int) -> list[int]:
        inst = self._instance(principal, instance_id)
        if inst.owner != principal.username and not principal.is_admin and not \
                self.library.grants(principal).can_write(inst.output_path):
            raise Forbidden("only who may change the feed can cancel its jobs")
        with _errors():
            return self.c.cancel(instance_id, f"cancelled by {principal.username}")

    def wait(self, principal: Principal, instance_id: int, timeout: float) -> dict[str, Any]:
        """Block until the instance is final (or ``timeout`` passes); woken by transitions."""
        self._instance(principal, instance_id)
        self.c.wait_for(instance_id, timeout=timeout)
        return self.instance(principal, instance_id)

    # -- compute resources -------------------------------------------------------------------------
    def _res(self) -> ComputeResources:
        if self.resources is None:
            raise RuntimeError("compute is not started")
        return self.resources

    def compute_resources(self, principal: Principal) -> list[dict[str, Any]]:
        """Every compute resource (any user may see where jobs can run)."""
        return self._res().list()

    def add_compute_resource(self, principal: Principal, name: str, kind: str,
                             settings: Mapping[str, Any] | None = None, *, description: str = "",
                             max_job_time: float | None = None) -> dict[str, Any]:
        if not principal.is_admin:
            raise Forbidden("only administrators add compute resources")
        with _errors():
            return self._res().add(name, kind, settings, description=description, max_job_time=max_job_time)

    def remove_compute_resource(self, principal: Principal, name: str) -> None:
        if not principal.is_admin:
            raise Forbidden("only administrators remove compute resources")
        with _errors():
            self._res().remove(name)

    def assign_compute_resources(self, principal: Principal, plugin_id: int, names: list[str]) -> dict[str, Any]:
        """Register a plugin for exactly these compute resources (the first is its default)."""
        if not principal.is_admin:
            raise Forbidden("only administrators register plugins for compute resources")
        if not names:
            raise BadRequest("name at least one compute resource")
        with _errors():
            plugin = self.c.registry.get(plugin_id)
            self._res().assign(plugin.id, names)
            return self._plugin_json(plugin)

    # -- pipelines --------------------------------------------------------------------------------
    def pipelines(self, principal: Principal) -> list[dict[str, Any]]:
        return [pipeline_json(p) for p in self.c.pipelines.list()]

    def save_pipeline(self, principal: Principal, source: str | dict[str, Any]) -> dict[str, Any]:
        with _errors():
            return pipeline_json(self.c.pipelines.save(principal.username, source))

    def delete_pipeline(self, principal: Principal, pipeline_id: int) -> None:
        with _errors():
            p = self.c.pipelines.get(pipeline_id)
            if p.owner != principal.username and not principal.is_admin:
                raise Forbidden("only its owner may delete a pipeline")
            self.c.pipelines.delete(pipeline_id)

    def run_pipeline(self, principal: Principal, pipeline: int | str | dict[str, Any], *,
                     previous_id: int | None = None, title: str | None = None,
                     params: Mapping[str, Mapping[str, Any]] | None = None,
                     resources: Mapping[str, Mapping[str, Any]] | None = None,
                     compute_resources: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Run a pipeline (saved id, source or spec) on ``previous_id``; ``compute_resources``
        names, by piping title, where a piping runs (default: the piping's own, else its plugin's
        first resource)."""
        with _errors():
            run_id = self.c.run_pipeline(principal.username, pipeline, previous_id,
                                         title=title, params=params, resources=resources,
                                         compute_resources=compute_resources)
        with self.db.session() as s:
            rows = s.scalars(select(PluginInstance).where(PluginInstance.pipeline_run_id == run_id)
                             .order_by(PluginInstance.id)).all()
            return {"run_id": run_id, "instances": [instance_json(i) for i in rows]}
