"""The small interface every compute runner implements.

The coordinator decides *what* runs (argv, directories, limits) and keeps the durable state; a
runner only starts, watches, reports on and removes jobs. Job ids are chosen by the coordinator
(stored in the DB before submit) so that after a restart it can ask the runner about a job it
lost track of.

Runners are traitlets ``Configurable``s: each setting is a trait with its help text, read from the
server's configuration by class name (``c.DockerRunner.pids_limit = 256``), and a new runner
plugs in by being named in ``ChrisApp.runner_class`` (a ``Type`` trait, as JupyterHub picks its
spawner). A compute resource gives its own settings on top (``Runner(config=…, **settings)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Unicode
from traitlets.config import LoggingConfigurable


class RunnerError(RuntimeError):
    """The runner could not start a job; the message is shown to the user."""


@dataclass(frozen=True)
class Mount:
    """A host directory (or file) made visible to the job at ``target``."""

    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class Placement:
    """Where the job sees its directories, and what must be mounted for that."""

    input_dir: str | None
    output_dir: str
    path_args: dict[str, str]  # library path -> where the job sees it
    mounts: tuple[Mount, ...] = ()


@dataclass
class JobSpec:
    """Everything a runner needs to start one job."""

    job_id: str
    argv: list[str]
    output_dir: Path
    image: str = ""
    mounts: tuple[Mount, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    cpu_millicores: int | None = None
    memory_mib: int | None = None
    gpus: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    #: Seconds the job may run (the coordinator stops it then); a batch system's own limit.
    time_limit_s: float | None = None


@dataclass(frozen=True)
class JobStatus:
    """What a runner knows about a job.

    ``state`` is ``running``, ``exited`` or ``missing`` (the runner has no such job).
    """

    state: str
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""

    @property
    def done(self) -> bool:
        return self.state != "running"


class Runner(LoggingConfigurable):
    """Start, watch and clean up jobs. All methods block; call them from worker threads.

    Subclasses implement every method that raises :class:`NotImplementedError` here.
    """

    #: Short name stored with each instance ("local", "docker").
    name: str = "runner"
    #: True when a job sees only its own input, output and path arguments (and cannot write
    #: elsewhere on the host). A runner that does not confine jobs makes the backend serve only
    #: its embedded user and administrators (``Users.serve_only``).
    confines_jobs: bool = False
    #: True when a job runs in its plugin's container image. A runner that runs installed
    #: commands instead (local) refuses plugins registered by image: their descriptor names a
    #: command that exists only inside the image.
    runs_images: bool = False
    #: Set by the coordinator: ``on_step(job_id, state)`` when a job's data starts to travel
    #: (``copying``: inputs to where it runs; ``uploading``: outputs back). Runners whose jobs
    #: read and write the library in place never call it.
    on_step: Callable[[str, str], None] | None = None

    state_dir = Unicode(
        "",
        help="""A folder the backend gives the runner for its own files (``<data_dir>/jobs``),
        outside the library; runners that keep job files on disk use it by default. Set by the
        backend, not by configuration.""",
    )

    def place(
        self,
        job_id: str,
        *,
        inputs: list[tuple[str, Path]],
        single_input: bool,
        output: Path,
        paths: dict[str, Path],
    ) -> Placement:
        """Decide how the job sees its directories.

        Parameters
        ----------
        inputs
            ``(name, host dir)`` of each parent output. With ``single_input`` the one entry *is*
            the input dir (``ds``); otherwise each appears as ``<input dir>/<name>`` (``ts``).
        output
            The host output dir (already created).
        paths
            Library path -> host path of each path-parameter value.
        """
        raise NotImplementedError

    def submit(self, spec: JobSpec) -> str:
        """Start the job; return its id (``spec.job_id``). Raise :class:`RunnerError` if it cannot."""
        raise NotImplementedError

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        """Block until the job ends or ``timeout`` seconds pass (then ``state == "running"``)."""
        raise NotImplementedError

    def status(self, job_id: str) -> JobStatus:
        """The job's current status, without blocking."""
        raise NotImplementedError

    def logs(self, job_id: str) -> str:
        """The job's combined stdout/stderr so far ("" if unknown)."""
        raise NotImplementedError

    def error_output(self, job_id: str) -> str:
        """The job's stderr alone, where the runner keeps it apart ("" otherwise)."""
        return ""

    def cancel(self, job_id: str) -> None:
        """Stop the job if it runs (no error if it already ended or is unknown)."""
        raise NotImplementedError

    def cleanup(self, job_id: str) -> None:
        """Release everything the job holds (container, temp files). Idempotent."""
        raise NotImplementedError

    def prepare_output(self, output: Path) -> None:
        """Create the output dir before the run, owned by whoever the job runs as."""
        output.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Release the runner's own resources."""


def poll_until_done(runner: Runner, job_id: str, timeout: float | None, interval: float) -> JobStatus:
    """:meth:`Runner.wait` for engines with no blocking wait: :meth:`Runner.status` every
    ``interval`` seconds until the job is done or ``timeout`` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        st = runner.status(job_id)
        if st.done or (deadline is not None and time.monotonic() >= deadline):
            return st
        time.sleep(interval)
