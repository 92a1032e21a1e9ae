"""The one transition table and the one transition function."""

from __future__ import annotations

import threading

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.db.models.compute import Plugin, PluginInstance


@pytest.fixture
def inst(cdb):
    with cdb.session() as s:
        p = Plugin(name="pl-x", version="1", dock_image="x", descriptor={}, parameters=[])
        s.add(p)
        s.flush()
        i = PluginInstance(plugin_id=p.id, owner="alice", state=st.CREATED)
        s.add(i)
        s.flush()
        return i.id


def test_table():
    assert {st.SUCCESS, st.ERROR, st.CANCELLED} == st.FINAL
    for s in st.ACTIVE:
        assert st.allowed(s, st.CANCELLED)
    assert not st.allowed(st.SUCCESS, st.CANCELLED)
    assert not st.allowed(st.CREATED, st.SUCCESS)


def test_transition_writes_and_publishes(cdb, inst):
    seen = []
    assert st.transition(cdb, inst, st.SCHEDULED, publish=lambda k, p: seen.append((k, p)))
    assert st.transition(cdb, inst, st.STARTED, publish=lambda k, p: seen.append((k, p)))
    assert [p["state"] for _, p in seen] == [st.SCHEDULED, st.STARTED]
    assert seen[1][0] == st.EVENT_TYPE and seen[1][1]["previous_state"] == st.SCHEDULED
    assert seen[1][1]["owner"] == "alice" and "feed_id" in seen[1][1]
    with cdb.session() as s:
        row = s.get(PluginInstance, inst)
        assert row.scheduled_at and row.started_at and row.state == st.STARTED
    assert not st.transition(cdb, inst, st.WAITING)  # not allowed from started
    with pytest.raises(st.IllegalTransition):
        st.transition(cdb, inst, st.SUCCESS, expect=st.CREATED)
    with pytest.raises(st.IllegalTransition):
        st.transition(cdb, inst, "exploded")


def test_racing_transitions_have_one_winner(cdb, inst):
    st.transition(cdb, inst, st.SCHEDULED)
    st.transition(cdb, inst, st.STARTED)
    results = []
    barrier = threading.Barrier(2)

    def go(dst):
        barrier.wait()
        results.append((dst, st.transition(cdb, inst, dst, expect=st.STARTED)))

    threads = [threading.Thread(target=go, args=(d,)) for d in (st.CANCELLED, st.REGISTERING)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ok for _, ok in results) == [False, True]


def test_a_cancel_that_read_a_state_just_left_still_wins(cdb, inst, monkeypatch):
    """The scheduler moves created -> waiting between the cancel's read and its write: the
    cancel must retry on the new state, not report a lost race (CI saw a child left waiting
    for ever under a cancelled parent)."""
    real = st._current_state
    calls = []

    def stale_first(s, iid):
        calls.append(iid)
        if len(calls) == 1:
            assert st.transition(cdb, inst, st.WAITING, expect=st.CREATED)  # the scheduler wins
            return st.CREATED  # what the cancel had read
        return real(s, iid)

    monkeypatch.setattr(st, "_current_state", stale_first)
    assert st.transition(cdb, inst, st.CANCELLED)
    monkeypatch.setattr(st, "_current_state", real)
    with cdb.session() as s:
        assert s.get(PluginInstance, inst).state == st.CANCELLED
