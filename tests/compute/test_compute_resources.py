"""Compute resources as first-class objects: added by administrators, plugins registered for
them, runs routed to them and the instance recording where it ran (the local runner, real jobs)."""

from __future__ import annotations

import pytest

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.compute import states as st
from chris_jupyter.errors import BadRequest, Forbidden, NotFound


@pytest.fixture
def backend(tmp_path, plugin_bin):
    b = Backend(Settings(data_root=tmp_path / "data", db_url=f"sqlite:///{tmp_path}/c.db", runner="local",
                         start_services=True, unsafe_unconfined_jobs_for_all_users=True,
                         compute_resources=[{"name": "configured", "kind": "local",
                                             "settings": {"kill_grace": 0.5}, "max_job_time": 600}]))
    admin = b.principal("admin", is_admin=True)
    for exe in ("dircopy", "testbox"):
        b.compute.register(admin, executable=str(plugin_bin / exe))
    yield b, admin
    b.close()


def test_resources_route_runs_and_instances_record_where(backend) -> None:
    b, admin = backend
    names = {r["name"]: r for r in b.compute.compute_resources(admin)}
    assert set(names) == {"local", "configured"}  # the server's runner, and the one from config
    assert names["configured"]["max_job_time"] == 600 and names["configured"]["settings"] == {"kill_grace": 0.5}
    added = b.compute.add_compute_resource(admin, "quick", "local", {"kill_grace": 0.2}, description="d",
                                           max_job_time=2)
    assert added["kind"] == "local" and added["description"] == "d"
    # a plugin registered for none runs on the server's own runner
    root = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads"})
    assert root["runner"] == "local"
    assert b.compute.plugin("pl-testbox")["compute_resources"] == ["local"]
    pid = b.compute.plugin("pl-testbox")["id"]
    assert b.compute.assign_compute_resources(admin, pid, ["quick", "configured"])["compute_resources"] \
        == ["quick", "configured"]
    assert b.compute.c.wait_for(root["id"], timeout=60) == st.SUCCESS
    # default: the plugin's first resource, whose max_job_time caps the run (2 s)
    slow = b.compute.run(admin, "pl-testbox", {"mode": "sleep", "seconds": 60}, previous_id=root["id"])
    assert slow["runner"] == "quick"
    named = b.compute.run(admin, "pl-testbox", {}, previous_id=root["id"], compute_resource_name="configured")
    assert b.compute.c.wait_for(named["id"], timeout=60) == st.SUCCESS
    assert b.compute.instance(admin, named["id"])["runner"] == "configured"
    assert b.compute.c.wait_for(slow["id"], timeout=60) == st.CANCELLED
    assert b.compute.instance(admin, slow["id"])["error"] == "timed out after 2 s; the job was stopped"
    # a resource the plugin is not registered for, or none at all: refused with the reason
    with pytest.raises(BadRequest, match=r"not registered for compute resource 'local' \(it runs on: quick, c"):
        b.compute.run(admin, "pl-testbox", {}, previous_id=root["id"], compute_resource_name="local")
    # removing one: then plugins registered for it no longer list it
    b.compute.remove_compute_resource(admin, "quick")
    assert b.compute.plugin("pl-testbox")["compute_resources"] == ["configured"]
    with pytest.raises(NotFound, match="no compute resource 'quick'"):
        b.compute.remove_compute_resource(admin, "quick")


def test_bad_resource_requests_are_clear_errors(backend) -> None:
    b, admin = backend
    bob = b.principal("bob")
    with pytest.raises(Forbidden, match="only administrators add compute resources"):
        b.compute.add_compute_resource(bob, "mine", "local")
    with pytest.raises(BadRequest, match="unknown compute resource kind 'cloud'"):
        b.compute.add_compute_resource(admin, "c1", "cloud")
    with pytest.raises(BadRequest, match="bad compute resource name 'Bad Name'"):
        b.compute.add_compute_resource(admin, "Bad Name", "local")
    with pytest.raises(BadRequest, match="compute resource 'c2' \\(local\\): .*kill_grace"):
        b.compute.add_compute_resource(admin, "c2", "local", {"kill_grace": "soon"})
    with pytest.raises(BadRequest, match="'max_job_time' must be a positive number"):
        b.compute.add_compute_resource(admin, "c3", "local", max_job_time=-1)
    with pytest.raises(BadRequest, match="'local' is this server's own runner; it cannot be removed"):
        b.compute.remove_compute_resource(admin, "local")
    with pytest.raises(BadRequest, match="compute resource 'configured' exists"):
        b.compute.add_compute_resource(admin, "configured", "local")
    with pytest.raises(NotFound, match="no compute resource 'nowhere'"):
        b.compute.register(admin, executable="dircopy", compute_resources=["nowhere"])
    assert {r["name"] for r in b.compute.compute_resources(bob)} == {"local", "configured"}


def test_a_path_that_does_not_exist_is_refused_before_the_job_even_for_an_admin(backend) -> None:
    b, admin = backend
    for missing in ("home/admin/uploads/no-such-folder", "home/nobody/anything"):
        with pytest.raises(BadRequest, match="does not exist or you may not read it"):
            b.compute.run(admin, "pl-dircopy", {"dir": missing})
    with pytest.raises(BadRequest, match="'..' are not allowed"):
        b.compute.run(admin, "pl-dircopy", {"dir": "../../etc"})
    assert b.compute.instances(admin)["total"] == 0  # nothing was created
