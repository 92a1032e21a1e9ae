"""The coordinator with the local runner: real subprocesses, real files, a real DB."""

from __future__ import annotations

import json
import time

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.db.models.compute import PluginInstance
from chris_jupyter.plugins.cmdline import ParameterError
from chris_jupyter.plugins.registry import PluginNotFound

NASTY = "a; rm -rf / && $(touch /tmp/pwned) `id` | cat > x 'q' \"dq\" * ~ -- end"


def record(data_root, coord, iid):
    return json.loads((data_root / coord.get(iid).output_path / "record.json").read_text())


def explain(coord, iid):
    i = coord.get(iid)
    return f"{i.state}: {i.error}\n{i.logs}"


@pytest.fixture
def feed(make_coordinator, local_runner, local_plugins, data_root):
    (data_root / "home/alice/uploads/scan").mkdir()
    (data_root / "home/alice/uploads/scan/a.txt").write_text("a")
    (data_root / "home/alice/uploads/b.txt").write_text("b")
    c = make_coordinator(local_runner, default_timeout=120)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/scan,home/alice/uploads/b.txt"},
                        title="My feed")
    assert c.wait_for(root, timeout=60) == st.SUCCESS, explain(c, root)
    return c, root


def test_chain_layout_env_provenance_events(feed, data_root, registrar, events):
    c, root = feed
    r = c.get(root)
    assert r.output_path == f"home/alice/feeds/feed_{r.feed_id}/pl-dircopy_{root}/data"
    assert sorted(r.output_files) == [f"{r.output_path}/b.txt", f"{r.output_path}/scan/a.txt"]
    child = c.run_plugin("alice", "pl-testbox", {"text": "hi", "flag": True}, previous_id=root)
    grand = c.run_plugin("alice", "pl-testbox", {}, previous_id=child)
    assert c.wait_for(grand, timeout=60) == st.SUCCESS, explain(c, grand)
    g = c.get(grand)
    assert g.output_path == (f"home/alice/feeds/feed_{r.feed_id}/pl-dircopy_{root}/"
                             f"pl-testbox_{child}/pl-testbox_{grand}/data")
    rec = record(data_root, c, child)
    assert rec["flag"] is True and rec["text"] == "hi"
    assert rec["inputs"] == ["b.txt", "scan", "scan/a.txt"]
    assert rec["env"]["CHRIS_PLG_INST_ID"] == str(child)
    assert rec["env"]["CHRIS_PREV_PLG_INST_ID"] == str(root)
    assert rec["env"]["CHRIS_JID"] == c.get(child).runner_job_id
    assert not any("TOKEN" in k for k in rec["env"])
    prov = c.provenance(child)
    assert prov["argv"][-2:] == [str(data_root / r.output_path), str(data_root / c.get(child).output_path)]
    assert prov["params"] == {"text": "hi", "flag": True} and prov["exit_code"] == 0
    assert prov["resources"] == {"cpu_limit": 1000, "memory_limit": 200, "gpu_limit": 0,
                                 "number_of_workers": 1}
    assert prov["started_at"] <= prov["ended_at"]
    assert "testbox mode=ok" in c.logs(child)
    assert events.states(child) == [st.SCHEDULED, st.STARTED, st.REGISTERING, st.SUCCESS]
    assert events.states(grand) == [st.WAITING, st.SCHEDULED, st.STARTED, st.REGISTERING, st.SUCCESS]
    assert {p["owner"] for _, p in events.items} == {"alice"}
    assert registrar.twice() == [] and len(registrar.calls) == 3


def test_bad_requests_create_nothing(feed, cdb):
    c, root = feed
    with cdb.session() as s:
        before = s.query(PluginInstance).count()
    with pytest.raises(PluginNotFound):
        c.run_plugin("alice", "pl-nothing", {}, previous_id=root)
    with pytest.raises(PluginNotFound):
        c.run_plugin("alice", "pl-testbox@9.9", {}, previous_id=root)
    with pytest.raises(ParameterError, match="must be an integer"):
        c.run_plugin("alice", "pl-testbox", {"mb": "lots"}, previous_id=root)
    with pytest.raises(ParameterError, match="unknown parameter"):
        c.run_plugin("alice", "pl-testbox", {"colour": "red"}, previous_id=root)
    with pytest.raises(ParameterError, match="required"):
        c.run_plugin("alice", "pl-dircopy", {})
    with pytest.raises(ParameterError, match="may not read"):
        c.run_plugin("alice", "pl-dircopy", {"dir": "home/bob/uploads"})
    with pytest.raises(ParameterError, match="absolute"):
        c.run_plugin("alice", "pl-dircopy", {"dir": "/etc"})
    with pytest.raises(ParameterError, match="may read"):
        c.run_plugin("bob", "pl-testbox", {}, previous_id=root)  # bob may not read alice's feed
    with pytest.raises(ParameterError, match="needs a parent"):
        c.run_plugin("alice", "pl-testbox", {})
    with pytest.raises(ParameterError, match="memory_limit"):
        c.run_plugin("alice", "pl-testbox", {}, previous_id=root, resources={"memory_limit": "9Gi"})
    with cdb.session() as s:
        assert s.query(PluginInstance).count() == before


def test_shell_metacharacters_arrive_verbatim(feed, data_root, tmp_path):
    c, root = feed
    iid = c.run_plugin("alice", "pl-testbox", {"text": NASTY}, previous_id=root)
    assert c.wait_for(iid, timeout=60) == st.SUCCESS, explain(c, iid)
    rec = record(data_root, c, iid)
    assert rec["text"] == NASTY
    assert rec["argv"].count("--text") == 1 and NASTY in rec["argv"]


def test_failure_is_reported_and_cancels_descendants(feed):
    c, root = feed
    bad = c.run_plugin("alice", "pl-testbox", {"mode": "fail"}, previous_id=root)
    after = c.run_plugin("alice", "pl-testbox", {}, previous_id=bad)
    after2 = c.run_plugin("alice", "pl-noop", {}, previous_id=after)
    assert c.wait_for(bad, timeout=60) == st.ERROR
    b = c.get(bad)
    assert b.exit_code == 3
    assert b.error == "the plugin exited with code 3: something went wrong on purpose"
    assert c.wait_for(after2, timeout=30) == st.CANCELLED
    assert c.get(after).state == st.CANCELLED and f"instance {bad}" in c.get(after).error
    # a child asked for after its parent failed is cancelled straight away
    late = c.run_plugin("alice", "pl-noop", {}, previous_id=bad)
    assert c.wait_for(late, timeout=30) == st.CANCELLED
    assert "ended as finishedWithError" in c.get(late).error


def test_timeout_cancels_with_a_message(feed):
    c, root = feed
    slow = c.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 60}, previous_id=root,
                        timeout=1.5)
    child = c.run_plugin("alice", "pl-noop", {}, previous_id=slow)
    assert c.wait_for(slow, timeout=60) == st.CANCELLED
    assert c.get(slow).error == "timed out after 1.5 s; the job was stopped"
    assert c.wait_for(child, timeout=30) == st.CANCELLED
    assert "testbox mode=sleep" in c.get(slow).logs


def test_user_cancel_stops_the_job_and_cascades(feed, local_runner):
    c, root = feed
    slow = c.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 60}, previous_id=root)
    child = c.run_plugin("alice", "pl-noop", {}, previous_id=slow)
    assert c.wait_for(slow, frozenset({st.STARTED}), timeout=30) == st.STARTED
    job = c.get(slow).runner_job_id
    assert sorted(c.cancel(slow)) == sorted([slow, child])
    assert c.get(slow).error == "cancelled by the user"
    deadline = time.monotonic() + 20
    while local_runner.status(job).state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert local_runner.status(job).state == "exited"
    assert c.cancel(root) == []  # finished instances stay as they are
    assert c.get(root).state == st.SUCCESS


def test_ts_joins_several_instances(feed, data_root):
    c, root = feed
    a = c.run_plugin("alice", "pl-testbox", {"text": "a"}, previous_id=root)
    b = c.run_plugin("alice", "pl-testbox", {"text": "b"}, previous_id=root)
    ts = c.run_plugin("alice", "pl-tsbox", {"plugininstances": f"{a},{b}"})
    assert c.wait_for(ts, timeout=60) == st.SUCCESS, explain(c, ts)
    t = c.get(ts)
    assert t.previous_id == a and t.joins == [b]
    joined = json.loads((data_root / t.output_path / "joined.json").read_text())
    assert joined["ids"] == f"{a},{b}"
    assert joined["files"] == sorted([f"pl-testbox_{a}/record.json", f"pl-testbox_{b}/record.json"])


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` spans that overlap at one moment."""
    edges = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    now = most = 0
    for _, step in edges:  # at equal times an end sorts before a start: touching is not overlap
        now += step
        most = max(most, now)
    return most


@pytest.mark.parametrize(("limit", "jobs"), [(1, 3), (3, 6)])
def test_queue_respects_max_parallel(make_coordinator, local_runner, local_plugins, data_root,
                                     limit, jobs):
    """Exactly ``max_parallel`` jobs run at once: each sleeping job writes when it started and
    ended, and the most spans that overlap is the limit (not more, and not fewer either)."""
    (data_root / "home/alice/uploads/x.txt").write_text("x")
    c = make_coordinator(local_runner, max_parallel=limit)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads"})
    assert c.wait_for(root, timeout=60) == st.SUCCESS, explain(c, root)
    kids = [c.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 2}, previous_id=root)
            for _ in range(jobs)]
    for k in kids:
        assert c.wait_for(k, timeout=120) == st.SUCCESS, explain(c, k)
    out = [data_root / c.get(k).output_path for k in kids]
    spans = [(json.loads((o / "record.json").read_text())["started"],
              json.loads((o / "ended.json").read_text())["ended"]) for o in out]
    assert most_at_once(spans) == limit, sorted(spans)


def test_local_memory_rlimit_reports_out_of_memory(feed):
    c, root = feed
    iid = c.run_plugin("alice", "pl-testbox", {"mode": "hog", "mb": 1500}, previous_id=root,
                       resources={"memory_limit": "64Mi"})
    assert c.wait_for(iid, timeout=60) == st.ERROR
    i = c.get(iid)
    assert i.error.startswith("out of memory: the job used more than its memory limit of 64 MiB")
    assert "MemoryError" in i.logs
