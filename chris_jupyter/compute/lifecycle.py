"""The job side of the coordinator: launch, watch, finish, time out, reconcile.

Kept apart from :mod:`.coordinator` (which creates instances) so each stays readable. Work runs
on a small thread pool plus one watcher thread per running job, blocked in ``runner.wait`` — a
job's end is noticed when it happens, not at the next poll, and its children are scheduled
right then.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from .. import paths
from ..db.models.compute import PluginInstance
from ..plugins.cmdline import build_argv, library_paths
from ..plugins.registry import descriptor_of
from . import states as st
from .instances import descendants, parents_of
from .outputs import LinkReport, output_files, remove_outside_links
from .resources import ResourceError
from .runners.base import JobSpec, JobStatus, RunnerError

log = logging.getLogger(__name__)
LOG_LIMIT = 1 << 20  # bytes of job log kept in the DB (the tail)


class JobLifecycle:
    """Mixin of :class:`~.coordinator.Coordinator`; expects the attributes it sets up."""

    # set by Coordinator.__init__
    db: Any
    data_root: Path
    runner: Any
    may_run: Any
    max_parallel: int
    _pool: ThreadPoolExecutor | None
    _lock: threading.Lock
    _slots: set[int]
    _pending: deque[int]
    _watching: set[int]
    _job_runners: dict[str, Any]
    _stopped: bool

    # -- small helpers -------------------------------------------------------------------
    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def _move(self, iid: int, dst: str, **kw: Any) -> bool:
        return st.transition(self.db, iid, dst, publish=self._emit, **kw)

    def _set(self, iid: int, **fields: Any) -> None:
        """Write non-state columns (provenance, logs)."""
        with self.db.session() as s:
            s.execute(update(PluginInstance).where(PluginInstance.id == iid).values(**fields))

    def _load(self, iid: int) -> PluginInstance | None:
        with self.db.session() as s:
            return s.get(PluginInstance, iid)

    def _spawn(self, fn, *args) -> None:
        pool = self._pool
        if self._stopped or pool is None:
            return
        try:
            pool.submit(self._guarded, fn, *args)
        except RuntimeError:  # stop() shut the pool down since the check: the next reconcile takes it
            if not self._stopped:
                raise

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("coordinator task %s%s failed", getattr(fn, "__name__", fn), args)

    def _disk(self, library_path: str) -> Path:
        return paths.to_disk(self.data_root, library_path)

    # -- scheduling ------------------------------------------------------------------------
    def _advance(self, iid: int) -> None:
        """Move a created/waiting instance on according to its parents' states."""
        with self.db.session() as s:
            inst = s.get(PluginInstance, iid)
            if inst is None:
                return
            state = inst.state
            parents = parents_of(inst)
            pstates = dict(
                s.execute(
                    select(PluginInstance.id, PluginInstance.state).where(
                        PluginInstance.id.in_(parents)
                    )
                ).all()
            ) if parents else {}
        if state == st.SCHEDULED:
            self._queue_launch(iid)
            return
        if state not in (st.CREATED, st.WAITING):
            return
        failed = [(p, pstates.get(p, "deleted")) for p in parents if pstates.get(p) not in
                  (st.SUCCESS, *st.ACTIVE)]
        if failed:
            p, pstate = failed[0]
            with self.db.session() as s:
                ids = [iid, *descendants(s, iid)]
            self._cancel_ids(ids, f"cancelled: parent instance {p} ended as {pstate}")
            return
        if all(pstates.get(p) == st.SUCCESS for p in parents):
            if self._move(iid, st.SCHEDULED, expect=frozenset({st.CREATED, st.WAITING})):
                self._queue_launch(iid)
        elif state == st.CREATED:
            self._move(iid, st.WAITING, expect=st.CREATED)

    def _queue_launch(self, iid: int) -> None:
        with self._lock:
            if iid in self._slots or iid in self._pending:
                return
            if len(self._slots) >= self.max_parallel:
                self._pending.append(iid)
                return
            self._slots.add(iid)
        self._spawn(self._launch, iid)

    def _free_slot(self, iid: int) -> None:
        with self._lock:
            self._slots.discard(iid)
            nxt = self._pending.popleft() if self._pending and len(self._slots) < self.max_parallel else None
            if nxt is not None:
                self._slots.add(nxt)
        if nxt is not None:
            self._spawn(self._launch, nxt)

    def _launch(self, iid: int) -> None:
        inst = self._load(iid)
        if inst is None or inst.state not in st.LAUNCHING:
            self._free_slot(iid)
            return
        try:
            runner = self._hooked(self._runner_for(inst.runner))
            spec = self._job_spec(inst, runner)
            self._set(iid, runner_job_id=spec.job_id, argv=spec.argv, image=spec.image,
                      env=spec.env, runner=inst.runner or runner.name)
            with self._lock:
                self._job_runners[spec.job_id] = runner
            runner.submit(spec)
        except Exception as exc:  # RunnerError, ParameterError, InvalidPath, OSError…
            msg = str(exc) if isinstance(exc, RunnerError | ValueError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, RunnerError | ValueError):
                log.exception("launching instance %s failed", iid)
            if self._move(iid, st.ERROR, expect=st.LAUNCHING, error=f"could not start: {msg}"):
                self._cascade(iid, "could not start")
            self._free_slot(iid)
            return
        if not self._move(iid, st.STARTED, expect=st.LAUNCHING):  # cancelled meanwhile
            self._safely("cancel", spec.job_id)
            self._set(iid, logs=self._job_logs(spec.job_id))
            self._safely("cleanup", spec.job_id)
            self._free_slot(iid)
            return
        self._watch(iid, spec.job_id, inst.timeout_s, time.time())

    def _job_spec(self, inst: PluginInstance, runner: Any) -> JobSpec:
        if self.may_run is not None:
            self.may_run(inst.owner)
        desc = descriptor_of(inst.plugin)
        job_id = inst.runner_job_id or f"cj-{inst.id}-{secrets.token_hex(4)}"
        output = self._disk(inst.output_path)
        output.parent.mkdir(parents=True, exist_ok=True)
        runner.prepare_output(output)
        parent_rows = [self._load(p) for p in parents_of(inst)]
        inputs = [(f"{r.plugin.name}_{r.id}", self._disk(r.output_path)) for r in parent_rows if r]
        wanted = library_paths(desc, inst.params)
        for p in wanted:
            if not self.can_read(inst.owner, p):  # permissions may have changed since creation
                raise ValueError(f"path {p!r} does not exist or {inst.owner} may not read it")
        placement = runner.place(
            job_id,
            inputs=inputs,
            single_input=desc.type == "ds",
            output=output,
            # decided on where each path resolves, too (a symbolic link on the way)
            paths={p: paths.to_disk(self.data_root, p, allowed=lambda r: self.can_read(inst.owner, r))
                   for p in wanted},
        )
        argv = build_argv(
            desc,
            inst.params,
            output_dir=placement.output_dir,
            input_dir=placement.input_dir,
            can_read=lambda p: self.can_read(inst.owner, p),
            mount_of=placement.path_args,
        )
        env = {"CHRIS_JID": job_id, "CHRIS_PLG_INST_ID": str(inst.id)}
        if inst.previous_id is not None:
            env["CHRIS_PREV_PLG_INST_ID"] = str(inst.previous_id)
        if inst.pipeline_run_id is not None:
            env["CHRIS_WORKFLOW_ID"] = env["CHRIS_PIPELINE_RUN_ID"] = str(inst.pipeline_run_id)
        res = inst.resources or {}
        return JobSpec(
            job_id=job_id,
            argv=argv,
            output_dir=output,
            image=desc.dock_image,
            mounts=placement.mounts,
            env=env,
            cpu_millicores=res.get("cpu_limit"),
            memory_mib=res.get("memory_limit"),
            gpus=res.get("gpu_limit") or 0,
            labels={"chris_jupyter.instance": str(inst.id)},
            time_limit_s=inst.timeout_s,
        )

    # -- watching and finishing -------------------------------------------------------------
    def _watch(self, iid: int, job_id: str, timeout_s: float | None, started: float) -> None:
        with self._lock:
            if iid in self._watching:
                return
            self._watching.add(iid)
        t = threading.Thread(target=self._guarded, args=(self._watch_job, iid, job_id, timeout_s,
                             started), name=f"chris-job-{iid}", daemon=True)
        t.start()

    def _watch_job(self, iid: int, job_id: str, timeout_s: float | None, started: float) -> None:
        """Block in ``runner.wait`` until the job ends or times out; then finish it."""
        try:
            while not self._stopped:
                remaining = None if timeout_s is None else max(0.0, started + timeout_s - time.time())
                try:
                    status = self._job_runner(job_id).wait(job_id, remaining)
                except ResourceError as e:  # removed while the job ran (only a forced removal)
                    status = JobStatus("missing", error=str(e))
                except Exception:  # the engine went away for a moment: try again
                    log.exception("waiting for job %s failed; retrying", job_id)
                    time.sleep(1.0)
                    continue
                if self._stopped:
                    return  # a stopped coordinator leaves the job to the next one's reconcile
                if status.state != "running":
                    self._finish(iid, job_id, status)
                    return
                if timeout_s is not None and time.time() >= started + timeout_s:
                    self._time_out(iid, job_id, timeout_s)
                    return
                # woken early without an end (engine hiccup): wait again
        finally:
            with self._lock:
                self._watching.discard(iid)

    def _time_out(self, iid: int, job_id: str, timeout_s: float) -> None:
        self._safely("cancel", job_id)
        if self._move(iid, st.CANCELLED, expect=st.RUNNING, logs=self._job_logs(job_id),
                      error=f"timed out after {timeout_s:g} s; the job was stopped"):
            self._cascade(iid, "timed out")
        self._safely("cleanup", job_id)
        self._free_slot(iid)

    def _hooked(self, runner: Any) -> Any:
        """The runner, told to report the steps of its jobs (:meth:`_on_step`)."""
        runner.on_step = self._on_step
        return runner

    def _on_step(self, job_id: str, step: str) -> None:
        """A runner's report that a job's data travels: ``copying`` (inputs out, from
        ``scheduled``) or ``uploading`` (outputs back, from ``started``)."""
        frm = {st.COPYING: st.SCHEDULED, st.UPLOADING: st.STARTED}.get(step)
        if frm is None:
            return
        with self.db.session() as s:
            iid = s.scalar(select(PluginInstance.id).where(PluginInstance.runner_job_id == job_id))
        if iid is not None:
            self._move(iid, step, expect=frm)

    def _safely(self, op: str, job_id: str) -> None:
        """Runner housekeeping (``cancel``, ``cleanup``) must not stop the state machine."""
        try:
            getattr(self._job_runner(job_id), op)(job_id)
        except Exception:
            log.exception("runner %s of job %s failed", op, job_id)

    def _runner_for(self, resource: str | None) -> Any:
        raise NotImplementedError

    def _job_runner(self, job_id: str) -> Any:
        """The runner of a job: that of the compute resource its instance names."""
        with self._lock:
            runner = self._job_runners.get(job_id)
        if runner is None:
            with self.db.session() as s:
                name = s.scalar(select(PluginInstance.runner).where(PluginInstance.runner_job_id == job_id))
            runner = self._hooked(self._runner_for(name))
            with self._lock:
                self._job_runners[job_id] = runner
        return runner

    def _job_logs(self, job_id: str) -> str:
        try:
            text = self._job_runner(job_id).logs(job_id)
        except Exception as exc:
            return f"(logs unavailable: {exc})"
        return text[-LOG_LIMIT:]

    def _finish(self, iid: int, job_id: str, status: JobStatus) -> None:
        logs = self._job_logs(job_id)
        inst = self._load(iid)
        if inst is None or inst.state not in st.RUNNING:  # cancelled (or finished) meanwhile
            if inst is not None:
                self._set(iid, logs=logs, exit_code=status.exit_code)
            self._safely("cleanup", job_id)
            self._free_slot(iid)
            return
        if status.state == "missing":
            if self._move(iid, st.CANCELLED, expect=st.RUNNING, logs=logs,
                          error=f"the runner lost the job: {status.error}"):
                self._cascade(iid, "was lost by the runner")
        elif status.exit_code == 0:
            if self._move(iid, st.REGISTERING, expect=st.RUNNING, exit_code=0, logs=logs):
                self._register(iid)  # before cleanup: the user waits for this, not for that
        else:
            try:
                errors = self._job_runner(job_id).error_output(job_id)
            except Exception:
                errors = ""
            msg = self._failure_message(inst, status, errors.strip() and errors or logs)
            if self._move(iid, st.ERROR, expect=st.RUNNING, exit_code=status.exit_code, logs=logs,
                          error=msg):
                self._cascade(iid, "failed")
        self._safely("cleanup", job_id)
        self._free_slot(iid)

    @staticmethod
    def _failure_message(inst: PluginInstance, status: JobStatus, logs: str) -> str:
        code = status.exit_code
        if status.oom_killed:
            mem = (inst.resources or {}).get("memory_limit")
            return (f"out of memory: the job used more than its memory limit of {mem} MiB and was "
                    f"killed (exit code {code})")
        if code is None:
            return status.error or "the job ended without an exit code"
        last = next((ln.strip() for ln in reversed(logs.splitlines()) if ln.strip()), "")
        return f"the plugin exited with code {code}" + (f": {last[:500]}" if last else "")

    def _register(self, iid: int) -> None:
        """Register the outputs once (the callback must be idempotent) and finish."""
        inst = self._load(iid)
        if inst is None or inst.state != st.REGISTERING:
            return
        try:
            root = Path(self.data_root, *inst.output_path.split("/"))  # not resolved: it may be a link
            links = remove_outside_links(root) if root.is_dir() or root.is_symlink() else LinkReport()
            if links.removed or links.failed:
                log.warning("instance %s (%s): %s", iid, inst.owner, links.note())
                self._set(iid, logs=(inst.logs or "").rstrip("\n") + "\n" + links.note() + "\n")
            if links.failed:
                raise RuntimeError("symbolic links that point outside the output folder could not be "
                                   "removed; nothing was registered")
            root = self._disk(inst.output_path)
            files = output_files(root, inst.output_path) if root.is_dir() else []
            self.register_outputs(inst.output_path, inst.owner)
        except Exception as exc:
            log.exception("registering outputs of instance %s failed", iid)
            if self._move(iid, st.ERROR, expect=st.REGISTERING,
                          error=f"registering the output files failed: {exc}"):
                self._cascade(iid, "failed")
            return
        if self._stopped:
            return  # the next coordinator's reconcile registers again (idempotent) and finishes
        if self._move(iid, st.SUCCESS, expect=st.REGISTERING, output_files=files,
                      output_count=len(files), outputs_registered=True):
            for child in self._children(iid):
                self._spawn(self._advance, child)

    def _children(self, iid: int) -> list[int]:
        with self.db.session() as s:
            feed = s.execute(select(PluginInstance.feed_id).where(PluginInstance.id == iid)).scalar()
            rows = s.execute(
                select(PluginInstance.id, PluginInstance.previous_id, PluginInstance.joins).where(
                    PluginInstance.feed_id == feed,
                    PluginInstance.state.in_([st.CREATED, st.WAITING]),
                )
            ).all()
        return [cid for cid, prev, joins in rows if prev == iid or iid in (joins or [])]

    # -- cancelling -----------------------------------------------------------------------------
    def _cascade(self, iid: int, why: str) -> None:
        with self.db.session() as s:
            ids = descendants(s, iid)
        self._cancel_ids(ids, f"cancelled because instance {iid} {why}")

    def _cancel_ids(self, ids: list[int], reason: str) -> list[int]:
        done = []
        for iid in ids:
            inst = self._load(iid)
            if inst is None or inst.state in st.FINAL:
                continue
            if self._move(iid, st.CANCELLED, error=reason):
                done.append(iid)
                if inst.runner_job_id and inst.state in st.LAUNCHING | st.RUNNING:
                    self._safely("cancel", inst.runner_job_id)  # its watcher cleans up
                with self._lock:
                    if iid in self._pending:
                        self._pending.remove(iid)
        return done

    # -- restart --------------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Bring every unfinished instance to its true state after a (re)start.

        Jobs still running are watched again, jobs that ended meanwhile are finished with their
        real exit status, jobs the runner no longer knows are cancelled (or resubmitted if they
        never started), and instances caught mid-registration are registered again (the
        ``register_outputs`` callback is idempotent) — nothing is lost or registered twice.
        """
        with self.db.session() as s:
            rows = list(s.execute(
                select(PluginInstance).where(PluginInstance.state.in_(list(st.ACTIVE)))
                .order_by(PluginInstance.id)
            ).scalars())
        for inst in rows:
            iid, job = inst.id, inst.runner_job_id
            if inst.state in (st.CREATED, st.WAITING):
                self._spawn(self._advance, iid)
            elif inst.state == st.REGISTERING:
                self._spawn(self._register, iid)
            elif inst.state in st.LAUNCHING:
                status = self._job_status(job)
                if status.state == "missing":
                    self._queue_launch(iid)
                elif self._move(iid, st.STARTED, expect=st.LAUNCHING):
                    self._adopt(inst, status)
            else:  # started or uploading
                status = self._job_status(job)
                self._adopt(inst, status)

    def _job_status(self, job_id: str | None) -> JobStatus:
        if not job_id:
            return JobStatus("missing")
        try:
            return self._job_runner(job_id).status(job_id)
        except ResourceError as e:
            return JobStatus("missing", error=str(e))

    def _adopt(self, inst: PluginInstance, status: JobStatus) -> None:
        with self._lock:
            self._slots.add(inst.id)  # counts against max_parallel even if over it
        started = (inst.started_at.timestamp() if inst.started_at else time.time())
        if status.state == "running":
            self._watch(inst.id, inst.runner_job_id, inst.timeout_s, started)
        else:
            self._spawn(self._finish, inst.id, inst.runner_job_id, status)
