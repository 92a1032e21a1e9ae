"""A FAKE Kubernetes API server for the Kubernetes runner's tests (no real cluster runs here).

It implements only what :class:`~chris_jupyter.compute.runners.kubernetes.KubernetesRunner`
calls, over plain HTTP on loopback, answering the official ``kubernetes`` client:

- ``batch/v1`` Jobs: create (every body validated against the Kubernetes schema offline with
  ``kubernetes-validate``, strict: an invalid manifest is a 422 as from a real server), get,
  list, delete (``propagationPolicy`` as the API has it: the default *orphans* a Job's pods;
  ``Background``/``Foreground`` delete them, SIGTERM then SIGKILL after their grace period);
- pods: list by label selector (equality and existence), logs;
- ``networking.k8s.io/v1`` NetworkPolicies: create, get.

Each Job's one pod runs as a container on the local Docker engine, so the plugin really runs with
its mounts: the image, command and args, working dir, env, the user of ``runAsUser`` /
``runAsGroup``, dropped capabilities, no-new-privileges from ``allowPrivilegeEscalation: false``,
memory (no swap, as kubelets run) and CPU limits, ``hostPath`` volumes and PVC sub-paths (a claim
is a host folder given to the fake) with their ``readOnly``. A pod selected by a NetworkPolicy
that denies all ingress and egress runs with no network (what an enforcing network plugin
gives); others get Docker's default bridge. Pod and Job status come from the container
(``OOMKilled`` from the engine), ``activeDeadlineSeconds`` and ``ttlSecondsAfterFinished`` are
enforced when an object is read. The fake has no node with ``nvidia.com/gpu``: such a pod stays
Pending, Unschedulable. Images are never pulled (``ErrImageNeverPull`` / ``ErrImagePull``).

What it does not emulate: scheduling, nodes, quotas, admission (PodSecurity), retries
(``backoffLimit`` is always 0 here), watches, authentication.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate

MARK = "chris_jupyter.fake_k8s"
K8S_VERSION = "1.35"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bytes(q: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for u, f in units.items():
        if q.endswith(u):
            return int(float(q[: -len(u)]) * f)
    return int(q)


def _nano_cpus(q: str) -> int:
    return int(q[:-1]) * 1_000_000 if q.endswith("m") else int(float(q) * 1e9)


def _matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, selector.split(",")):
        if "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v.lstrip("="):
                return False
        elif term not in labels:
            return False
    return True


def _selects(policy_selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (policy_selector.get("matchLabels") or {}).items()):
        return False
    for e in policy_selector.get("matchExpressions") or []:
        if e["operator"] == "Exists" and e["key"] not in labels:
            return False
        if e["operator"] == "In" and labels.get(e["key"]) not in e.get("values", []):
            return False
    return True


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


class FakeKubernetes:
    """The fake API server; ``start()`` returns its URL, ``kubeconfig(path)`` a config for it."""

    def __init__(self, docker_client: Any, claims: dict[str, Path] | None = None) -> None:
        self.docker = docker_client
        self.claims = dict(claims or {})
        self.created: list[dict[str, Any]] = []  # every manifest accepted, for the tests
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                try:
                    ctype, out = fake.route(method, url.path, query, body)
                    code = 201 if method == "POST" else 200
                except ApiError as e:
                    ctype, code = "application/json", e.code
                    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": e.message, "reason": e.reason, "code": e.code}
                data = out.encode() if isinstance(out, str) else json.dumps(out).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="fake-k8s", daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        for c in self.docker.containers.list(all=True, filters={"label": MARK}, ignore_removed=True):
            with contextlib.suppress(Exception):
                c.remove(force=True)

    # -- routing -----------------------------------------------------------------------------
    ROUTES = [
        ("POST", r"/apis/batch/v1/namespaces/([^/]+)/jobs", "create_job"),
        ("GET", r"/apis/batch/v1/namespaces/([^/]+)/jobs", "list_jobs"),
        ("GET", r"/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)", "get_job"),
        ("DELETE", r"/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)", "delete_job"),
        ("GET", r"/api/v1/namespaces/([^/]+)/pods", "list_pods"),
        ("GET", r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log", "pod_log"),
        ("POST", r"/apis/networking.k8s.io/v1/namespaces/([^/]+)/networkpolicies", "create_policy"),
        ("GET", r"/apis/networking.k8s.io/v1/namespaces/([^/]+)/networkpolicies/([^/]+)", "get_policy"),
    ]

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[str, Any]:
        for m, pattern, name in self.ROUTES:
            hit = re.fullmatch(pattern, path)
            if m == method and hit:
                with self.lock:
                    out = getattr(self, name)(*hit.groups(), query=query, body=body)
                return ("text/plain" if isinstance(out, str) else "application/json"), out
        raise ApiError(404, "NotFound", f"the fake API server does not serve {method} {path}")

    def _validate(self, body: Any) -> None:
        try:
            kubernetes_validate.validate(body, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            raise ApiError(422, "Invalid", f"invalid {body.get('kind')}: {e.message}") from None

    # -- network policies --------------------------------------------------------------------
    def create_policy(self, ns: str, *, query: dict, body: dict) -> dict:
        self._validate(body)
        name = body["metadata"]["name"]
        if (ns, name) in self.policies:
            raise ApiError(409, "AlreadyExists", f'networkpolicies "{name}" already exists')
        self.created.append(body)
        self.policies[(ns, name)] = body
        return body

    def get_policy(self, ns: str, name: str, *, query: dict, body: Any) -> dict:
        if (ns, name) not in self.policies:
            raise ApiError(404, "NotFound", f'networkpolicies "{name}" not found')
        return self.policies[(ns, name)]

    def _isolated(self, ns: str, labels: dict[str, str]) -> bool:
        """A policy that selects the pod and allows neither ingress nor egress."""
        for (pns, _), p in self.policies.items():
            spec = p["spec"]
            if (pns == ns and _selects(spec.get("podSelector") or {}, labels)
                    and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
                    and not spec.get("ingress") and not spec.get("egress")):
                return True
        return False

    # -- jobs --------------------------------------------------------------------------------
    def create_job(self, ns: str, *, query: dict, body: dict) -> dict:
        self._validate(body)
        name = body["metadata"]["name"]
        if (ns, name) in self.jobs:
            raise ApiError(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        if body["metadata"].get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the request")
        self.created.append(body)
        job = {"manifest": body, "uid": str(uuid.uuid4()), "created": _now(), "t0": time.time(),
               "ended": None, "deadline": False}
        self.jobs[(ns, name)] = job
        self._start_pod(ns, name, job)
        return self._job_json(ns, name)

    def _start_pod(self, ns: str, job_name: str, job: dict) -> None:
        tmpl = job["manifest"]["spec"]["template"]
        labels = {**(tmpl.get("metadata", {}).get("labels") or {}), "job-name": job_name,
                  "batch.kubernetes.io/job-name": job_name, "controller-uid": job["uid"]}
        pod_name = f"{job_name}-{secrets.token_hex(3)[:5]}"
        pod = {"name": pod_name, "job": job_name, "labels": labels, "created": _now(), "container": None,
               "waiting": None, "unschedulable": None, "deleting": False,
               "grace": tmpl["spec"].get("terminationGracePeriodSeconds", 30)}
        self.pods[(ns, pod_name)] = pod
        spec = tmpl["spec"]
        (c,) = spec["containers"]
        limits = (c.get("resources") or {}).get("limits") or {}
        if "nvidia.com/gpu" in limits:
            pod["unschedulable"] = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
            return
        psc, csc = spec.get("securityContext") or {}, c.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        if (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")) and not uid:
            pod["waiting"] = ("CreateContainerConfigError", "container has runAsNonRoot and image will run as root")
            return
        import docker

        try:
            self.docker.images.get(c["image"])
        except docker.errors.ImageNotFound:
            never = c.get("imagePullPolicy") == "Never"
            pod["waiting"] = (("ErrImageNeverPull", f'Container image "{c["image"]}" is not present with pull '
                               'policy of Never') if never else
                              ("ErrImagePull", f'failed to pull image "{c["image"]}": the fake API server never pulls'))
            return
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = []
        for vm in c.get("volumeMounts") or []:
            v = volumes[vm["name"]]
            if "hostPath" in v:
                source = v["hostPath"]["path"]
            else:
                claim = v["persistentVolumeClaim"]["claimName"]
                if claim not in self.claims:
                    pod["unschedulable"] = f'persistentvolumeclaim "{claim}" not found'
                    return
                source = str(self.claims[claim] / vm.get("subPath", ""))
            mounts.append(docker.types.Mount(vm["mountPath"], source, type="bind",
                                             read_only=bool(vm.get("readOnly"))))
        kwargs: dict[str, Any] = {}
        if "memory" in limits:
            kwargs["mem_limit"] = kwargs["memswap_limit"] = _bytes(limits["memory"])
        if "cpu" in limits:
            kwargs["nano_cpus"] = _nano_cpus(limits["cpu"])
        if uid is not None:
            kwargs["user"] = f"{uid}:{gid}" if gid is not None else str(uid)
        if csc.get("allowPrivilegeEscalation") is False:
            kwargs["security_opt"] = ["no-new-privileges"]
        caps = csc.get("capabilities") or {}
        container = self.docker.containers.create(
            c["image"], entrypoint=c.get("command"), command=c.get("args"), name=f"k8s-fake-{pod_name}",
            working_dir=c.get("workingDir"), environment={e["name"]: e.get("value", "") for e in c.get("env") or []},
            labels={**labels, MARK: "1"}, mounts=mounts, cap_drop=caps.get("drop"), cap_add=caps.get("add"),
            network_mode="none" if self._isolated(ns, labels) else "bridge", detach=True, **kwargs)
        pod["container"] = container.id
        container.start()

    def _container(self, pod: dict) -> Any:
        if not pod["container"]:
            return None
        try:
            return self.docker.containers.get(pod["container"])
        except Exception:
            return None

    def _pod_status(self, pod: dict) -> dict[str, Any]:
        if pod["unschedulable"]:
            return {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                    "reason": "Unschedulable", "message": pod["unschedulable"]}]}
        if pod["waiting"]:
            reason, message = pod["waiting"]
            return {"phase": "Pending", "containerStatuses": [{"name": "plugin", "ready": False, "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": message}}}]}
        c = self._container(pod)
        if c is None:
            return {"phase": "Failed", "reason": "Deleted"}
        state = c.attrs["State"]
        if state["Status"] in ("created", "running", "restarting", "paused"):
            cs = {"running": {"startedAt": state.get("StartedAt")}} if state["Status"] == "running" else \
                {"waiting": {"reason": "ContainerCreating"}}
            return {"phase": "Running" if "running" in cs else "Pending",
                    "containerStatuses": [{"name": "plugin", "ready": "running" in cs, "restartCount": 0,
                                           "state": cs}]}
        code = state.get("ExitCode")
        reason = "OOMKilled" if state.get("OOMKilled") else ("Completed" if code == 0 else "Error")
        return {"phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [{"name": "plugin", "ready": False, "restartCount": 0, "state": {
                    "terminated": {"exitCode": code, "reason": reason, "startedAt": state.get("StartedAt"),
                                   "finishedAt": state.get("FinishedAt")}}}]}

    def _pod_json(self, ns: str, pod: dict) -> dict[str, Any]:
        meta = {"name": pod["name"], "namespace": ns, "labels": pod["labels"], "creationTimestamp": pod["created"]}
        if pod["deleting"]:
            meta["deletionTimestamp"] = pod["deleting"]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": self._pod_status(pod)}

    def _job_pods(self, ns: str, name: str) -> list[dict]:
        return [p for (pns, _), p in self.pods.items() if pns == ns and p["job"] == name]

    def _job_json(self, ns: str, name: str) -> dict[str, Any]:
        job = self.jobs[(ns, name)]
        body = job["manifest"]
        status: dict[str, Any] = {"startTime": job["created"]}
        pods = [self._pod_status(p) for p in self._job_pods(ns, name)]
        phases = [p["phase"] for p in pods]
        spec = body["spec"]
        if job["ended"] is None:
            if "Succeeded" in phases:
                job["ended"] = (time.time(), "Complete", "", "")
            elif "Failed" in phases:
                job["ended"] = (time.time(), "Failed", "BackoffLimitExceeded",
                                "Job has reached the specified backoff limit")
            elif spec.get("activeDeadlineSeconds") and time.time() - job["t0"] > spec["activeDeadlineSeconds"]:
                job["ended"] = (time.time(), "Failed", "DeadlineExceeded",
                                "Job was active longer than specified deadline")
                for p in self._job_pods(ns, name):
                    self._delete_pod(ns, p)
        status["active"] = sum(ph in ("Pending", "Running") for ph in phases)
        status["succeeded"] = phases.count("Succeeded")
        status["failed"] = phases.count("Failed")
        if job["ended"] is not None:
            _, kind, reason, message = job["ended"]
            status["conditions"] = [{"type": kind, "status": "True", "reason": reason, "message": message,
                                     "lastTransitionTime": _now()}]
        return {**body, "metadata": {**body["metadata"], "namespace": ns, "uid": job["uid"],
                                     "creationTimestamp": job["created"]}, "status": status}

    def _expire(self, ns: str) -> None:
        """``ttlSecondsAfterFinished``: the cluster's garbage collection of finished Jobs."""
        for (jns, name), job in list(self.jobs.items()):
            ttl = job["manifest"]["spec"].get("ttlSecondsAfterFinished")
            if jns == ns and job["ended"] is not None and ttl is not None and time.time() > job["ended"][0] + ttl:
                self._delete_job(ns, name, "Background")

    def get_job(self, ns: str, name: str, *, query: dict, body: Any) -> dict:
        self._expire(ns)
        if (ns, name) not in self.jobs:
            raise ApiError(404, "NotFound", f'jobs.batch "{name}" not found')
        return self._job_json(ns, name)

    def list_jobs(self, ns: str, *, query: dict, body: Any) -> dict:
        self._expire(ns)
        sel = query.get("labelSelector", "")
        items = [self._job_json(ns, n) for (jns, n), j in list(self.jobs.items())
                 if jns == ns and _matches(sel, j["manifest"]["metadata"].get("labels") or {})]
        return {"apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": items}

    def delete_job(self, ns: str, name: str, *, query: dict, body: Any) -> dict:
        if (ns, name) not in self.jobs:
            raise ApiError(404, "NotFound", f'jobs.batch "{name}" not found')
        policy = query.get("propagationPolicy") or (body or {}).get("propagationPolicy") or "Orphan"
        self._delete_job(ns, name, policy)
        return {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": name, "kind": "jobs"}}

    def _delete_job(self, ns: str, name: str, policy: str) -> None:
        self.jobs.pop((ns, name))
        for p in self._job_pods(ns, name):
            if policy == "Orphan":  # the API's default for Jobs: the pod stays, without its owner
                p["job"] = ""
            else:
                self._delete_pod(ns, p)

    def _delete_pod(self, ns: str, pod: dict) -> None:
        if pod["deleting"]:
            return
        pod["deleting"] = _now()

        def kill() -> None:
            c = self._container(pod)
            if c is not None:
                with contextlib.suppress(Exception):
                    c.stop(timeout=pod["grace"])
                with contextlib.suppress(Exception):
                    c.remove(force=True)
            with self.lock:
                self.pods.pop((ns, pod["name"]), None)

        threading.Thread(target=kill, name=f"fake-k8s-delete-{pod['name']}", daemon=True).start()

    # -- pods --------------------------------------------------------------------------------
    def list_pods(self, ns: str, *, query: dict, body: Any) -> dict:
        sel = query.get("labelSelector", "")
        items = [self._pod_json(ns, p) for (pns, _), p in list(self.pods.items())
                 if pns == ns and _matches(sel, p["labels"])]
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def pod_log(self, ns: str, name: str, *, query: dict, body: Any) -> str:
        pod = self.pods.get((ns, name))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        c = self._container(pod)
        if c is None:
            raise ApiError(400, "BadRequest", f'container "plugin" in pod "{name}" is waiting to start')
        return c.logs(stdout=True, stderr=True).decode(errors="replace")
