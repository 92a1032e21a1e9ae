"""Compute as the backend offers it: the coordinator with the caller's rights applied.

Builds the runner (``auto``: Docker when an engine answers, local subprocesses otherwise), the
coordinator with the library's registration and permission rules, and turns the compute core's
exceptions into the backend's errors with their messages intact.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..db import Database
from ..db.models.compute import Pipeline, Plugin, PluginInstance
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..events import EventBus
from ..feeds.pipelines import PipelineError
from ..identity import AuthError, NotServed, Principal, Users
from ..library import paths
from ..library.service import Library
from ..plugins.cmdline import ParameterError
from ..plugins.descriptor import DescriptorError
from ..plugins.registry import PluginExists, PluginInUse, PluginNotFound, RegistrationError
from . import states as st
from .coordinator import Coordinator
from .runners.base import Runner

log = logging.getLogger("chris_jupyter.compute")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except PluginNotFound as e:
        raise NotFound(str(e)) from None
    except (ParameterError, DescriptorError, PipelineError, RegistrationError) as e:
        raise BadRequest(str(e)) from None
    except (PluginExists, PluginInUse) as e:
        raise Conflict(str(e)) from None
    except LookupError as e:
        raise NotFound(str(e).strip("'\"")) from None


def make_runner(kind: str, work_dir: Path) -> Runner:
    """``docker``, ``local`` or ``auto`` (Docker when an engine answers)."""
    if kind in ("docker", "auto"):
        try:
            from .runners.docker import DockerRunner

            runner = DockerRunner()
            runner.client.ping()
            return runner
        except Exception as e:  # the docker package missing or no engine: both mean "not here"
            if kind == "docker":
                raise RuntimeError(f"runner 'docker' was asked for but no Docker engine answers: {e}") from e
            log.info("no Docker engine (%s): plugins run as local subprocesses", e)
    from .runners.local import LocalRunner

    return LocalRunner(work_dir)


def plugin_json(p: Plugin) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "version": p.version, "type": p.type, "title": p.title,
            "category": p.category, "dock_image": p.dock_image, "source": p.source,
            "parameters": p.parameters, "descriptor": p.descriptor, "created_at": p.created_at.isoformat()}


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
                 data_root: Path, runner: str = "auto", default_timeout: float | None = None,
                 max_parallel: int = 4) -> None:
        self.db = db
        self.library = library
        self.users = users
        self.events = events
        self.runner_kind = runner
        self.data_root = Path(data_root)
        self.coordinator: Coordinator | None = None
        self.default_timeout = default_timeout
        self.max_parallel = max_parallel

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        runner = make_runner(self.runner_kind, self.data_root / "jobs")
        self.coordinator = Coordinator(
            self.db, self.library.store.root, runner, publish=self._publish,
            register_outputs=lambda path, owner: self.library.register_tree(path),
            create_folder=lambda path, owner: self.library.register_tree(path),
            can_read=self._can_read, can_write=self._can_write, may_run=self._may_run,
            default_timeout=self.default_timeout, max_parallel=self.max_parallel,
        )
        self.coordinator.start()
        log.info("compute: %s runner", type(runner).__name__)

    def stop(self) -> None:
        if self.coordinator is not None:
            self.coordinator.stop()

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
        principal = self.users.principal(username, via="token")
        return self.library.grants(principal).can_read(path)

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
    def plugins(self, name: str | None = None) -> list[dict[str, Any]]:
        return [plugin_json(p) for p in self.c.registry.list(name)]

    def plugin(self, ref: Any) -> dict[str, Any]:
        with _errors():
            return plugin_json(self.c.registry.get(ref))

    def register(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Admins register a plugin from ``descriptor`` (a JSON object), ``image`` or ``executable``."""
        if not principal.is_admin:
            raise Forbidden("only administrators register plugins")
        keys = ("name", "version", "dock_image", "execshell", "selfpath", "selfexec")
        for k in keys:
            if body.get(k) is not None and not isinstance(body[k], str):
                raise BadRequest(f"'{k}' must be a string")
        extra = {k: body[k] for k in keys if body.get(k)}
        with _errors():
            if isinstance(body.get("descriptor"), dict):
                p = self.c.registry.register(body["descriptor"], source=body.get("source", "image"), **extra)
            elif isinstance(body.get("image"), str):
                p = self.c.registry.register_image(body["image"], name=extra.get("name"),
                                                   version=extra.get("version"), selfexec=extra.get("selfexec"))
            elif isinstance(body.get("executable"), str):
                p = self.c.registry.register_executable(body["executable"], name=extra.get("name"),
                                                        version=extra.get("version"))
            else:
                raise BadRequest("give 'descriptor' (a JSON object), 'image' (a local image name) "
                                 "or 'executable' (an installed plugin command)")
        self.events.publish("plugin.registered", {"id": p.id, "name": p.name, "version": p.version},
                            path="")
        return plugin_json(p)

    def unregister(self, principal: Principal, plugin_id: int) -> None:
        if not principal.is_admin:
            raise Forbidden("only administrators remove plugins")
        with _errors():
            self.c.registry.delete(plugin_id)

    # -- instances --------------------------------------------------------------------------------
    def run(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        ref = body.get("plugin")
        if ref is None:
            raise BadRequest("'plugin' (an id, a name, 'name@version' or {name, version}) is required")
        if isinstance(ref, str) and body.get("version"):
            ref = (ref, str(body["version"]))
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise BadRequest("'params' must be an object of parameter name -> value")
        with _errors():
            iid = self.c.run_plugin(principal.username, ref, params, previous_id=body.get("previous_id"),
                                    title=body.get("title"), resources=body.get("resources"),
                                    timeout=body.get("timeout"))
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

    def run_pipeline(self, principal: Principal, pipeline: int | str | dict[str, Any],
                     body: dict[str, Any]) -> dict[str, Any]:
        with _errors():
            run_id = self.c.run_pipeline(principal.username, pipeline, body.get("previous_id"),
                                         title=body.get("title"), params=body.get("params"),
                                         resources=body.get("resources"))
        with self.db.session() as s:
            rows = s.scalars(select(PluginInstance).where(PluginInstance.pipeline_run_id == run_id)
                             .order_by(PluginInstance.id)).all()
            return {"run_id": run_id, "instances": [instance_json(i) for i in rows]}


