"""Run plugins as SLURM batch jobs: one ``sbatch`` per job.

Two ways to run the plugin on the node, chosen by ``SlurmRunner.containers``:

- **in a container** (the default): the batch script runs ``docker run`` on the node's engine
  with the Docker runner's confinement (no network, the non-root job user, no capabilities, a
  process limit, the memory and CPU limits, input read-only and output read-write bind mounts
  at ``/share``). The nodes need a Docker engine holding the plugin images, and the job must
  be allowed to use it (it is, as root; users outside the ``docker`` group are not).
- **directly** (``containers = False``): the plugin's command runs as installed on the nodes, on
  the library's own paths, like the local runner (and, like it, without confinement).

The library and this runner's ``state_dir`` (job scripts and logs) must be at the same paths on
every node (a shared filesystem). Job state and exit status come from ``squeue --json``, which
needs no accounting database (``sacct`` does, so it is not used; ``squeue``'s ``exit_code`` is
the raw wait status). Limits map to ``--time``, ``--mem``, ``--cpus-per-task`` and GPUs to
``--gres=gpu:N``; ``scancel`` cancels.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Int, List, Unicode, default

from .base import JobSpec, JobStatus, Placement, RunnerError, poll_until_done
from .docker import LABEL, OUTGOING, ContainerPlacement

_RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
            "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "STOPPED"}


class SlurmRunner(ContainerPlacement):
    """SLURM runner: talks to the cluster with ``sbatch``, ``squeue`` and ``scancel``."""

    name = "slurm"

    containers = Bool(
        True,
        help="""Run each plugin in a container on the node's Docker engine (confined as by the
        Docker runner). False: run the plugin's command directly, as installed on the nodes
        (not confined: only for one trusted user, like the local runner).""",
    ).tag(config=True)

    partition = Unicode("", help="""Partition to submit to (``--partition``); empty: the cluster's default.""").tag(
        config=True)

    sbatch_args = List(
        Unicode(), help="""Further ``sbatch`` options for every job, e.g. ``["--account=lab", "--qos=short"]``.""",
    ).tag(config=True)

    slurm_conf = Unicode(
        "", help="""Path of the cluster's ``slurm.conf`` (``SLURM_CONF`` for the commands); empty: the
        commands' own default (``/etc/slurm/slurm.conf`` or configless).""",
    ).tag(config=True)

    job_dir = Unicode(
        help="""Folder of the job scripts and their stdout/stderr files; on a filesystem every node
        sees at the same path. Default: the runner's ``state_dir`` (``<data_dir>/jobs/slurm``).""",
    ).tag(config=True)

    @default("job_dir")
    def _default_job_dir(self) -> str:
        return self.state_dir

    docker_command = Unicode("docker", help="""The Docker client on the nodes (container mode).""").tag(config=True)

    stop_grace = Int(3, help="""Seconds between SIGTERM and SIGKILL when a job is cancelled.""").tag(config=True)

    pids_limit = Int(1024, help="""Most processes one containerised job may have at once.""").tag(config=True)

    time_margin = Int(
        60, help="""Seconds added to a job's time limit for ``--time``: the backend stops a job at
        its limit itself (and says so); SLURM's limit is the backstop.""",
    ).tag(config=True)

    poll_interval = Float(0.5, help="""Seconds between ``squeue`` calls while waiting for a job.""").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.job_dir:
            raise RunnerError("SlurmRunner.job_dir is not set")
        self._dir = Path(self.job_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self.confines_jobs = self.runs_images = self.containers
        for exe in ("sbatch", "squeue", "scancel"):
            if shutil.which(exe) is None:
                raise RunnerError(f"{exe} is not installed here: the SLURM runner needs the slurm-client tools")
        self._images_seen: set[str] = set()
        # The commands (and so the jobs, which inherit sbatch's environment) see only these: no
        # secret of the backend's environment reaches a job. (``--export=PATH`` would do the same,
        # but a list makes slurmd load the user's login environment first: ~1.4 s more per job.)
        keep = {k: os.environ[k] for k in ("PATH", "LANG", "DOCKER_HOST", "DOCKER_CONFIG") if k in os.environ}
        self._env = {"PATH": os.defpath, **keep, **({"SLURM_CONF": self.slurm_conf} if self.slurm_conf else {})}

    # -- placement -------------------------------------------------------------------------------
    def place(self, job_id: str, *, inputs: list[tuple[str, Path]], single_input: bool, output: Path,
              paths: dict[str, Path]) -> Placement:
        if self.containers:
            return super().place(job_id, inputs=inputs, single_input=single_input, output=output, paths=paths)
        input_dir: str | None = None
        if single_input and inputs:
            input_dir = str(inputs[0][1])
        elif inputs:
            links = self._file(job_id, "incoming")
            links.mkdir(parents=True, exist_ok=True)
            for name, host in inputs:
                if not (links / name).is_symlink():
                    (links / name).symlink_to(host, target_is_directory=True)
            input_dir = str(links)
        return Placement(input_dir, str(output), {lib: str(host) for lib, host in paths.items()})

    def prepare_output(self, output: Path) -> None:
        if self.containers:
            super().prepare_output(output)
        else:
            output.mkdir(parents=True, exist_ok=True)

    # -- commands ----------------------------------------------------------------------------------
    def _file(self, job_id: str, suffix: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise RunnerError(f"bad job id {job_id!r}")
        return self._dir / f"{job_id}.{suffix}"

    def _cmd(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(argv, capture_output=True, text=True, env=self._env, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RunnerError(f"{argv[0]} failed: {e}") from None

    def _script(self, spec: JobSpec) -> str:
        q = shlex.quote
        lines = ["#!/bin/sh", f"# chris_jupyter job {spec.job_id}"]
        if not self.containers:
            lines += [f"export {k}={q(v)}" for k, v in spec.env.items()]
            lines += [f"cd {q(spec.cwd or str(spec.output_dir))} || exit 1", "exec " + shlex.join(spec.argv)]
            return "\n".join(lines) + "\n"
        if not spec.image:
            raise RunnerError("this plugin was registered without an image (for the local runner only); "
                              "register it from an image to run it in containers on SLURM")
        docker = q(self.docker_command)
        run = [self.docker_command, "run", "--name", spec.job_id, "--label", f"{LABEL}={spec.job_id}",
               "--network", "none", "--user", f"{self.uid}:{self.gid}", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "--pids-limit", str(self.pids_limit),
               "--pull", "never", "--workdir", spec.cwd or OUTGOING, "--entrypoint", spec.argv[0]]
        for k, v in spec.labels.items():
            run += ["--label", f"{k}={v}"]
        if spec.memory_mib:
            run += ["--memory", f"{spec.memory_mib}m", "--memory-swap", f"{spec.memory_mib}m"]
        if spec.cpu_millicores:
            run += ["--cpus", f"{spec.cpu_millicores / 1000:g}"]
        if spec.gpus:
            run += ["--gpus", str(int(spec.gpus))]
        for m in spec.mounts:
            run += ["--mount", f"type=bind,source={m.source},target={m.target}" + (",readonly" if m.read_only else "")]
        for k, v in spec.env.items():
            run += ["--env", f"{k}={v}"]
        run += [spec.image, *spec.argv[1:]]
        oom = q(str(self._file(spec.job_id, "oom")))
        lines += [
            # a cancel (scancel) stops the container, not only the client that started it
            f"trap '{docker} stop -t {self.stop_grace} {spec.job_id} >/dev/null 2>&1' TERM INT",
            shlex.join(run) + " &",
            "pid=$!",
            "wait $pid; code=$?",
            "while kill -0 $pid 2>/dev/null; do wait $pid; code=$?; done",
            # only a SIGKILL (137) can be the OOM killer: the common exit pays no inspect
            f"[ $code = 137 ] && [ \"$({docker} inspect -f '{{{{.State.OOMKilled}}}}' {spec.job_id}"
            f" 2>/dev/null)\" = true ] && : > {oom}",
            f"{docker} rm -f {spec.job_id} >/dev/null 2>&1",
            "exit $code",
        ]
        return "\n".join(lines) + "\n"

    def submit(self, spec: JobSpec) -> str:
        if self.containers and spec.image:
            self._check_image(spec.image)
        script = self._file(spec.job_id, "sh")
        script.write_text(self._script(spec))
        for suffix in ("out", "err", "oom"):
            self._file(spec.job_id, suffix).unlink(missing_ok=True)
        argv = ["sbatch", "--parsable", f"--job-name={spec.job_id}", f"--chdir={self._dir}",
                f"--output={self._file(spec.job_id, 'out')}", f"--error={self._file(spec.job_id, 'err')}",
                "--ntasks=1",
                f"--cpus-per-task={max(1, math.ceil((spec.cpu_millicores or 1000) / 1000))}"]
        if spec.memory_mib:
            argv.append(f"--mem={int(spec.memory_mib)}M")
        if spec.gpus:
            argv.append(f"--gres=gpu:{int(spec.gpus)}")
        if spec.time_limit_s:
            argv.append(f"--time={math.ceil((spec.time_limit_s + self.time_margin) / 60)}")
        if self.partition:
            argv.append(f"--partition={self.partition}")
        argv += [*self.sbatch_args, str(script)]
        if self._file(spec.job_id, "slurm_id").exists():  # a submit cut short by a restart: once only
            self.cancel(spec.job_id)
        r = self._cmd(*argv)
        if r.returncode != 0:
            raise RunnerError(f"sbatch refused the job: {(r.stderr or r.stdout).strip()}")
        self._file(spec.job_id, "slurm_id").write_text(r.stdout.strip().split(";")[0])
        return spec.job_id

    def _check_image(self, image: str) -> None:
        """Refuse a job whose image this engine lacks, before ``sbatch`` (once per image: an image
        removed later still fails fast, as ``docker run --pull never``, in the job's log)."""
        if image in self._images_seen:
            return
        r = self._cmd(self.docker_command, "image", "inspect", "--format", "{{.Id}}", image)
        if r.returncode != 0:
            raise RunnerError(f"image {image!r} is not on this Docker engine (images are never pulled; "
                              "build or load it on every SLURM node first)")
        self._images_seen.add(image)

    def _job(self, job_id: str) -> dict[str, Any] | None:
        """The newest ``squeue --json`` record of the job (None: SLURM does not know it)."""
        r = self._cmd("squeue", "--json", "-t", "all", f"--name={job_id}")
        if r.returncode != 0:
            raise RunnerError(f"squeue failed: {r.stderr.strip()}")
        try:
            jobs = [j for j in json.loads(r.stdout).get("jobs", []) if j.get("name") == job_id]
        except ValueError:
            raise RunnerError(f"squeue answered something that is not JSON: {r.stdout[:200]!r}") from None
        return max(jobs, key=lambda j: j.get("job_id", 0)) if jobs else None

    def status(self, job_id: str) -> JobStatus:
        job = self._job(job_id)
        if job is None:
            return JobStatus("missing", error="SLURM does not know the job (any more)")
        state = job.get("job_state")
        if isinstance(state, list):  # SLURM 23.02+
            state = state[0] if state else ""
        if state in _RUNNING:
            return JobStatus("running")
        raw = job.get("exit_code")
        if isinstance(raw, dict):  # SLURM 23.02+: {"status": …, "return_code": …, "signal": …}
            code = raw.get("return_code")
            raw = None
        else:
            raw = int(raw) if raw is not None else None
            code = None if raw is None else (raw >> 8 if raw & 0x7F == 0 else 128 + (raw & 0x7F))
        oom = self._file(job_id, "oom").exists() or state == "OUT_OF_MEMORY"
        error = ""
        if state in ("NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "TIMEOUT", "REVOKED"):
            error = f"SLURM ended the job: {state} ({job.get('state_reason', '')})"
        if state == "COMPLETED":
            code = code or 0
        return JobStatus("exited", code, oom_killed=oom, error=error)

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        return poll_until_done(self, job_id, timeout, self.poll_interval)

    def _read(self, job_id: str, suffix: str) -> str:
        try:
            return self._file(job_id, suffix).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def logs(self, job_id: str) -> str:
        return self._read(job_id, "out") + self._read(job_id, "err")

    def error_output(self, job_id: str) -> str:
        return self._read(job_id, "err")

    def cancel(self, job_id: str) -> None:
        """``scancel`` (SIGTERM, which the job script passes on as ``docker stop``), then wait."""
        if self.status(job_id).state != "running":
            return
        self._cmd("scancel", f"--name={job_id}")
        deadline = time.monotonic() + self.stop_grace + 15
        while time.monotonic() < deadline and self.status(job_id).state == "running":
            time.sleep(self.poll_interval)

    def cleanup(self, job_id: str) -> None:
        """Remove the job's script and markers; keep its logs (the coordinator copies them)."""
        if self.containers:  # the script removes its container; unless SLURM killed the script first
            self._cmd(self.docker_command, "rm", "-f", job_id)
        for suffix in ("sh", "oom", "slurm_id"):
            self._file(job_id, suffix).unlink(missing_ok=True)
        links = self._file(job_id, "incoming")
        if links.is_dir():
            shutil.rmtree(links, ignore_errors=True)
