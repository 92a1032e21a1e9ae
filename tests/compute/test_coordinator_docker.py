"""The coordinator with the container runners: a real engine and images built offline.

The behaviour suite (states, isolation, cancel, timeout, OOM, logs, reconcile after restart) runs
on each ``engine`` (tests/compute/conftest.py): Docker, a one-node Docker Swarm and a one-node
SLURM cluster whose jobs run the plugin's container on the same engine, and the Kubernetes runner
against a FAKE API server (``k8s-fake``, tests/compute/fake_k8s.py) whose pods run on that engine.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.compute.coordinator import Coordinator
from chris_jupyter.compute.runners.docker import LABEL
from chris_jupyter.plugins.registry import PluginRegistry

from .helpers import Events, can_read

pytestmark = pytest.mark.docker
NASTY = "a; rm -rf / && $(touch /tmp/pwned) `id` | cat > x 'q' \"dq\" * ~ -- end"


def explain(c, iid):
    i = c.get(iid)
    return f"{i.state}: {i.error}\n{i.logs}"


def the_container(dclient, c, iid, wait=60.0):
    """The one container of a started instance's job (a swarm task or a SLURM job may still be
    on its way to it)."""
    deadline = time.monotonic() + wait
    while True:
        found = leftovers(dclient, c, iid, wait=0)
        if found and found[0].status == "running" or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def leftovers(dclient, c, iid, wait=15.0):
    """Containers of the instance's job still there ``wait`` s after (cleanup follows the end)."""
    job = c.get(iid).runner_job_id
    deadline = time.monotonic() + wait
    while True:
        found = dclient.containers.list(all=True, filters={"label": f"{LABEL}={job}"}, ignore_removed=True)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture
def dfeed(make_coordinator, engine_runner, docker_plugins, data_root):
    (data_root / "home/alice/uploads/scan").mkdir()
    (data_root / "home/alice/uploads/scan/a.txt").write_text("a")
    c = make_coordinator(engine_runner, default_timeout=120)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/scan"})
    assert c.wait_for(root, timeout=120) == st.SUCCESS, explain(c, root)
    return c, root


def test_docker_chain_isolation_and_cleanup(dfeed, data_root, dclient, registrar, engine):
    c, root = dfeed
    r = c.get(root)
    assert r.output_files == [f"{r.output_path}/scan/a.txt"]
    assert os.stat(data_root / r.output_path).st_uid == 1000
    iid = c.run_plugin("alice", "pl-testbox", {"text": NASTY, "mode": "sleep", "seconds": 2},
                       previous_id=root, resources={"memory_limit": "64Mi", "cpu_limit": "500m"})
    assert c.wait_for(iid, frozenset({st.STARTED}), timeout=60) == st.STARTED
    (container,) = the_container(dclient, c, iid)
    deadline = time.monotonic() + 30
    while "testbox mode=sleep" not in c.logs(iid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "testbox mode=sleep" in c.logs(iid)  # live, from the running container
    host = container.attrs["HostConfig"]
    if engine == "swarm":  # swarm services cannot use "none": an internal network, no traffic between jobs
        (net,) = container.attrs["NetworkSettings"]["Networks"]
        attrs = dclient.networks.get(net).attrs
        assert attrs["Internal"] is True
        assert attrs["Options"]["com.docker.network.bridge.enable_icc"] == "false"
        # swarm cannot set a swap limit: the engine allows as much swap as memory (no swap here)
        assert host["MemorySwap"] in (host["Memory"], 2 * host["Memory"])
    else:
        assert host["NetworkMode"] == "none"
        assert host["MemorySwap"] == host["Memory"]
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert container.attrs["Config"]["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert set(mounts) == {"/share/incoming", "/share/outgoing"}
    assert mounts["/share/incoming"]["RW"] is False and mounts["/share/outgoing"]["RW"] is True
    assert mounts["/share/incoming"]["Source"] == str(data_root / r.output_path)  # zero copy
    assert not any("docker.sock" in m["Source"] for m in mounts.values())
    assert c.wait_for(iid, timeout=60) == st.SUCCESS, explain(c, iid)
    rec = json.loads((data_root / c.get(iid).output_path / "record.json").read_text())
    assert rec["text"] == NASTY and rec["uid"] == 1000 and rec["input_writable"] is False
    assert rec["inputs"] == ["scan", "scan/a.txt"]
    assert rec["argv"][-2:] == ["/share/incoming", "/share/outgoing"]
    assert rec["env"]["CHRIS_PLG_INST_ID"] == str(iid)
    assert leftovers(dclient, c, iid) == []  # removed after use
    assert "testbox mode=sleep" in c.get(iid).logs
    assert registrar.twice() == []


def test_docker_oom_is_a_clear_error(dfeed):
    c, root = dfeed
    iid = c.run_plugin("alice", "pl-testbox", {"mode": "hog", "mb": 200}, previous_id=root,
                       resources={"memory_limit": "32Mi"})
    assert c.wait_for(iid, timeout=120) == st.ERROR, explain(c, iid)
    i = c.get(iid)
    assert i.exit_code == 137
    assert i.error.startswith("out of memory: the job used more than its memory limit of 32 MiB")


def test_docker_nonzero_exit_and_missing_image(dfeed, cdb, dclient, engine):
    c, root = dfeed
    bad = c.run_plugin("alice", "pl-testbox", {"mode": "fail"}, previous_id=root)
    assert c.wait_for(bad, timeout=60) == st.ERROR
    if engine == "k8s-fake":  # a pod's log is one stream: the message quotes its last line
        assert c.get(bad).error.startswith("the plugin exited with code 3: ")
        assert "something went wrong on purpose" in c.get(bad).logs
    else:
        assert c.get(bad).error == "the plugin exited with code 3: something went wrong on purpose"
    desc = PluginRegistry(cdb).get("pl-testbox").descriptor
    ghost = {**desc, "name": "pl-ghost", "dock_image": "chris-jupyter-test/no-such-image:0"}
    PluginRegistry(cdb).register(ghost)
    g = c.run_plugin("alice", "pl-ghost", {}, previous_id=root)
    assert c.wait_for(g, timeout=60) == st.ERROR
    if engine == "k8s-fake":  # the image is the cluster's business: the pod cannot start
        assert c.get(g).error.startswith("the pod cannot start: ErrImageNeverPull: ")
    else:
        assert "is not on this Docker engine (images are never pulled" in c.get(g).error
    with pytest.raises(Exception, match="never pulled"):
        PluginRegistry(cdb).register_image("chris-jupyter-test/no-such-image:0", client=dclient)


def test_docker_timeout_and_cancel_remove_the_container(dfeed, dclient):
    c, root = dfeed
    slow = c.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 120},
                        previous_id=root, timeout=2)
    assert c.wait_for(slow, timeout=60) == st.CANCELLED
    assert c.get(slow).error == "timed out after 2 s; the job was stopped"
    other = c.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 120}, previous_id=root)
    child = c.run_plugin("alice", "pl-noop", {}, previous_id=other)
    assert c.wait_for(other, frozenset({st.STARTED}), timeout=60) == st.STARTED
    assert sorted(c.cancel(other)) == sorted([other, child])
    assert leftovers(dclient, c, other) == [] and leftovers(dclient, c, slow) == []


def test_docker_reconcile(dfeed, cdb, data_root, registrar, dclient, engine_runner, make_engine_runner):
    old, root = dfeed
    running = old.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 8}, previous_id=root)
    quick = old.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 0.5}, previous_id=root)
    after = old.run_plugin("alice", "pl-noop", {"touch": True}, previous_id=quick)
    for iid in (running, quick):
        assert old.wait_for(iid, frozenset({st.STARTED}), timeout=60) == st.STARTED
    old.stop()
    # quick's container really exits while no coordinator watches; running's still runs
    assert engine_runner.wait(old.get(quick).runner_job_id, timeout=60).state == "exited"
    assert engine_runner.status(old.get(running).runner_job_id).state == "running"
    assert old.get(quick).state == st.STARTED
    calls = len(registrar.calls)
    restarted_at = time.time()
    new = Coordinator(cdb, data_root, make_engine_runner(), publish=Events(),
                      register_outputs=registrar, can_read=can_read)
    new.start()
    try:
        for iid in (quick, after, running):
            assert new.wait_for(iid, timeout=90) == st.SUCCESS, explain(new, iid)

        def ended(iid):  # the plugin's own record of when it ended
            return json.loads((data_root / new.get(iid).output_path / "ended.json").read_text())["ended"]

        assert ended(quick) < restarted_at < ended(running)
        assert len(registrar.calls) == calls + 3 and registrar.twice() == []
        assert leftovers(dclient, new, running) == [] and leftovers(dclient, new, quick) == []
    finally:
        new.stop()


def test_docker_fanout_and_ts(dfeed, data_root):
    c, root = dfeed
    kids = [c.run_plugin("alice", "pl-noop", {"touch": True}, previous_id=root) for _ in range(6)]
    ts = c.run_plugin("alice", "pl-tsbox", {"plugininstances": ",".join(map(str, kids[:3]))})
    done = threading.Event()
    for k in [*kids, ts]:
        assert c.wait_for(k, timeout=120) == st.SUCCESS, explain(c, k)
    done.set()
    joined = json.loads((data_root / c.get(ts).output_path / "joined.json").read_text())
    assert joined["files"] == sorted(f"pl-noop_{k}/noop.txt" for k in kids[:3])  # as pl-tsbox sorts


def test_docker_gpu_request_reaches_the_engine(dfeed, cdb, docker_runner):
    """A GPU request becomes a device request on the container, whether or not this engine has
    a GPU runtime; on a GPU-less engine the job then fails clearly. (Docker only: see conftest.)"""
    c, root = dfeed
    desc = PluginRegistry(cdb).get("pl-testbox").descriptor
    PluginRegistry(cdb).register({**desc, "name": "pl-gpubox", "max_gpu_limit": 1})
    iid = c.run_plugin("alice", "pl-gpubox", {}, previous_id=root, resources={"gpu_limit": 1})
    assert c.get(iid).resources["gpu_limit"] == 1
    state = c.wait_for(iid, timeout=60)
    host = docker_runner.created[c.get(iid).runner_job_id]  # as the engine recorded it
    asked = [(r["Count"], r["Capabilities"]) for r in host.get("DeviceRequests") or []]
    assert asked == [(1, [["gpu"]])], host.get("DeviceRequests")
    # a job that asked for no GPU gets no device request
    plain = c.run_plugin("alice", "pl-testbox", {}, previous_id=root)
    assert c.wait_for(plain, timeout=60) == st.SUCCESS, explain(c, plain)
    assert not docker_runner.created[c.get(plain).runner_job_id].get("DeviceRequests")
    if state == st.SUCCESS:  # an engine with a GPU runtime
        return
    assert state == st.ERROR
    assert c.get(iid).error.startswith("could not start: Docker could not start the job:")
    assert "gpu" in c.get(iid).error.lower()
