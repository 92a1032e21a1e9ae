"""Client methods for plugins, jobs and pipelines (mixed into :class:`chris_jupyter.Client`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .results import Rows

FINAL = ("finishedSuccessfully", "finishedWithError", "cancelled")


class ComputeMixin:
    # provided by Client
    def get(self, endpoint: str, /, **params: Any) -> Any: ...  # pragma: no cover
    def post(self, endpoint: str, body: dict[str, Any] | None = None, /) -> Any: ...  # pragma: no cover
    def request(self, method: str, endpoint: str, /, **kw: Any) -> Any: ...  # pragma: no cover

    # -- plugins ----------------------------------------------------------------------------------
    def plugins(self, name: str | None = None) -> Rows:
        return Rows(self.get("plugins", name=name)["items"], "plugins")

    def plugin(self, ref: str | int) -> dict[str, Any]:
        """One plugin by id, name (its newest version) or ``name@version``."""
        if isinstance(ref, str) and not ref.isdigit():
            name, _, version = ref.partition("@")
            items = [p for p in self.plugins(name) if not version or p["version"] == version]
            if not items:
                from .client import NotFoundError

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

    # -- jobs -------------------------------------------------------------------------------------
    def run(self, plugin: str | int, params: dict[str, Any] | None = None, *, previous_id: int | None = None,
            version: str | None = None, title: str | None = None, resources: dict[str, Any] | None = None,
            timeout: float | None = None) -> dict[str, Any]:
        """Start a plugin: an ``fs`` plugin makes a new feed, a ``ds`` plugin runs after ``previous_id``."""
        body = {"plugin": plugin, "version": version, "params": params or {}, "previous_id": previous_id,
                "title": title, "resources": resources, "timeout": timeout}
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
            inst = self.get(f"instances/{instance_id}/wait", timeout=left)
            if inst["state"] in FINAL or time.monotonic() >= deadline:
                return inst

    def watch(self, instance_ids: list[int], timeout: float = 3600, progress: bool = True) -> list[dict]:
        """Follow jobs until all are final, with a progress bar fed by the event stream."""
        from .progress import progress_bar

        ids = set(instance_ids)
        states = {i: self.instance(i) for i in ids}
        bar = progress_bar(total=len(ids), desc="jobs", disable=not progress)
        done = {i for i, s in states.items() if s["state"] in FINAL}
        bar.update(len(done))
        deadline = time.monotonic() + timeout
        if len(done) < len(ids):
            last_event = None
            while len(done) < len(ids) and time.monotonic() < deadline:
                try:
                    for ev in self.events(types=["plugin_instance.state"], since=last_event):  # type: ignore[attr-defined]
                        last_event = ev["id"]
                        d = ev["data"]
                        if d.get("id") in ids:
                            states[d["id"]].update(d)
                            bar.set_postfix_str(f"#{d['id']} {d['state']}")
                            if d["state"] in FINAL and d["id"] not in done:
                                done.add(d["id"])
                                bar.update(1)
                        if len(done) == len(ids):
                            break
                except Exception:  # a dropped stream: re-check and resubscribe
                    states.update({i: self.instance(i) for i in ids - done})
                    done |= {i for i in ids if states[i]["state"] in FINAL}
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
                     params: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        body = {"previous_id": previous_id, "title": title, "params": params}
        return self.post(f"pipelines/{pipeline_id}/runs", {k: v for k, v in body.items() if v is not None})
