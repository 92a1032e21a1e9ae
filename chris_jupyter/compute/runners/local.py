"""Run plugins as local subprocesses (the embedded, one-user default).

Each job gets ``work_dir/<job id>/`` with its log, the pid of its supervisor and, once it ends,
its exit code. The program runs under a small supervisor script in its own session, so it
survives a backend restart and a new backend can still learn its exit status
(:meth:`LocalRunner.status`). There is no isolation beyond an address-space rlimit: use the
Docker runner for anything you do not trust.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from traitlets import Float, Int, Unicode, default

from .base import JobSpec, JobStatus, Placement, Runner, RunnerError

_SUPERVISOR = Path(__file__).with_name("_supervise.py")
_MIB = 1024 * 1024


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


class LocalRunner(Runner):
    """Subprocess runner: each job is a supervised subprocess of the server's machine.

    ``work_dir`` is where job folders (logs, pid, exit code, ts input links) live; not in the
    library. The backend gives ``<data_dir>/jobs``. Settings: ``c.LocalRunner.<trait>``.
    """

    name = "local"

    work_dir = Unicode(
        help="""Folder of the job folders (log, pid, exit code of each job); by default
        ``jobs/`` in ``ChrisApp.data_dir`` (the runner's ``state_dir``). It must survive a restart
        of the server, so that a new server learns how the jobs of the old one ended.""",
    ).tag(config=True)

    @default("work_dir")
    def _default_work_dir(self) -> str:
        return self.state_dir

    memory_slack_mib = Int(
        512,
        allow_none=True,
        help="""MiB added to a job's memory limit for its address-space rlimit: such a limit
        counts mapped but untouched memory (Python and NumPy map far more than they use), so the
        bare limit would kill ordinary plugins. None: no rlimit.""",
    ).tag(config=True)

    kill_grace = Float(
        3.0,
        help="""Seconds between SIGTERM and SIGKILL when a job is cancelled or times out.""",
    ).tag(config=True)

    def __init__(self, work_dir: Path | str | None = None, **kwargs: Any) -> None:
        if work_dir is not None:
            kwargs["work_dir"] = str(work_dir)
        super().__init__(**kwargs)
        if not self.work_dir:
            raise RunnerError("LocalRunner.work_dir is not set")
        self._work = Path(self.work_dir)
        self._work.mkdir(parents=True, exist_ok=True)
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def _dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise RunnerError(f"bad job id {job_id!r}")
        return self._work / job_id

    def place(
        self,
        job_id: str,
        *,
        inputs: list[tuple[str, Path]],
        single_input: bool,
        output: Path,
        paths: dict[str, Path],
    ) -> Placement:
        """Host paths as they are; a ts job's parents are linked side by side in its job dir
        (plugins must follow symlinks there: ``os.walk(followlinks=True)``)."""
        input_dir: str | None = None
        if single_input and inputs:
            input_dir = str(inputs[0][1])
        elif inputs:
            links = self._dir(job_id) / "incoming"
            links.mkdir(parents=True, exist_ok=True)
            for name, host in inputs:
                link = links / name
                if not link.is_symlink():
                    link.symlink_to(host, target_is_directory=True)
            input_dir = str(links)
        return Placement(
            input_dir=input_dir,
            output_dir=str(output),
            path_args={lib: str(host) for lib, host in paths.items()},
        )

    def submit(self, spec: JobSpec) -> str:
        jobdir = self._dir(spec.job_id)
        jobdir.mkdir(parents=True, exist_ok=True)
        (jobdir / "tmp").mkdir(exist_ok=True)
        exe = spec.argv[0]
        if shutil.which(exe) is None and not os.access(exe, os.X_OK):
            raise RunnerError(f"executable not found: {exe}")
        mem = 0
        if spec.memory_mib and self.memory_slack_mib is not None:
            mem = (spec.memory_mib + self.memory_slack_mib) * _MIB
        # The program's own bin dir first, as in an activated venv (chrisapp looks itself up).
        bindirs = [os.path.dirname(a) for a in spec.argv[:2] if os.path.isabs(a)]
        path = os.pathsep.join(dict.fromkeys([*bindirs, os.environ.get("PATH", "/usr/bin:/bin")]))
        env = {
            "PATH": path,
            "LANG": "C.UTF-8",
            "HOME": str(jobdir),
            "TMPDIR": str(jobdir / "tmp"),
            "PYTHONUNBUFFERED": "1",
            **spec.env,
        }
        cwd = spec.cwd or str(spec.output_dir)
        argv = [sys.executable, "-I", str(_SUPERVISOR), str(jobdir), str(mem), cwd, "--"]
        proc = subprocess.Popen(
            argv + list(spec.argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        (jobdir / "pid").write_text(str(proc.pid))
        with self._lock:
            self._procs[spec.job_id] = proc
        return spec.job_id

    def _exit_code(self, job_id: str) -> int | None:
        try:
            return int((self._dir(job_id) / "exit_code").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _status_of_code(self, job_id: str, code: int) -> JobStatus:
        oom = code == 137 or "MemoryError" in self._tail(job_id)
        return JobStatus("exited", code, oom_killed=oom)

    def _tail(self, job_id: str, size: int = 4096) -> str:
        try:
            with open(self._dir(job_id) / "log", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - size))
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def status(self, job_id: str) -> JobStatus:
        jobdir = self._dir(job_id)
        code = self._exit_code(job_id)
        if code is not None:
            return self._status_of_code(job_id, code)
        try:
            pid = int((jobdir / "pid").read_text())
        except (FileNotFoundError, ValueError):
            return JobStatus("missing", error="the job is unknown to the local runner")
        with self._lock:
            proc = self._procs.get(job_id)
        if proc is not None:
            proc.poll()  # reap our own child so it does not linger as a zombie
        if _pid_alive(pid):
            return JobStatus("running")
        code = self._exit_code(job_id)  # it may have finished in between
        if code is not None:
            return self._status_of_code(job_id, code)
        return JobStatus("exited", None, error="the job's supervisor ended without an exit status")

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        with self._lock:
            proc = self._procs.get(job_id)
        if proc is not None:  # our child: block on it (no polling)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return JobStatus("running")
            return self.status(job_id)
        # A job started by an earlier backend: not our child, so poll its pid.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st = self.status(job_id)
            if st.done:
                return st
            if deadline is not None and time.monotonic() >= deadline:
                return st
            time.sleep(0.2)

    def logs(self, job_id: str) -> str:
        try:
            return (self._dir(job_id) / "log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cancel(self, job_id: str) -> None:
        jobdir = self._dir(job_id)
        try:
            pid = int((jobdir / "pid").read_text())
        except (FileNotFoundError, ValueError):
            return
        if not _pid_alive(pid):
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if self.wait(job_id, self.kill_grace).done:
            return
        try:
            child = int((jobdir / "child.pid").read_text())
            os.kill(child, signal.SIGKILL)  # the supervisor then records 137
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
        if not self.wait(job_id, self.kill_grace).done:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self.wait(job_id, self.kill_grace)

    def cleanup(self, job_id: str) -> None:
        """Forget the process; keep the log (its text is copied into the DB by the coordinator)."""
        with self._lock:
            proc = self._procs.pop(job_id, None)
        if proc is not None:
            proc.poll()
        links = self._dir(job_id) / "incoming"
        if links.is_dir():
            shutil.rmtree(links, ignore_errors=True)
        shutil.rmtree(self._dir(job_id) / "tmp", ignore_errors=True)
