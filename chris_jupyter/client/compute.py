"""Client methods for plugins, jobs and pipelines."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from ..states import EVENT_TYPE, FINAL
from .errors import NotFoundError
from .events import EventsClient
from .progress import progress_bar
from .results import Rows


class ComputeClient(EventsClient):
    """Plugins, jobs (plugin instances: run, wait, watch, logs, cancel) and pipelines."""

    # -- plugins ----------------------------------------------------------------------------------
    @property
    def runner(self) -> str:
        """The server's job runner: ``"local"`` (installed commands, no sandbox) or ``"docker"``
        (plugin images); ``get("runner")`` also says whether it confines jobs and runs images."""
        return self.get("runner")["name"]

    def plugins(self, name: str | None = None) -> Rows:
        return Rows(self.get("plugins", name=name)["items"], "plugins")

    def plugin(self, ref: str | int) -> dict[str, Any]:
        """One plugin by id, name (its newest version) or ``name@version``."""
        if isinstance(ref, str) and not ref.isdigit():
            name, _, version = ref.partition("@")
            items = [p for p in self.plugins(name) if not version or p["version"] == version]
            if not items:
                raise NotFoundError(404, f"no plugin {ref} is registered")
            return items[-1]
        return self.get(f"plugins/{int(ref)}")

    def register_plugin(self, *, descriptor: dict[str, Any] | str | Path | None = None,
                        image: str | None = None, executable: str | None = None,
                        name: str | None = None, version: str | None = None, **extra: Any) -> dict:
        """Register a plugin (administrators): from a descriptor (dict or JSON file), a local
        image (its ``chris_plugin_info`` / ``--json`` output is read) or an installed command.

        ``name`` and ``version`` win over what the plugin says of itself; old ``chrisapp``
        plugins say neither (the server then asks ``--version``, and an image's tag)."""
        body: dict[str, Any] = dict(extra)
        body.update({k: v for k, v in {"name": name, "version": version}.items() if v is not None})
        if descriptor is not None:
            if not isinstance(descriptor, dict):
                descriptor = json.loads(Path(descriptor).read_text())
            body["descriptor"] = descriptor
        elif image is not None:
            body["image"] = image
        elif executable is not None:
            body["executable"] = executable
        return self.post("plugins", body)

    # -- compute resources ------------------------------------------------------------------------
    def compute_resources(self) -> Rows:
        """Where plugin jobs can run (name, kind, settings, description, max_job_time)."""
        return Rows(self.get("compute_resources")["items"], "compute resources")

    def add_compute_resource(self, name: str, kind: str, settings: dict[str, Any] | None = None, *,
                             description: str = "", max_job_time: float | None = None) -> dict[str, Any]:
        """Add a compute resource (administrators): ``kind`` is local, docker, swarm, slurm or kubernetes;
        ``settings`` are its runner's settings (e.g. ``{"partition": "debug"}`` for slurm)."""
        body = {"name": name, "kind": kind, "settings": settings or {}, "description": description,
                "max_job_time": max_job_time}
        return self.post("compute_resources", body)

    def remove_compute_resource(self, name: str) -> None:
        self.request("DELETE", f"compute_resources/{name}")

    def set_plugin_compute_resources(self, plugin: str | int, names: list[str]) -> dict[str, Any]:
        """Register a plugin for exactly these compute resources (administrators; first: its default)."""
        pid = self.plugin(plugin)["id"]
        return self.request("PUT", f"plugins/{pid}/compute_resources", json={"compute_resources": list(names)})

    # -- jobs -------------------------------------------------------------------------------------
    def run(self, plugin: str | int, params: dict[str, Any] | None = None, *, previous_id: int | None = None,
            version: str | None = None, title: str | None = None, resources: dict[str, Any] | None = None,
            timeout: float | None = None, compute_resource_name: str | None = None) -> dict[str, Any]:
        """Start a plugin: an ``fs`` plugin makes a new feed, a ``ds`` plugin runs after ``previous_id``;
        on ``compute_resource_name`` (default: the plugin's first compute resource)."""
        body = {"plugin": plugin, "version": version, "params": params or {}, "previous_id": previous_id,
                "title": title, "resources": resources, "timeout": timeout,
                "compute_resource_name": compute_resource_name}
        return self.post("instances", {k: v for k, v in body.items() if v is not None})

    def instance(self, instance_id: int) -> dict[str, Any]:
        return self.get(f"instances/{instance_id}")

    def instances(self, *, feed_id: int | None = None, state: str | None = None) -> Rows:
        return Rows(self.get("instances", feed_id=feed_id, state=state, limit=1000)["items"], "jobs")

    def logs(self, instance_id: int) -> str:
        out = self.request("GET", f"instances/{instance_id}/logs")
        return out.decode() if isinstance(out, bytes) else (out or "")

    def provenance(self, instance_id: int) -> dict[str, Any]:
        return self.get(f"instances/{instance_id}/provenance")

    def cancel(self, instance_id: int) -> list[int]:
        return self.post(f"instances/{instance_id}/cancel")["cancelled"]

    def wait(self, instance_id: int, timeout: float = 600) -> dict[str, Any]:
        """Block until the job is final; the server answers when it is (no polling loop here)."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(1, min(300, int(deadline - time.monotonic())))
            # the server holds the request up to `left` s: the read may take that long (plus a margin)
            inst = self.request("GET", f"instances/{instance_id}/wait", params={"timeout": left},
                                timeout=left + 30)
            if inst["state"] in FINAL or time.monotonic() >= deadline:
                return inst

    def watch(self, instance_ids: list[int], timeout: float = 3600, progress: bool = True) -> list[dict]:
        """Follow jobs until all are final (or ``timeout`` seconds have passed), with a progress
        bar fed by the event stream; returns the jobs as they are then, in the order given."""
        ids = set(instance_ids)
        done: set[int] = set()
        bar = progress_bar(total=len(ids), desc="jobs", disable=not progress)

        def mark(i: int, state: str) -> None:
            if state in FINAL and i not in done:
                done.add(i)
                bar.update(1)

        def recheck() -> bool:
            # Read the states once the stream is subscribed: a job that ended before (even between
            # two subscriptions) is seen here, one that ends after comes as an event.
            for i in ids - done:
                mark(i, self.instance(i)["state"])
            return len(done) == len(ids)

        deadline = time.monotonic() + timeout
        last_event = None
        while len(done) < len(ids) and (left := deadline - time.monotonic()) > 0:
            try:
                for ev in self.events(types=[EVENT_TYPE], since=last_event, timeout=left, on_connect=recheck):
                    last_event = ev["id"]
                    d = ev["data"]
                    if d.get("id") in ids:
                        bar.set_postfix_str(f"#{d['id']} {d['state']}")
                        mark(d["id"], d["state"])
                    if len(done) == len(ids):
                        break
            except httpx.TransportError:  # a dropped stream: resubscribe (``recheck`` runs again)
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        bar.close()
        return Rows([self.instance(i) for i in instance_ids], "jobs")

    # -- pipelines --------------------------------------------------------------------------------
    def pipelines(self) -> Rows:
        return Rows(self.get("pipelines")["items"], "pipelines")

    def save_pipeline(self, source: str | dict[str, Any] | Path) -> dict[str, Any]:
        """Save a pipeline given as YAML/JSON text, a dict, or a file."""
        if isinstance(source, Path):
            source = source.read_text()
        if isinstance(source, dict):
            return self.request("POST", "pipelines", json=source)
        return self.request("POST", "pipelines", content=source.encode(), headers={"Content-Type": "text/yaml"})

    def run_pipeline(self, pipeline_id: int, previous_id: int, *, title: str | None = None,
                     params: dict[str, dict[str, Any]] | None = None,
                     resources: dict[str, dict[str, Any]] | None = None,
                     compute_resources: dict[str, str] | None = None) -> dict[str, Any]:
        """Run a saved pipeline on ``previous_id``; ``params``, ``resources`` (cpu, memory…) and
        ``compute_resources`` (where each piping runs) override its defaults by piping title."""
        body = {"previous_id": previous_id, "title": title, "params": params, "resources": resources,
                "compute_resources": compute_resources}
        return self.post(f"pipelines/{pipeline_id}/runs", {k: v for k, v in body.items() if v is not None})
