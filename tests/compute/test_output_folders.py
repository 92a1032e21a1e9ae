"""An instance's output folder exists from the instance's creation (issue 8, item 14)."""

from __future__ import annotations

from chris_jupyter.compute import states as st


def test_the_output_folder_exists_before_the_job_runs_and_after_it_never_ran(
    make_coordinator, local_runner, local_plugins, data_root
):
    (data_root / "home/alice/uploads/in").mkdir()
    created: list[tuple[str, str]] = []
    c = make_coordinator(local_runner, create_folder=lambda path, owner: created.append((path, owner)))
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/in"})
    slow = c.run_plugin("alice", "pl-testbox", {"mode": "sleep", "seconds": 600}, previous_id=root)
    child = c.run_plugin("alice", "pl-noop", {}, previous_id=slow)  # waits for `slow`
    out = c.get(child).output_path
    assert (data_root / out).is_dir()
    assert (out, "alice") in created  # in the library too: `ls` finds it
    c.cancel(slow)
    assert c.wait_for(child, timeout=60) == st.CANCELLED
    assert (data_root / out).is_dir()
