"""Run plugins as Docker Swarm services: one one-shot service per job.

Each job is a replicated service of one task named after its job id, with restart condition
``none``, the plugin's CPU and memory limits, a process limit, the non-root job user, no
capabilities, and the same ``/share`` bind mounts as the Docker runner (input read-only, output
read-write, straight from the library). Its state is its task's state; its logs are the
service's; the service is removed after the job.

The library must be at the same path on every node that may run jobs (a shared filesystem), and
the plugin images must be on those nodes: images are never pulled.

Network: a swarm service cannot use ``--network none``. Without a network a task gets one on
``docker_gwbridge``, with a route out. So every job joins one swarm-scoped *internal* bridge
network (created on first use, ``SwarmRunner.network``, from a node-local config-only network
that turns inter-container traffic off): no route out of the node and no traffic between jobs.
What stays reachable is the node's own address on that bridge; services that listen on all
addresses of the node are reachable from jobs, as they are from the node itself.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from traitlets import Float, Int, Unicode

from .base import JobSpec, JobStatus, RunnerError, poll_until_done
from .docker import LABEL, OUTGOING, ContainerPlacement

#: Task states before it ends (swarm's ``TaskState``).
_ACTIVE = {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}


class SwarmRunner(ContainerPlacement):
    """Docker Swarm runner; the engine the client talks to must be a swarm manager.

    ``client`` is a ``docker.DockerClient``; by default one from the environment. Settings:
    ``c.SwarmRunner.<trait>`` or a compute resource's ``settings``.
    """

    name = "swarm"

    stop_grace = Int(
        3, help="""Seconds between SIGTERM and SIGKILL when a job is cancelled or times out.""",
    ).tag(config=True)

    pids_limit = Int(
        1024, help="""Most processes (and threads) one job may have at once. 0: no limit.""",
    ).tag(config=True)

    network = Unicode(
        "chris-jupyter-isolated",
        help="""The swarm-scoped internal bridge network every job joins (created if missing, with
        inter-container traffic off), since swarm services cannot run without a network.""",
    ).tag(config=True)

    poll_interval = Float(
        0.2, help="""Seconds between looks at a task's state while waiting for a job to end.""",
    ).tag(config=True)

    def __init__(self, client: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import docker

        self._docker = docker
        self._errors = docker.errors
        self.client = client or docker.from_env()
        swarm = self.client.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise RunnerError("this Docker engine is not a swarm manager (run `docker swarm init` "
                              "there, or point DOCKER_HOST at a manager)")
        self._network_ready = False

    # -- helpers ---------------------------------------------------------------------------------
    def _ensure_network(self) -> None:
        """The jobs' network: swarm-scoped, internal, and with inter-container traffic off. The
        bridge options of a swarm-scoped network come from a node-local *config-only* network
        (``<network>-config``), which every node that runs jobs needs: it is created here on
        this node; create it on the others with ``docker network create --config-only -o
        com.docker.network.bridge.enable_icc=false <network>-config``."""
        if self._network_ready:
            return
        api = self.client.api
        labels = {"chris_jupyter.network": "isolated"}
        wanted = [
            {"Name": f"{self.network}-config", "ConfigOnly": True, "Labels": labels,
             "Options": {"com.docker.network.bridge.enable_icc": "false"}},
            {"Name": self.network, "Driver": "bridge", "Scope": "swarm", "Internal": True,
             "ConfigFrom": {"Network": f"{self.network}-config"}},
        ]
        def exists(name: str) -> bool:  # the names filter matches substrings
            return any(n.name == name for n in self.client.networks.list(names=[name]))

        for body in wanted:
            if exists(body["Name"]):
                continue
            try:
                api._result(api._post_json(api._url("/networks/create"), data=body), True)
            except self._errors.APIError as exc:  # created meanwhile by another backend?
                if not exists(body["Name"]):
                    raise RunnerError(f"cannot create the jobs' network {body['Name']!r}: {exc}") from None
        self._network_ready = True

    def _service(self, job_id: str) -> Any:
        try:
            return self.client.services.get(job_id)
        except self._errors.NotFound:
            return None

    def _task(self, job_id: str) -> dict[str, Any] | None:
        """The service's newest task; None before one is scheduled or once the service is gone
        (another backend or a cleanup may remove it between two calls)."""
        try:
            tasks = self.client.api.tasks(filters={"service": job_id})
        except self._errors.NotFound:
            return None
        tasks = [t for t in tasks if t.get("ServiceID")]
        return max(tasks, key=lambda t: t.get("CreatedAt", "")) if tasks else None

    # -- jobs --------------------------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> str:
        if not spec.image:
            raise RunnerError("this plugin was registered without an image (for the local runner only); "
                              "register it from an image to run it on a swarm")
        try:
            self.client.images.get(spec.image)
        except self._errors.ImageNotFound:
            raise RunnerError(f"image {spec.image!r} is not on this Docker engine (images are never "
                              "pulled; build or load it on every swarm node first)") from None
        self._ensure_network()
        types = self._docker.types
        resources = types.Resources(
            cpu_limit=int(spec.cpu_millicores) * 1_000_000 if spec.cpu_millicores else None,
            mem_limit=int(spec.memory_mib) * 1024 * 1024 if spec.memory_mib else None,
        )
        if self.pids_limit > 0:
            resources.setdefault("Limits", {})["Pids"] = self.pids_limit
        if spec.gpus:
            resources["Reservations"] = {"GenericResources": [
                {"DiscreteResourceSpec": {"Kind": "gpu", "Value": int(spec.gpus)}}]}
        kwargs = dict(
            command=spec.argv[:1], args=spec.argv[1:], name=spec.job_id,
            labels={**spec.labels, LABEL: spec.job_id},
            container_labels={**spec.labels, LABEL: spec.job_id},
            env=[f"{k}={v}" for k, v in spec.env.items()],
            workdir=spec.cwd or OUTGOING, user=f"{self.uid}:{self.gid}",
            mounts=[types.Mount(m.target, str(m.source), type="bind", read_only=m.read_only)
                    for m in spec.mounts],
            restart_policy=types.RestartPolicy(condition="none"),
            resources=resources, networks=[self.network], cap_drop=["ALL"],
            stop_grace_period=self.stop_grace * 1_000_000_000,
            mode=types.ServiceMode("replicated", replicas=1),
        )
        try:
            try:
                self.client.services.create(spec.image, **kwargs)
            except self._errors.APIError as exc:
                if getattr(exc, "status_code", None) != 409:
                    raise
                self.cleanup(spec.job_id)  # left over from a submit cut short by a restart
                self.client.services.create(spec.image, **kwargs)
        except self._errors.APIError as exc:
            self.cleanup(spec.job_id)
            raise RunnerError(f"the swarm could not start the job: {exc.explanation or exc}") from None
        return spec.job_id

    def status(self, job_id: str) -> JobStatus:
        if self._service(job_id) is None:
            return JobStatus("missing", error="the swarm service is gone")
        task = self._task(job_id)
        if task is None:
            if self._service(job_id) is None:  # removed meanwhile
                return JobStatus("missing", error="the swarm service is gone")
            return JobStatus("running")  # not scheduled yet
        state = task.get("Status", {})
        phase = state.get("State", "")
        if phase == "pending" and "no suitable node" in (state.get("Err") or ""):
            # e.g. a GPU (a generic resource) or more memory than any node has: it would wait forever
            return JobStatus("exited", None, error=f"the swarm cannot place the job: {state['Err']}")
        if phase in _ACTIVE:
            return JobStatus("running")
        container = state.get("ContainerStatus") or {}
        code = container.get("ExitCode") if container.get("ContainerID") else None
        if phase == "complete":
            return JobStatus("exited", code or 0)
        error = state.get("Err") or ("" if phase == "failed" else f"the swarm task was {phase}")
        if phase == "failed" and code not in (None, 0) and error.startswith("task: non-zero exit"):
            error = ""  # the plugin's own failure: the coordinator explains it from the logs
        return JobStatus("exited", code, oom_killed=self._oom(container), error=error)

    def _oom(self, container: dict[str, Any]) -> bool:
        """Whether the task's container was OOM-killed (its engine knows; asked when local)."""
        if container.get("ExitCode") != 137 or not container.get("ContainerID"):
            return False
        try:
            return bool(self.client.containers.get(container["ContainerID"]).attrs["State"].get("OOMKilled"))
        except self._errors.NotFound:  # on another node: a SIGKILL we did not send is the kernel's
            return True

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        return poll_until_done(self, job_id, timeout, self.poll_interval)

    def _logs(self, job_id: str, *, stdout: bool) -> str:
        if self._service(job_id) is None:
            return ""
        try:
            chunks = self.client.api.service_logs(job_id, stdout=stdout, stderr=True, follow=False,
                                                  is_tty=False)
            return b"".join(chunks).decode(errors="replace")
        except self._errors.APIError:
            return ""

    def logs(self, job_id: str) -> str:
        return self._logs(job_id, stdout=True)

    def error_output(self, job_id: str) -> str:
        return self._logs(job_id, stdout=False)

    def cancel(self, job_id: str) -> None:
        """Scale the service to no task: its container gets SIGTERM, then SIGKILL after
        ``stop_grace``; the service stays (with its logs) until :meth:`cleanup`."""
        svc = self._service(job_id)
        if svc is None or self.status(job_id).state != "running":
            return
        with contextlib.suppress(self._errors.NotFound):
            svc.scale(0)
        deadline = time.monotonic() + self.stop_grace + 10
        while time.monotonic() < deadline:
            task = self._task(job_id)
            if task is None or task.get("Status", {}).get("State") not in _ACTIVE:
                return
            time.sleep(self.poll_interval)

    def cleanup(self, job_id: str) -> None:
        """Remove the service, then its task containers on this node: the swarm agent removes
        them too, but asynchronously (seconds on a busy node), and a cleanup means gone."""
        svc = self._service(job_id)
        if svc is not None:
            with contextlib.suppress(self._errors.NotFound):
                svc.remove()
        deadline = time.monotonic() + self.stop_grace + 10
        while True:
            left = self.client.containers.list(all=True, filters={"label": f"{LABEL}={job_id}"},
                                               ignore_removed=True)
            if not left:
                return
            if time.monotonic() > deadline:
                for container in left:
                    with contextlib.suppress(self._errors.NotFound, self._errors.APIError):
                        container.remove(force=True)
                return
            time.sleep(self.poll_interval)

    def close(self) -> None:
        self.client.close()
