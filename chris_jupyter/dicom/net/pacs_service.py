"""PACS as the backend offers it: configured nodes, query/retrieve with the caller's rights,
retrievals in the background with progress events, and the C-STORE receiver.

Everything received lands in the ChRIS layout under ``SERVICES/PACS/<pacs name>/…`` and becomes
ordinary library data: registered in the DB, indexed (with its PACS name, taken from the path)
and readable by the PACS group — plugins take it as input like any upload.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ... import paths
from ...errors import BadRequest, Forbidden, NotFound
from ...events import EventBus
from ...identity import Principal
from ...library.service import Library
from .. import layout

log = logging.getLogger("chris_jupyter.pacs")
LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")


@dataclass
class Retrieval:
    id: int
    user: str
    pacs: str
    study_uid: str
    series_uid: str | None
    method: str
    state: str = "queued"  # queued | connecting | retrieving | retrying | registering | done | failed
    received: int = 0
    expected: int | None = None
    failed: int = 0
    message: str = ""
    folder: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PacsService:
    """``nodes``: name -> {"ae_title", "host", "port"}; ``receiver``: None or {"host", "port"}
    plus any :class:`~.receiver.StoreReceiver` keyword options."""

    def __init__(self, library: Library, events: EventBus, *, ae_title: str, nodes: dict[str, dict[str, Any]],
                 receiver: dict[str, Any] | None, pacs_group: str) -> None:
        from .pacs_types import PacsNode

        self.library = library
        self.events = events
        self.ae_title = ae_title
        self.pacs_group = pacs_group
        self.nodes = {}
        for name, cfg in nodes.items():
            paths.check_name(name)
            self.nodes[name] = PacsNode(name, cfg["ae_title"], cfg["host"], int(cfg["port"]))
        self.receiver_cfg = receiver
        self.receiver = None
        self._retrievals: dict[int, Retrieval] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- access -----------------------------------------------------------------------------------
    def _allowed(self, principal: Principal) -> None:
        if not (principal.is_admin or (self.pacs_group and self.pacs_group in principal.groups)):
            raise Forbidden(f"PACS access is for administrators and members of the group {self.pacs_group!r}")

    def _node(self, name: str):
        node = self.nodes.get(name)
        if node is None:
            known = ", ".join(sorted(self.nodes)) or "none configured (ChrisApp.pacs_nodes)"
            raise NotFound(f"no PACS named {name!r}; known: {known}")
        return node

    def _client(self):
        from .pacs import PacsClient

        return PacsClient(self.ae_title, receiver_ae=self.ae_title if self.receiver else None)

    # -- receiver ---------------------------------------------------------------------------------
    def _pacs_name_for(self, ds: Any) -> str:
        """File received data under the configured name of the sending AE (else the AE title)."""
        ae = str(getattr(getattr(ds, "file_meta", None), "SourceApplicationEntityTitle", "") or "").strip()
        for name, node in self.nodes.items():
            if node.ae_title == ae:
                return name
        return paths.safe_component(ae or "unknown", fallback="unknown")

    def path_for(self, ds: Any) -> str:
        return layout.instance_path(self._pacs_name_for(ds), ds)

    def _stored(self, items: list[Any]) -> None:
        lib_paths = [i.path for i in items]
        try:
            self.library.register_files(lib_paths, sizes={i.path: i.size for i in items if hasattr(i, "size")})
        except Exception:  # never lose the receiver thread; the files are on disk and re-indexable
            log.exception("registering %d received instances failed", len(lib_paths))
            return
        self.events.publish("pacs.received", {"count": len(lib_paths), "folder": paths.parent(lib_paths[0])},
                            path=paths.PACS)

    def start(self) -> None:
        from .netutil import clean_partials

        pacs_dir = self.library.store.root / paths.PACS
        if pacs_dir.is_dir():  # temp files of transfers cut short by a crash
            threading.Thread(target=clean_partials, args=(pacs_dir,), daemon=True,
                             name="pacs-clean-partials").start()
        if not self.receiver_cfg:
            return
        from .receiver import StoreReceiver

        cfg = dict(self.receiver_cfg)
        host, port = cfg.pop("host", "127.0.0.1"), int(cfg.pop("port", 11112))
        # the rest are StoreReceiver options (AE title checks, timeouts, limits)
        self.receiver = StoreReceiver(
            self.ae_title, host, port, storage_root=self.library.store.root, path_for=self.path_for,
            on_stored=self._stored, **cfg,
        ).start()

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None

    # -- query ------------------------------------------------------------------------------------
    def list_nodes(self, principal: Principal) -> list[dict[str, Any]]:
        self._allowed(principal)
        return [{"name": n.name, "ae_title": n.ae_title, "host": n.host, "port": n.port}
                for n in self.nodes.values()]

    def status(self, principal: Principal) -> dict[str, Any]:
        """Our AE title, the C-STORE receiver (or ``None``) and the configured PACS nodes."""
        self._allowed(principal)
        r = self.receiver
        return {"ae_title": self.ae_title, "receiver": None if r is None else
                {"host": r.host, "port": r.port, "running": r.running}, "nodes": self.list_nodes(principal)}

    def echo(self, principal: Principal, name: str) -> dict[str, Any]:
        from .pacs_types import PacsError

        self._allowed(principal)
        try:
            seconds = self._client().echo(self._node(name))
        except PacsError as e:
            return {"ok": False, "message": str(e)}
        return {"ok": True, "seconds": round(seconds, 4)}

    def find(self, principal: Principal, name: str, level: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        from .pacs_types import PacsError

        self._allowed(principal)
        if str(level).upper() not in LEVELS:
            raise BadRequest(f"'level' must be one of {', '.join(LEVELS)}")
        if not isinstance(query, dict):
            raise BadRequest("'query' must be an object of DICOM keyword -> value")
        try:
            return self._client().find(self._node(name), level.upper(), query)  # type: ignore[arg-type]
        except ValueError as e:
            raise BadRequest(str(e)) from None
        except PacsError as e:
            raise BadRequest(f"the PACS query failed: {e}") from None

    # -- retrieve ---------------------------------------------------------------------------------
    def retrieve(self, principal: Principal, name: str, *, study_uid: str, series_uid: str | None = None,
                 method: str = "get") -> dict[str, Any]:
        """Start retrieving a study or series in the background; progress comes as events."""
        self._allowed(principal)
        node = self._node(name)
        if method not in ("get", "move"):
            raise BadRequest("'method' is 'get' (C-GET) or 'move' (C-MOVE to our receiver)")
        if method == "move" and self.receiver is None:
            raise BadRequest("C-MOVE needs our DICOM receiver: configure ChrisApp.dicom_receiver_port")
        if not study_uid:
            raise BadRequest("'study_uid' is required")
        job = Retrieval(next(self._ids), principal.username, name, study_uid, series_uid, method)
        with self._lock:
            self._retrievals[job.id] = job
        threading.Thread(target=self._run, args=(job, node), daemon=True, name=f"pacs-retrieve-{job.id}").start()
        return job.to_json()

    def _emit(self, job: Retrieval) -> None:
        self.events.publish("pacs.progress", job.to_json(), users=[job.user])

    def _run(self, job: Retrieval, node: Any) -> None:
        from .netutil import LayoutWriter
        from .pacs_types import PacsError

        stored: list[Any] = []
        last = [0.0]

        def progress(p: Any) -> None:
            # The transfer's own end is not the job's: files are registered and indexed first,
            # and only then does the job say "done" (or "failed") below.
            if p.state in ("done", "failed"):
                job.state = "registering" if p.state == "done" else job.state
            else:
                job.state = p.state
            job.received, job.expected, job.failed, job.message = p.received, p.expected, p.failed, p.message
            now = time.monotonic()
            if now - last[0] > 0.1:  # at most ~10 events/s
                last[0] = now
                self._emit(job)

        class _Recorder(LayoutWriter):
            def write(self, item: Any) -> Any:
                done = super().write(item)
                stored.append(done)
                return done

        writer = _Recorder(self.library.store.root, lambda ds: layout.instance_path(job.pacs, ds))
        try:
            self._client().retrieve(node, study_uid=job.study_uid, series_uid=job.series_uid,
                                    method=job.method, dest=writer if job.method == "get" else None,  # type: ignore[arg-type]
                                    progress=progress)
            if stored:
                self.library.register_files([s.path for s in stored])
                job.folder = paths.parent(stored[0].path)
            elif self.receiver is not None:
                self.receiver.flush()
            job.state = "done"
        except (PacsError, ValueError) as e:
            job.state, job.message = "failed", str(e)
        except Exception as e:  # report, never kill silently
            log.exception("retrieval %d failed", job.id)
            job.state, job.message = "failed", f"unexpected error: {e}"
        job.ended = time.time()
        self._emit(job)

    def retrievals(self, principal: Principal) -> list[dict[str, Any]]:
        self._allowed(principal)
        with self._lock:
            return [j.to_json() for j in self._retrievals.values()
                    if j.user == principal.username or principal.is_admin]

    def retrieval(self, principal: Principal, job_id: int) -> dict[str, Any]:
        self._allowed(principal)
        job = self._retrievals.get(job_id)
        if job is None or (job.user != principal.username and not principal.is_admin):
            raise NotFound(f"no retrieval {job_id}")
        return job.to_json()
