"""The Kubernetes runner's manifests (validated offline against the Kubernetes schema) and what
the behaviour suite does not reach, against the FAKE API server of tests/compute/fake_k8s.py
(no real cluster runs here): the library from a PersistentVolumeClaim, a GPU job no node can
take, the ``kubernetes`` kind of compute resource. The behaviour suite itself runs the runner as
engine ``k8s-fake`` (test_coordinator_docker.py)."""

from __future__ import annotations

import time
from pathlib import Path

import kubernetes_validate
import pytest

from chris_jupyter.compute.runners.base import JobSpec, Mount, RunnerError
from chris_jupyter.compute.runners.docker import INCOMING, LABEL, OUTGOING

from .fake_k8s import K8S_VERSION

pytestmark = pytest.mark.docker


def _offline_runner(**settings):
    """A runner whose client points nowhere: only its manifests are used."""
    from kubernetes import client

    from chris_jupyter.compute.runners.kubernetes import KubernetesRunner

    cfg = client.Configuration()
    cfg.host = "http://127.0.0.1:9"
    return KubernetesRunner(api_client=client.ApiClient(cfg), **settings)


def _spec(tmp_path: Path, **kw) -> JobSpec:
    lib = tmp_path / "lib"
    (lib / "in").mkdir(parents=True, exist_ok=True)
    (lib / "out").mkdir(exist_ok=True)
    (lib / "in" / "p.txt").write_text("p")
    mounts = (Mount(lib / "out", OUTGOING, read_only=False), Mount(lib / "in", INCOMING),
              Mount(lib / "in" / "p.txt", "/share/paths/0/p.txt"))
    return JobSpec(job_id="cj-7-0a1b2c3d", argv=["echo", "a b", "--flag"], output_dir=lib / "out",
                   image="example/pl-x:1", mounts=mounts, env={"CHRIS_JID": "cj-7-0a1b2c3d"},
                   labels={"chris_jupyter.instance": "7"}, **kw)


def test_k8s_manifests_validate_offline_against_the_kubernetes_schema(tmp_path) -> None:
    """Every shape of manifest the runner writes passes kubernetes-validate (strict: no unknown
    field) for the schema version shipped in its wheel; no network is used."""
    lib = str(tmp_path / "lib")
    variants = [
        ({}, {}),
        ({}, {"cpu_millicores": 500, "memory_mib": 64, "gpus": 2, "time_limit_s": 2.5}),
        ({"node_library_path": "/mnt/chris", "library_path": lib, "node_selector": {"chris": "compute"}},
         {"memory_mib": 128}),
        ({"library_volume": "pvc", "library_claim": "chris-library", "library_path": lib}, {"gpus": 1}),
    ]
    manifests = []
    for settings, limits in variants:
        runner = _offline_runner(**settings)
        manifests.append(runner.job_manifest(_spec(tmp_path, **limits)))
    manifests.append(runner.network_policy_manifest())
    for m in manifests:
        kubernetes_validate.validate(m, K8S_VERSION, strict=True)  # raises on any schema error

    plain, limited, on_nodes, pvc, policy = manifests
    pod = limited["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert limited["spec"]["backoffLimit"] == 0 and limited["spec"]["ttlSecondsAfterFinished"] == 86400
    assert limited["spec"]["activeDeadlineSeconds"] == 63  # the time limit + the 60 s margin, rounded up
    assert "activeDeadlineSeconds" not in plain["spec"]
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "64Mi", "nvidia.com/gpu": "2"}}
    assert plain["spec"]["template"]["spec"]["containers"][0]["resources"] == {}
    assert (c["command"], c["args"], c["workingDir"]) == (["echo"], ["a b", "--flag"], OUTGOING)
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (1000, 1000)
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["restartPolicy"] == "Never"
    assert pod["volumes"][0]["hostPath"] == {"path": f"{lib}/out", "type": "Directory"}
    assert pod["volumes"][2]["hostPath"] == {"path": f"{lib}/in/p.txt", "type": "File"}
    assert [(v["mountPath"], v["readOnly"]) for v in c["volumeMounts"]] == [
        (OUTGOING, False), (INCOMING, True), ("/share/paths/0/p.txt", True)]
    assert on_nodes["spec"]["template"]["spec"]["volumes"][1]["hostPath"]["path"] == "/mnt/chris/in"
    assert on_nodes["spec"]["template"]["spec"]["nodeSelector"] == {"chris": "compute"}
    assert pvc["spec"]["template"]["spec"]["volumes"] == [
        {"name": "library", "persistentVolumeClaim": {"claimName": "chris-library"}}]
    assert [(v["subPath"], v["readOnly"]) for v in pvc["spec"]["template"]["spec"]["containers"][0]
            ["volumeMounts"]] == [("out", False), ("in", True), ("in/p.txt", True)]
    assert limited["spec"]["template"]["metadata"]["labels"][LABEL] == "cj-7-0a1b2c3d"
    assert policy["spec"] == {"podSelector": {"matchExpressions": [{"key": LABEL, "operator": "Exists"}]},
                              "policyTypes": ["Ingress", "Egress"]}


def test_k8s_bad_settings_are_clear_errors(tmp_path) -> None:
    from traitlets import TraitError

    from chris_jupyter.compute.runners.kubernetes import KubernetesRunner

    with pytest.raises(RunnerError, match="library_volume 'pvc' needs library_claim and library_path"):
        _offline_runner(library_volume="pvc")
    with pytest.raises(TraitError):
        _offline_runner(library_volume="nfs")
    with pytest.raises(RunnerError, match="cannot configure the Kubernetes client"):
        KubernetesRunner(kubeconfig=str(tmp_path / "no-such-kubeconfig"))
    outside = _offline_runner(library_volume="pvc", library_claim="c", library_path=str(tmp_path / "elsewhere"))
    with pytest.raises(RunnerError, match="is not in the library folder"):
        outside.job_manifest(_spec(tmp_path))


def test_k8s_fake_api_pvc_library_and_unschedulable_gpu(fake_k8s, plugin_image, dclient) -> None:
    """With the fake API server: a job sees the library as sub-paths of a claim (the fake's claim
    is a host folder), writes its output there; a GPU job no node can take is an error, not a
    job pending for ever; nothing is left behind."""
    from chris_jupyter.compute.runners.kubernetes import KubernetesRunner

    claim = fake_k8s.claims["library-claim"]
    runner = KubernetesRunner(kubeconfig=str(fake_k8s.kubeconfig_path), library_volume="pvc",
                              library_claim="library-claim", library_path=str(claim), image_pull_policy="Never",
                              stop_grace=1, poll_interval=0.2)
    (claim / "feed" / "in").mkdir(parents=True, exist_ok=True)
    (claim / "feed" / "in" / "a.txt").write_text("from the claim")
    runner.prepare_output(claim / "feed" / "out")
    image = plugin_image("pl-testbox")
    mounts = (Mount(claim / "feed" / "out", OUTGOING, read_only=False), Mount(claim / "feed" / "in", INCOMING))
    job = JobSpec(job_id="cj-1-pvc0", image=image, output_dir=claim / "feed" / "out", mounts=mounts,
                  argv=["sh", "-c", f"cat {INCOMING}/a.txt > {OUTGOING}/b.txt; id -u; touch {INCOMING}/x || true"])
    gpu = JobSpec(job_id="cj-2-gpu0", image=image, output_dir=claim / "feed" / "out", mounts=mounts,
                  argv=["true"], gpus=1)
    try:
        runner.submit(job)
        runner.submit(gpu)
        done = runner.wait(job.job_id, timeout=60)
        assert (done.state, done.exit_code, done.oom_killed) == ("exited", 0, False), runner.logs(job.job_id)
        assert (claim / "feed" / "out" / "b.txt").read_text() == "from the claim"
        # one stream of stdout and stderr whose lines may interleave either way: not the first line
        lines = runner.logs(job.job_id).splitlines()
        assert "1000" in lines and any("Read-only file system" in ln for ln in lines), lines
        assert not (claim / "feed" / "in" / "x").exists()  # the input sub-path is read-only
        stuck = runner.wait(gpu.job_id, timeout=30)
        assert stuck.state == "exited" and stuck.exit_code is None
        assert stuck.error == "Kubernetes cannot place the job: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    finally:
        for j in (job, gpu):
            runner.cleanup(j.job_id)
    assert runner.status(job.job_id).state == "missing"
    deadline = time.monotonic() + 15
    while dclient.containers.list(all=True, filters={"label": f"{LABEL}=cj-1-pvc0"}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dclient.containers.list(all=True, filters={"label": f"{LABEL}=cj-1-pvc0"}) == []


def test_k8s_fake_api_is_a_kind_of_compute_resource(fake_k8s, tmp_path) -> None:
    """An administrator adds a ``kubernetes`` compute resource; its settings reach the runner."""
    from chris_jupyter.backend import Backend, Settings

    b = Backend(Settings(data_root=tmp_path / "data", db_url=f"sqlite:///{tmp_path}/c.db", runner="local",
                         start_services=True, unsafe_unconfined_jobs_for_all_users=True))
    try:
        admin = b.principal("admin", is_admin=True)
        added = b.compute.add_compute_resource(admin, "cluster", "kubernetes",
                                               {"kubeconfig": str(fake_k8s.kubeconfig_path), "namespace": "chris"})
        assert added["kind"] == "kubernetes"
        runner = b.compute.resources.runner("cluster")
        assert (type(runner).__name__, runner.namespace) == ("KubernetesRunner", "chris")
    finally:
        b.close()
