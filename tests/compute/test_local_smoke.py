from chris_jupyter.compute import states as st


def test_dircopy_then_noop(make_coordinator, local_runner, local_plugins, data_root, registrar):
    (data_root / "home/alice/uploads/a.txt").write_text("x")
    c = make_coordinator(local_runner)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads"})
    child = c.run_plugin("alice", "pl-testbox", {"text": "a; b"}, previous_id=root)
    assert c.wait_for(child, timeout=60) == st.SUCCESS, c.get(child).error + c.get(child).logs
    r = c.get(root)
    assert r.output_files == [f"{r.output_path}/uploads/a.txt"]
    assert (data_root / r.output_path / "uploads/a.txt").read_text() == "x"
    prov = c.provenance(child)
    assert prov["plugin"] == "pl-testbox" and prov["params"] == {"text": "a; b"}
    assert prov["exit_code"] == 0 and prov["runner"] == "local"
    assert prov["argv"][-2:] == [str(data_root / r.output_path), str(data_root / c.get(child).output_path)]
    assert [o for o, _ in registrar.calls] == [r.output_path, c.get(child).output_path]
