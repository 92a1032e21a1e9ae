"""Run plugins as Docker containers, straight on the library store (zero copy).

Every job is one container named after its job id and labelled ``chris_jupyter.job=<id>``:
the input dir is bind-mounted read-only at ``/share/incoming``, the output dir read-write at
``/share/outgoing`` (created beforehand and owned by the container user), path-parameter values
read-only under ``/share/paths``. The container runs as a non-root uid with no network, no
capabilities, no Docker socket, a hard memory limit (no swap) and a CPU quota. Images are never
pulled: a missing image is an error that says so.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from traitlets import Int, TraitError, validate

from .base import JobSpec, JobStatus, Mount, Placement, Runner, RunnerError

LABEL = "chris_jupyter.job"
INCOMING = "/share/incoming"
OUTGOING = "/share/outgoing"
PATHS = "/share/paths"



def share_mounts(inputs: list[tuple[str, Path]], single_input: bool,
                 output: Path) -> tuple[list[Mount], str | None]:
    """The ``/share`` layout every container runner uses: the output read-write at
    ``/share/outgoing``; one parent read-only at ``/share/incoming`` (ds), or each parent at
    ``/share/incoming/<name>`` (ts). Returns the mounts and the input folder (None: no parents)."""
    mounts = [Mount(output, OUTGOING, read_only=False)]
    if single_input and inputs:
        return [*mounts, Mount(inputs[0][1], INCOMING)], INCOMING
    if inputs:
        return [*mounts, *(Mount(host, f"{INCOMING}/{name}") for name, host in inputs)], INCOMING
    return mounts, None

class ContainerPlacement(Runner):
    """What every container runner shares: the ``/share`` layout and the non-root job user."""

    confines_jobs = True
    runs_images = True

    uid = Int(
        1000,
        help="""Numeric user id the job's container runs as (never root). Output folders are
        handed to this user before the job starts.""",
    ).tag(config=True)

    gid = Int(1000, help="""Numeric group id the job's container runs as.""").tag(config=True)

    @validate("uid", "gid")
    def _not_root(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] <= 0:
            raise TraitError(f"{type(self).__name__}.{proposal['trait'].name} must be a non-root id "
                             f"(> 0), not {proposal['value']}")
        return proposal["value"]

    def place(
        self,
        job_id: str,
        *,
        inputs: list[tuple[str, Path]],
        single_input: bool,
        output: Path,
        paths: dict[str, Path],
    ) -> Placement:
        """Bind mounts straight from the library: parents read-only at ``/share/incoming`` (ts:
        ``/share/incoming/<plugin>_<id>``), output read-write at ``/share/outgoing``, path values
        read-only at ``/share/paths/<n>/<name>``."""
        mounts, input_dir = share_mounts(inputs, single_input, output)
        path_args = {}
        for i, (lib, host) in enumerate(paths.items()):
            target = f"{PATHS}/{i}/{Path(lib).name}"
            mounts.append(Mount(host, target))
            path_args[lib] = target
        return Placement(input_dir, OUTGOING, path_args, tuple(mounts))

    def prepare_output(self, output: Path) -> None:
        output.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(output, self.uid, self.gid)
        elif os.geteuid() != self.uid:
            output.chmod(0o777)  # the container user must write here


class DockerRunner(ContainerPlacement):
    """Docker SDK runner: one container per job on the server's own engine.

    ``client`` is a ``docker.DockerClient``; by default one from the environment with a
    connection pool large enough for one blocking ``wait`` per running job. Everything else is
    configuration (``c.DockerRunner.<trait>``).
    """

    name = "docker"

    stop_grace = Int(
        3,
        help="""Seconds between SIGTERM and SIGKILL when a job is cancelled or times out.""",
    ).tag(config=True)

    pids_limit = Int(
        1024,
        help="""Most processes (and threads) one job may have at once; a fork bomb stops there.
        -1: no limit.""",
    ).tag(config=True)

    def __init__(self, client: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import docker

        self._errors = docker.errors
        self._types = docker.types
        self.client = client or docker.from_env(max_pool_size=128)

    # -- jobs ------------------------------------------------------------------------------
    def _get(self, job_id: str):
        try:
            return self.client.containers.get(job_id)
        except self._errors.NotFound:
            return None

    def submit(self, spec: JobSpec) -> str:
        if not spec.image:
            raise RunnerError("this plugin was registered without an image (for the local runner "
                              "only); register it from an image to run it with Docker")
        try:
            self.client.images.get(spec.image)
        except self._errors.ImageNotFound:
            raise RunnerError(
                f"image {spec.image!r} is not on this Docker engine (images are never pulled; "
                "build or load it first)"
            ) from None
        kwargs: dict[str, Any] = {}
        if spec.memory_mib:
            kwargs["mem_limit"] = f"{spec.memory_mib}m"
            kwargs["memswap_limit"] = f"{spec.memory_mib}m"  # hard: no swap on top
        if spec.cpu_millicores:
            kwargs["nano_cpus"] = int(spec.cpu_millicores) * 1_000_000
        if spec.gpus:
            kwargs["device_requests"] = [
                self._types.DeviceRequest(count=int(spec.gpus), capabilities=[["gpu"]])
            ]
        mounts = [
            self._types.Mount(m.target, str(m.source), type="bind", read_only=m.read_only)
            for m in spec.mounts
        ]
        try:
            try:
                container = self._create(spec, mounts, kwargs)
            except self._errors.APIError as exc:
                if getattr(exc, "status_code", None) != 409:
                    raise
                self.cleanup(spec.job_id)  # left over from a submit cut short by a restart
                container = self._create(spec, mounts, kwargs)
            container.start()
        except self._errors.APIError as exc:
            self.cleanup(spec.job_id)
            raise RunnerError(f"Docker could not start the job: {exc.explanation or exc}") from None
        return spec.job_id

    def _create(self, spec: JobSpec, mounts: list, kwargs: dict[str, Any]):
        return self.client.containers.create(
            spec.image,
            entrypoint=spec.argv[:1],
            command=spec.argv[1:],
            name=spec.job_id,
            user=f"{self.uid}:{self.gid}",
            network_mode="none",
            mounts=mounts,
            environment=dict(spec.env),
            labels={**spec.labels, LABEL: spec.job_id},
            working_dir=spec.cwd or OUTGOING,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=self.pids_limit,
            detach=True,
            **kwargs,
        )

    def status(self, job_id: str) -> JobStatus:
        c = self._get(job_id)
        if c is None:
            return JobStatus("missing", error="the container is gone")
        state = c.attrs.get("State", {})
        status = state.get("Status")
        if status == "created":  # never started (a restart interrupted submit)
            return JobStatus("missing", error="the container was never started")
        if status in ("running", "restarting", "paused", "removing"):
            return JobStatus("running")
        return JobStatus(
            "exited",
            state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            error=state.get("Error") or "",
        )

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        import requests

        c = self._get(job_id)
        if c is None:
            return JobStatus("missing", error="the container is gone")
        t0 = time.monotonic()
        try:
            c.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            # over unix sockets a read timeout surfaces as ConnectionError: tell them apart
            if timeout is None or time.monotonic() - t0 < timeout:
                time.sleep(0.5)  # the engine hiccuped; the caller waits again
            return JobStatus("running")
        return self.status(job_id)

    def logs(self, job_id: str) -> str:
        c = self._get(job_id)
        if c is None:
            return ""
        return c.logs(stdout=True, stderr=True).decode(errors="replace")

    def error_output(self, job_id: str) -> str:
        c = self._get(job_id)
        if c is None:
            return ""
        return c.logs(stdout=False, stderr=True).decode(errors="replace")

    def cancel(self, job_id: str) -> None:
        c = self._get(job_id)
        if c is None:
            return
        with contextlib.suppress(self._errors.NotFound):
            c.stop(timeout=self.stop_grace)

    def cleanup(self, job_id: str) -> None:
        c = self._get(job_id)
        if c is None:
            return
        try:
            c.remove(force=True)
        except self._errors.NotFound:
            pass
        except self._errors.APIError as exc:  # "removal already in progress"
            if getattr(exc, "status_code", None) != 409:
                raise

    def close(self) -> None:
        self.client.close()
