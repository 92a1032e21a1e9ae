"""Run plugins as Kubernetes Jobs: one ``batch/v1`` Job per job, through the official client.

Each job is a Job named after its job id (``backoffLimit: 0``, ``restartPolicy: Never``,
``ttlSecondsAfterFinished``, ``activeDeadlineSeconds`` from its time limit plus a margin: the
backend stops a job at its limit itself, the cluster's deadline is the backstop) whose one pod
runs the plugin's image with:

- requests = limits from the job's CPU and memory (a Guaranteed pod), GPUs as
  ``nvidia.com/gpu`` limits;
- the non-root job user (``runAsNonRoot``, uid/gid 1000 by default), no privilege escalation,
  every capability dropped, the runtime's default seccomp profile;
- no service account token and no service links in its environment;
- the library as ``hostPath`` volumes (the library at the same path, or at
  ``node_library_path``, on every node) or as sub-paths of one PersistentVolumeClaim
  (``library_volume = "pvc"``): input read-only at ``/share/incoming``, output read-write at
  ``/share/outgoing``, path values read-only under ``/share/paths``, as with Docker;
- no network where the cluster can express it: a pod always has a network interface, so the
  runner creates (once per namespace) a NetworkPolicy denying all ingress and egress of job
  pods. It has effect only where the cluster's network plugin enforces NetworkPolicies.

State comes from the Job and its pod (an ``OOMKilled`` termination reason is an out-of-memory
kill; an image that cannot be pulled or a pod that cannot be scheduled is an error rather than
a job that waits for ever); logs from the pod. Cancel and cleanup delete the Job with
``propagationPolicy: Background`` (the API's default for Jobs orphans their pods), so the pod
gets SIGTERM, then SIGKILL after ``stop_grace``. Kubernetes cannot keep a deleted pod's logs, so
cancel keeps what the pod had written until cleanup.

Images are the cluster's business (``image_pull_policy``); the plugin images must be pullable
by, or present on, the nodes.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from typing import Any

from traitlets import Bool, Dict, Enum, Float, Int, Unicode

from .base import JobSpec, JobStatus, RunnerError, poll_until_done
from .docker import LABEL, OUTGOING, ContainerPlacement

CONTAINER = "plugin"
MANAGED_BY = {"app.kubernetes.io/managed-by": "chris-jupyter"}
#: Waiting reasons after which a pod will not start by itself.
_STUCK = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
          "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


class KubernetesRunner(ContainerPlacement):
    """Kubernetes runner; settings: ``c.KubernetesRunner.<trait>`` or a compute resource's."""

    name = "kubernetes"

    kubeconfig = Unicode(
        "", help="""Path of the kubeconfig file to use. Empty: the in-cluster service account when
        the backend runs in a pod, else the client's default (``$KUBECONFIG`` or
        ``~/.kube/config``).""",
    ).tag(config=True)

    context = Unicode("", help="""The kubeconfig context to use; empty: its current context.""").tag(config=True)

    namespace = Unicode("default", help="""Namespace of the jobs (it must exist).""").tag(config=True)

    library_volume = Enum(
        ["hostPath", "pvc"], "hostPath",
        help="""How pods see the library: ``hostPath`` (the library is at the same path on every
        node, or at ``node_library_path``; needs a cluster policy that allows hostPath volumes)
        or ``pvc`` (a PersistentVolumeClaim ``library_claim`` that holds ``library_path``; each
        mount is a ``subPath`` of it).""",
    ).tag(config=True)

    library_path = Unicode(
        "", help="""The library's folder on this server (the backend's data root). With ``pvc``:
        the folder the claim holds (required). With ``hostPath``: the prefix replaced by
        ``node_library_path``.""",
    ).tag(config=True)

    node_library_path = Unicode(
        "", help="""With ``hostPath``: where ``library_path`` is on the nodes, if not at the same
        path; empty: the same path.""",
    ).tag(config=True)

    library_claim = Unicode("", help="""With ``pvc``: the PersistentVolumeClaim's name (required).""").tag(
        config=True)

    image_pull_policy = Enum(
        ["Always", "IfNotPresent", "Never"], "IfNotPresent",
        help="""The pods' ``imagePullPolicy``; ``Never`` for images loaded on the nodes.""",
    ).tag(config=True)

    network_policy = Bool(
        True, help="""Create (once per namespace) the NetworkPolicy ``<network_policy_name>`` that
        denies all ingress and egress of job pods. It has effect only where the cluster's
        network plugin enforces NetworkPolicies.""",
    ).tag(config=True)

    network_policy_name = Unicode(
        "chris-jupyter-jobs-isolated", help="""Name of the jobs' deny-all NetworkPolicy.""",
    ).tag(config=True)

    node_selector = Dict(
        value_trait=Unicode(), help="""``nodeSelector`` of the job pods, e.g. ``{"chris": "compute"}``.""",
    ).tag(config=True)

    ttl_after_finished = Int(
        86400, help="""``ttlSecondsAfterFinished``: seconds after its end that the cluster deletes a
        Job the backend did not clean up (e.g. it was down). Keep it longer than a backend restart
        can take: a restarted backend learns how a job ended from it.""",
    ).tag(config=True)

    time_margin = Int(
        60, help="""Seconds added to a job's time limit for ``activeDeadlineSeconds``: the backend
        stops a job at its limit itself (and says so); the cluster's deadline is the backstop.""",
    ).tag(config=True)

    stop_grace = Int(
        3, help="""``terminationGracePeriodSeconds``: seconds between SIGTERM and SIGKILL when a
        job is cancelled or times out.""",
    ).tag(config=True)

    poll_interval = Float(0.5, help="""Seconds between looks at a job while waiting for it to end.""").tag(
        config=True)

    request_timeout = Float(30.0, help="""Seconds an API request may take.""").tag(config=True)

    def __init__(self, api_client: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.library_volume == "pvc" and not (self.library_claim and self.library_path):
            raise RunnerError("KubernetesRunner: library_volume 'pvc' needs library_claim and library_path")
        try:
            from kubernetes import client, config
        except ImportError:
            raise RunnerError("the Kubernetes runner needs the kubernetes package "
                              "(pip install 'chris_jupyter[kubernetes]')") from None
        self._exc = client.exceptions.ApiException
        if api_client is None:
            cfg = client.Configuration()
            try:
                if not self.kubeconfig:
                    with contextlib.suppress(config.ConfigException):
                        config.load_incluster_config(client_configuration=cfg)
                        api_client = client.ApiClient(cfg)
                if api_client is None:
                    config.load_kube_config(config_file=self.kubeconfig or None, context=self.context or None,
                                            client_configuration=cfg)
                    api_client = client.ApiClient(cfg)
            except (config.ConfigException, OSError) as e:
                raise RunnerError(f"cannot configure the Kubernetes client: {e}") from None
        self.api_client = api_client
        self._batch = client.BatchV1Api(api_client)
        self._core = client.CoreV1Api(api_client)
        self._net = client.NetworkingV1Api(api_client)
        self._policy_ready = False
        self._kept_logs: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- API helpers -----------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One API call; its JSON body as dicts, None on 404."""
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=self.request_timeout, **kwargs)
        except self._exc as e:
            if e.status == 404:
                return None
            raise
        data = resp.data
        if kwargs.get("container"):  # pod logs: text
            return data.decode(errors="replace")
        return json.loads(data) if data else {}

    @staticmethod
    def _reason(e: Any) -> str:
        try:
            return json.loads(e.body).get("message") or e.reason
        except (TypeError, ValueError, AttributeError):
            return str(getattr(e, "reason", e))

    def _job(self, job_id: str) -> dict[str, Any] | None:
        return self._call(self._batch.read_namespaced_job, job_id, self.namespace)

    def _pods(self, job_id: str) -> list[dict[str, Any]]:
        out = self._call(self._core.list_namespaced_pod, self.namespace, label_selector=f"{LABEL}={job_id}")
        return (out or {}).get("items") or []

    def _pod(self, job_id: str) -> dict[str, Any] | None:
        """The job's newest pod (one with backoffLimit 0, but a deleted one may linger)."""
        pods = self._pods(job_id)
        return max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "") if pods else None

    # -- manifests -------------------------------------------------------------------------------
    def network_policy_manifest(self) -> dict[str, Any]:
        """The deny-all policy of job pods (no ingress or egress rule: nothing allowed)."""
        return {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": self.network_policy_name, "namespace": self.namespace, "labels": dict(MANAGED_BY)},
            "spec": {"podSelector": {"matchExpressions": [{"key": LABEL, "operator": "Exists"}]},
                     "policyTypes": ["Ingress", "Egress"]},
        }

    def _volumes(self, spec: JobSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        volumes: list[dict[str, Any]] = []
        mounts: list[dict[str, Any]] = []
        root = self.library_path.rstrip("/")
        for i, m in enumerate(spec.mounts):
            source = str(m.source)
            if self.library_volume == "pvc":
                if not (source == root or source.startswith(root + "/")):
                    raise RunnerError(f"{source} is not in the library folder {root} that the claim "
                                      f"{self.library_claim!r} holds")
                if not volumes:
                    volumes.append({"name": "library",
                                    "persistentVolumeClaim": {"claimName": self.library_claim}})
                mount = {"name": "library", "mountPath": m.target, "readOnly": m.read_only}
                if source != root:
                    mount["subPath"] = source[len(root) + 1:]
                mounts.append(mount)
                continue
            if root and self.node_library_path and (source == root or source.startswith(root + "/")):
                source = self.node_library_path.rstrip("/") + source[len(root):]
            kind = "Directory" if m.source.is_dir() else "File" if m.source.exists() else ""
            volumes.append({"name": f"share-{i}", "hostPath": {"path": source, **({"type": kind} if kind else {})}})
            mounts.append({"name": f"share-{i}", "mountPath": m.target, "readOnly": m.read_only})
        return volumes, mounts

    def job_manifest(self, spec: JobSpec) -> dict[str, Any]:
        """The Job the runner creates for ``spec`` (a dict, as sent to the API)."""
        labels = {**spec.labels, **MANAGED_BY, LABEL: spec.job_id}
        quantities: dict[str, str] = {}
        if spec.cpu_millicores:
            quantities["cpu"] = f"{int(spec.cpu_millicores)}m"
        if spec.memory_mib:
            quantities["memory"] = f"{int(spec.memory_mib)}Mi"
        limits = dict(quantities)
        if spec.gpus:
            limits["nvidia.com/gpu"] = str(int(spec.gpus))
        resources: dict[str, Any] = {}
        if limits:
            resources["limits"] = limits
        if quantities:
            resources["requests"] = quantities
        volumes, volume_mounts = self._volumes(spec)
        container: dict[str, Any] = {
            "name": CONTAINER, "image": spec.image, "imagePullPolicy": self.image_pull_policy,
            "command": spec.argv[:1], "args": spec.argv[1:], "workingDir": spec.cwd or OUTGOING,
            "env": [{"name": k, "value": v} for k, v in spec.env.items()],
            "resources": resources, "volumeMounts": volume_mounts,
            "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True},
        }
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "hostNetwork": False, "hostPID": False, "hostIPC": False,
            "terminationGracePeriodSeconds": self.stop_grace,
            "securityContext": {"runAsNonRoot": True, "runAsUser": self.uid, "runAsGroup": self.gid,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": volumes,
        }
        if self.node_selector:
            pod_spec["nodeSelector"] = dict(self.node_selector)
        job_spec: dict[str, Any] = {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": self.ttl_after_finished,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        }
        if spec.time_limit_s:
            job_spec["activeDeadlineSeconds"] = math.ceil(spec.time_limit_s + self.time_margin)
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": spec.job_id, "namespace": self.namespace, "labels": labels},
                "spec": job_spec}

    # -- jobs ------------------------------------------------------------------------------------
    def _ensure_policy(self) -> None:
        if self._policy_ready or not self.network_policy:
            return
        read = self._net.read_namespaced_network_policy
        if self._call(read, self.network_policy_name, self.namespace) is None:
            try:
                self._call(self._net.create_namespaced_network_policy, self.namespace,
                           self.network_policy_manifest())
            except self._exc as e:
                if e.status != 409:  # created meanwhile by another backend
                    raise RunnerError(f"cannot create the jobs' NetworkPolicy: {self._reason(e)}") from None
        self._policy_ready = True

    def submit(self, spec: JobSpec) -> str:
        if not spec.image:
            raise RunnerError("this plugin was registered without an image (for the local runner only); "
                              "register it from an image to run it on Kubernetes")
        body = self.job_manifest(spec)
        create = self._batch.create_namespaced_job
        try:
            self._ensure_policy()
            try:
                self._call(create, self.namespace, body)
            except self._exc as e:
                if e.status != 409:
                    raise
                self.cleanup(spec.job_id)  # left over from a submit cut short by a restart
                self._call(create, self.namespace, body)
        except self._exc as e:
            raise RunnerError(f"Kubernetes could not start the job: {self._reason(e)}") from None
        except OSError as e:  # urllib3's connection errors are OSErrors
            raise RunnerError(f"the Kubernetes API server does not answer: {e}") from None
        return spec.job_id

    def status(self, job_id: str) -> JobStatus:
        job = self._job(job_id)
        if job is None:
            return JobStatus("missing", error="the Kubernetes job is gone")
        pod = self._pod(job_id)
        pod_st = (pod or {}).get("status") or {}
        cstates = pod_st.get("containerStatuses") or []
        cstate = (cstates[0].get("state") or {}) if cstates else {}
        term = cstate.get("terminated")
        ended = next((c for c in (job.get("status") or {}).get("conditions") or []
                      if c.get("type") in ("Failed", "Complete") and c.get("status") == "True"), None)
        code = term.get("exitCode") if term else None
        if ended is not None and ended["type"] == "Failed" and ended.get("reason") != "BackoffLimitExceeded":
            # the cluster ended it (its deadline, a deleted pod), not the plugin's own exit
            why = f"{ended.get('reason', '')}: {ended.get('message', '')}".strip(": ")
            return JobStatus("exited", code, error=f"the Kubernetes job failed: {why}")
        if term is not None and pod_st.get("phase") in ("Succeeded", "Failed"):
            return JobStatus("exited", code, oom_killed=term.get("reason") == "OOMKilled")
        if ended is not None:  # ended, its pod already gone (the TTL, a node lost)
            return JobStatus("exited", 0 if ended["type"] == "Complete" else code)
        waiting = cstate.get("waiting") or {}
        if waiting.get("reason") in _STUCK:
            return JobStatus("exited", None, error=f"the pod cannot start: {waiting['reason']}: "
                             f"{waiting.get('message', '')}".rstrip(": "))
        unscheduled = next((c for c in pod_st.get("conditions") or [] if c.get("type") == "PodScheduled"
                            and c.get("status") == "False" and c.get("reason") == "Unschedulable"), None)
        if unscheduled is not None:  # e.g. a GPU or more memory than any node has: it would wait for ever
            return JobStatus("exited", None, error=f"Kubernetes cannot place the job: {unscheduled.get('message', '')}")
        return JobStatus("running")

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        return poll_until_done(self, job_id, timeout, self.poll_interval)

    def logs(self, job_id: str) -> str:
        pod = self._pod(job_id)
        text = ""
        if pod is not None:
            try:
                text = self._call(self._core.read_namespaced_pod_log, pod["metadata"]["name"], self.namespace,
                                  container=CONTAINER) or ""
            except self._exc:  # not started yet, or being deleted
                text = ""
        with self._lock:
            kept = self._kept_logs.get(job_id, "")
        return text if len(text) >= len(kept) else kept

    def _delete(self, job_id: str) -> None:
        """Delete the Job and (Background propagation) its pods; wait until the pods are gone."""
        with contextlib.suppress(self._exc):
            self._call(self._batch.delete_namespaced_job, job_id, self.namespace,
                       propagation_policy="Background")
        deadline = time.monotonic() + self.stop_grace + 15
        while self._pods(job_id) and time.monotonic() < deadline:
            time.sleep(self.poll_interval)

    def cancel(self, job_id: str) -> None:
        """Stop the job: its pod gets SIGTERM, SIGKILL after ``stop_grace``. What it logged so far
        is kept here until :meth:`cleanup` (a deleted pod's logs are gone)."""
        if self.status(job_id).state != "running":
            return
        text = self.logs(job_id)
        with self._lock:
            self._kept_logs[job_id] = text
        self._delete(job_id)

    def cleanup(self, job_id: str) -> None:
        self._delete(job_id)
        with self._lock:
            self._kept_logs.pop(job_id, None)

    def close(self) -> None:
        self.api_client.close()
