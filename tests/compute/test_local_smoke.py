from chris_jupyter.compute import states as st


def test_dircopy_then_noop(make_coordinator, local_runner, local_plugins, data_root, registrar):
    (data_root / "home/alice/uploads/a.txt").write_text("x")
    c = make_coordinator(local_runner)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads"})
    child = c.run_plugin("alice", "pl-testbox", {"text": "a; b"}, previous_id=root)
    assert c.wait_for(child, timeout=60) == st.SUCCESS, c.get(child).error + c.get(child).logs
    print(c.provenance(child))
