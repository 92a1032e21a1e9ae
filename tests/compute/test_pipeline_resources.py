"""One pipeline, four compute resources: each piping names where it runs (in the pipeline's
source, or per run), and its instance runs there — on the real Docker engine, a one-node Docker
Swarm, a one-node SLURM cluster (tests/compute/clusters.py) and a remote compute resource
(``compute serve`` in a network namespace: PUSH, EXEC, PULL) — and records it."""

from __future__ import annotations

import json

import pytest

from chris_jupyter.backend import Backend, Settings
from chris_jupyter.compute import states as st
from chris_jupyter.errors import BadRequest

from .remote_peer import PASSWORD

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIPELINE = """
name: three places
plugin_tree:
  - title: copy
    plugin: pl-testbox v{testbox}
    previous: null
    compute_resource_name: on-swarm
    plugin_parameter_defaults: {{text: here}}
  - title: again
    plugin: pl-testbox v{testbox}
    previous: copy
    compute_resource_name: on-slurm
    plugin_parameter_defaults: {{text: here}}
  - title: last
    plugin: pl-noop v{noop}
    previous: again
    plugin_parameter_defaults: {{touch: true}}
"""


@pytest.fixture
def backend(tmp_path, swarm_engine, slurm_cluster, served, plugin_image):
    b = Backend(Settings(
        data_root=tmp_path / "data", db_url=f"sqlite:///{tmp_path}/c.db", runner="docker", start_services=True,
        compute_resources=[
            {"name": "on-swarm", "kind": "swarm", "settings": {"stop_grace": 1}},
            {"name": "on-slurm", "kind": "slurm",
             "settings": {"slurm_conf": str(slurm_cluster), "job_dir": str(tmp_path / "slurm-jobs"),
                          "stop_grace": 1}},
            {"name": "far", "kind": "remote",
             "settings": {"url": served.url, "password": PASSWORD, "data_format": "tar", "retries": 2,
                          "backoff": 0.2}},
        ]))
    admin = b.principal("admin", is_admin=True)
    everywhere = ["docker", "on-swarm", "on-slurm", "far"]
    versions = {}
    for name in ("pl-dircopy", "pl-testbox", "pl-noop"):
        versions[name] = b.compute.register(admin, image=plugin_image(name), compute_resources=everywhere)["version"]
    yield b, admin, versions
    b.close()


def test_one_pipeline_runs_on_four_resources(backend) -> None:
    b, admin, versions = backend
    upload = b.store.root / "home/admin/uploads/scan"
    upload.mkdir(parents=True)
    (upload / "a.txt").write_text("the scan")
    root = b.compute.run(admin, "pl-dircopy", {"dir": "home/admin/uploads/scan"})
    assert root["runner"] == "docker"
    assert b.compute.c.wait_for(root["id"], timeout=120) == st.SUCCESS, str(b.compute.instance(admin, root["id"]))
    source = PIPELINE.format(testbox=versions["pl-testbox"], noop=versions["pl-noop"])
    saved = b.compute.save_pipeline(admin, source)

    # a name no resource has, or one the plugin is not registered for: refused before anything runs
    with pytest.raises(BadRequest, match="last: .*'nowhere'"):
        b.compute.run_pipeline(admin, saved["id"], previous_id=root["id"], compute_resources={"last": "nowhere"})
    with pytest.raises(BadRequest, match="no piping has this title"):
        b.compute.run_pipeline(admin, saved["id"], previous_id=root["id"], compute_resources={"nope": "docker"})
    assert b.compute.instances(admin, feed_id=root["feed_id"])["total"] == 1  # nothing was created

    # the source's choices, and a per-run choice for the piping that names none
    run = b.compute.run_pipeline(admin, saved["id"], previous_id=root["id"], compute_resources={"last": "far"})
    by_title = {i["title"]: i for i in run["instances"]}
    assert {t: i["runner"] for t, i in by_title.items()} == {"copy": "on-swarm", "again": "on-slurm",
                                                             "last": "far"}
    for title in ("copy", "again", "last"):
        iid = by_title[title]["id"]
        assert b.compute.c.wait_for(iid, timeout=180) == st.SUCCESS, b.compute.instance(admin, iid)
        assert b.compute.instance(admin, iid)["runner"] == by_title[title]["runner"]
    # each ran on its parent's output: the scan reached the swarm's job, whose record reached SLURM's
    def record(title: str) -> dict:
        out = b.store.root / b.compute.instance(admin, by_title[title]["id"])["output_path"]
        return json.loads((out / "record.json").read_text())

    assert "scan/a.txt" in record("copy")["inputs"] and "record.json" in record("again")["inputs"]
    assert record("copy")["uid"] == record("again")["uid"] != 0
    # the remote one's output came back (PULL) and is registered in the feed
    last = b.compute.instance(admin, by_title["last"]["id"])
    assert (b.store.root / last["output_path"] / "noop.txt").is_file() and last["output_count"] >= 1
