"""Restart reconciliation and pipeline runs, with the local runner (real subprocesses)."""

from __future__ import annotations

import json
import time

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.compute.coordinator import Coordinator
from chris_jupyter.compute.pipelines import PipelineError
from chris_jupyter.compute.runners.local import LocalRunner
from chris_jupyter.plugins.cmdline import ParameterError

from .helpers import Events, can_read


@pytest.fixture
def root(make_coordinator, local_runner, local_plugins, data_root):
    (data_root / "home/alice/uploads/x.txt").write_text("x")
    c = make_coordinator(local_runner)
    r = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/x.txt"})
    assert c.wait_for(r, timeout=60) == st.SUCCESS
    return c, r


def _restart(cdb, data_root, registrar, tmp_path) -> Coordinator:
    """A new backend: new runner object on the same work dir, new coordinator on the same DB."""
    c = Coordinator(cdb, data_root, LocalRunner(tmp_path / "jobs", kill_grace=1.0),
                    publish=Events(), register_outputs=registrar, can_read=can_read)
    c.start()
    return c


def ended_at(c: Coordinator, data_root, iid: int) -> float:
    """When a sleeping pl-testbox job really ended (it writes the time as its last act)."""
    return json.loads((data_root / c.get(iid).output_path / "ended.json").read_text())["ended"]


def test_reconcile_after_the_backend_died(root, cdb, data_root, registrar, tmp_path):
    old, r = root
    running = old.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 6}, previous_id=r)
    done_meanwhile = old.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 0.5},
                                    previous_id=r)
    failed_meanwhile = old.run_plugin("alice", "pl-testbox", {"mode": "fail"}, previous_id=running)
    waiting = old.run_plugin("alice", "pl-noop", {"touch": True}, previous_id=done_meanwhile)
    for iid in (running, done_meanwhile):
        assert old.wait_for(iid, frozenset({st.STARTED}), timeout=30) == st.STARTED
    old.stop()  # the backend dies: no cleanup, jobs keep running on their own
    # done_meanwhile ends while nobody watches: its process really exits before the restart
    assert old.runner.wait(old.get(done_meanwhile).runner_job_id, timeout=30).state == "exited"
    assert old.runner.status(old.get(running).runner_job_id).state == "running"
    assert old.get(done_meanwhile).state == st.STARTED
    calls_before = len(registrar.calls)

    restarted_at = time.time()
    new = _restart(cdb, data_root, registrar, tmp_path)
    try:
        for iid, want in ((done_meanwhile, st.SUCCESS), (waiting, st.SUCCESS),
                          (running, st.SUCCESS), (failed_meanwhile, st.ERROR)):
            assert new.wait_for(iid, timeout=60) == want, (iid, new.get(iid).error)
        # the plugins' own evidence: one ended before the restart, the other after it
        assert ended_at(new, data_root, done_meanwhile) < restarted_at < ended_at(new, data_root, running)
        assert new.get(done_meanwhile).exit_code == 0
        assert new.get(failed_meanwhile).exit_code == 3
        assert "testbox mode=sleep" in new.get(running).logs
        # every finished instance registered exactly once, nothing twice
        assert registrar.twice() == []
        assert len(registrar.calls) == calls_before + 3
        assert new.get(waiting).output_count == 1
    finally:
        new.stop()


def test_reconcile_job_lost_by_runner(root, cdb, data_root, registrar, tmp_path):
    old, r = root
    iid = old.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 30}, previous_id=r)
    assert old.wait_for(iid, frozenset({st.STARTED}), timeout=30) == st.STARTED
    job = old.get(iid).runner_job_id
    old.stop()
    old.runner.cancel(job)
    import shutil

    shutil.rmtree(tmp_path / "jobs" / job)  # the engine forgot the job entirely
    new = _restart(cdb, data_root, registrar, tmp_path)
    try:
        assert new.wait_for(iid, timeout=30) == st.CANCELLED
        assert "the runner lost the job" in new.get(iid).error
    finally:
        new.stop()


PIPELINE = """
name: three steps
plugin_tree:
  - title: first
    plugin: pl-testbox v0.1.0
    previous: null
    plugin_parameter_defaults: {text: one}
  - title: second
    plugin: pl-testbox v0.1.0
    previous: first
    plugin_parameter_defaults: {text: two}
  - title: side
    plugin: pl-noop v1.0.0
    previous: first
  - title: join
    plugin: pl-tsbox v0.1.0
    previous: second
    plugin_parameter_defaults: {plugininstances: "second,side"}
"""


def test_pipeline_run_creates_everything_at_once(root, data_root, events):
    c, r = root
    run = c.run_pipeline("alice", PIPELINE, r, params={"second": {"flag": True}})
    from chris_jupyter.db.models.compute import PluginInstance

    with c.db.session() as s:
        made = {i.piping_title: i for i in s.query(PluginInstance).filter_by(pipeline_run_id=run)}
    assert set(made) == {"first", "second", "side", "join"}
    assert made["first"].previous_id == r and made["second"].previous_id == made["first"].id
    assert made["join"].joins == [made["side"].id]
    assert made["join"].params["plugininstances"] == f"{made['second'].id},{made['side'].id}"
    for inst in made.values():
        assert c.wait_for(inst.id, timeout=90) == st.SUCCESS, c.get(inst.id).error
    assert st.WAITING in events.states(made["join"].id)
    second = c.get(made["second"].id)
    assert second.params == {"text": "two", "flag": True}
    assert second.output_path.endswith(
        f"pl-testbox_{made['first'].id}/pl-testbox_{made['second'].id}/data")


def test_pipeline_failure_cancels_the_rest(root):
    c, r = root
    failing = PIPELINE.replace("{text: one}", "{mode: fail}")
    run = c.run_pipeline("alice", failing, r)
    from chris_jupyter.db.models.compute import PluginInstance

    with c.db.session() as s:
        made = {i.piping_title: i.id for i in s.query(PluginInstance).filter_by(pipeline_run_id=run)}
    assert c.wait_for(made["first"], timeout=60) == st.ERROR
    for title in ("second", "side", "join"):
        assert c.wait_for(made[title], timeout=30) == st.CANCELLED


def test_pipeline_checked_before_anything_is_created(root):
    c, r = root
    from chris_jupyter.db.models.compute import PluginInstance

    with c.db.session() as s:
        n = s.query(PluginInstance).count()
    with pytest.raises(ParameterError, match="second.mb"):
        c.run_pipeline("alice", PIPELINE, r, params={"second": {"mb": "x"}})
    with pytest.raises(ParameterError, match="no piping"):
        c.run_pipeline("alice", PIPELINE, r, params={"nope": {}})
    with pytest.raises(PipelineError):
        c.run_pipeline("alice", "name: x\nplugin_tree: []", r)
    saved = c.pipelines.save("alice", PIPELINE)
    with c.db.session() as s:
        assert s.query(PluginInstance).count() == n
    run = c.run_pipeline("alice", saved.id, r)
    assert run


def test_backend_dies_while_registering_outputs(local_runner, local_plugins, cdb, data_root,
                                                registrar, tmp_path):
    """register_outputs never returns (the backend died inside it): the next start registers
    the outputs once and finishes the job."""
    import threading

    (data_root / "home/alice/uploads/x.txt").write_text("x")
    inside, release = threading.Event(), threading.Event()

    def dying_register(path, owner):
        inside.set()
        release.wait(60)  # never returns while the test runs: the backend "died" in here
        return 0

    old = Coordinator(cdb, data_root, local_runner, publish=Events(),
                      register_outputs=dying_register, can_read=can_read)
    old.start()
    try:
        r = old.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads"})
        assert inside.wait(60)
        assert old.get(r).state == st.REGISTERING
        old.stop()
        new = _restart(cdb, data_root, registrar, tmp_path)
        try:
            assert new.wait_for(r, timeout=60) == st.SUCCESS
            assert registrar.calls == [(new.get(r).output_path, "alice")]
            assert new.get(r).output_files == [f"{new.get(r).output_path}/uploads/x.txt"]
        finally:
            new.stop()
    finally:
        release.set()


def test_pipeline_with_an_fs_root_starts_a_feed(make_coordinator, local_runner, local_plugins,
                                                data_root):
    (data_root / "home/alice/uploads/x.txt").write_text("x")
    c = make_coordinator(local_runner)
    source = {
        "name": "copy and check",
        "plugin_tree": [
            {"title": "copy", "plugin_name": "pl-dircopy", "plugin_version": "2.1.2",
             "previous_index": None},
            {"title": "check", "plugin_name": "pl-testbox", "plugin_version": "0.1.0",
             "previous_index": 0, "plugin_parameter_defaults": [{"name": "text", "default": "ok"}]},
        ],
    }
    run = c.run_pipeline("alice", source, None, params={"copy": {"dir": "home/alice/uploads"}})
    from chris_jupyter.db.models.compute import PluginInstance

    with c.db.session() as s:
        made = {i.piping_title: i.id for i in s.query(PluginInstance).filter_by(pipeline_run_id=run)}
    assert c.wait_for(made["check"], timeout=60) == st.SUCCESS
    copy = c.get(made["copy"])
    assert copy.feed_id is not None and copy.previous_id is None
    assert copy.output_path == f"home/alice/feeds/feed_{copy.feed_id}/pl-dircopy_{copy.id}/data"
