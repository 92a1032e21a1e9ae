"""Plugins, feeds and pipelines end to end through the REST API, with the Docker runner and the
reference plugins' real images (built offline)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import nibabel as nib
import pytest

from chris_jupyter import Client
from chris_jupyter.client import BadRequestError, NotFoundError
from chris_jupyter.dicom import synth
from chris_jupyter.testing import ChrisServer
from tests.fixtures.server import DATABASES


@pytest.fixture(scope="module", params=DATABASES)
def chris_server(request: pytest.FixtureRequest) -> ChrisServer:
    """This module runs against the shared SQLite server and a PostgreSQL-backed one."""
    return request.getfixturevalue(f"chris_server_{request.param}")

pytestmark = pytest.mark.docker
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PIPELINE = """
name: NIfTI and previews {tag}
authors: chris_jupyter tests
plugin_tree:
  - title: nifti
    plugin: pl-dcm2nifti v1.0.0
    previous: null
  - title: done-marker
    plugin: pl-noop v1.0.0
    previous: nifti
    plugin_parameter_defaults:
      touch: true
"""


@pytest.fixture(scope="module")
def registered(chris_server, build_image, docker_client):
    from tests.compute.images import context_hash

    admin = Client(chris_server.url, chris_server.token)
    have = {(p["name"], p["dock_image"]) for p in admin.plugins()}
    for name in ("pl-dircopy", "pl-dcm2nifti", "pl-dcm2png", "pl-noop"):
        tag = build_image(PLUGINS / name, f"chris-jupyter-test/{name}:{context_hash(PLUGINS / name)}")
        if (name, tag) not in have:
            admin.register_plugin(image=tag)
    return admin


@pytest.fixture
def user(chris_server, registered):
    name = f"u{uuid.uuid4().hex[:6]}"
    registered.create_user(name)
    return name, Client(chris_server.url, registered.create_token(name)["token"])


def test_feed_pipeline_and_outputs(user, tmp_path: Path) -> None:
    name, c = user
    info = synth.write_ct_series(tmp_path / "ct", n_slices=8, rows=32, cols=32, spacing=(1.0, 1.0, 2.0))
    c.upload(tmp_path / "ct", f"home/{name}/uploads/ct", progress=False)

    # an fs plugin makes a feed from library data
    copy = c.run("pl-dircopy", {"dir": f"home/{name}/uploads/ct"}, title="my CT")
    assert copy["state"] in ("created", "scheduled", "started", "registeringFiles", "finishedSuccessfully")
    feed_id = copy["feed_id"]
    done = c.wait(copy["id"], timeout=300)
    assert done["state"] == "finishedSuccessfully", (done, c.logs(copy["id"]))
    assert done["output_path"] == f"home/{name}/feeds/feed_{feed_id}/pl-dircopy_{copy['id']}/data"
    assert c.feed(feed_id)["name"] == "my CT"

    # a ds plugin on it
    png = c.run("pl-dcm2png", {"window": "40,400"}, previous_id=copy["id"])
    # a pipeline on it: all instances created at once, each waiting on its parent
    pipe = c.save_pipeline(PIPELINE.format(tag=uuid.uuid4().hex[:6]))
    run = c.run_pipeline(pipe["id"], copy["id"])
    assert [i["plugin"] for i in run["instances"]] == ["pl-dcm2nifti", "pl-noop"]
    results = c.watch([png["id"], *[i["id"] for i in run["instances"]]], timeout=300, progress=False)
    assert [r["state"] for r in results] == ["finishedSuccessfully"] * 3, [c.logs(r["id"]) for r in results]

    # outputs are library data, nested in the parent's folder
    png_out, nifti, marker = results
    assert png_out["output_count"] == 8
    assert nifti["output_path"].startswith(done["output_path"].rsplit("/data", 1)[0] + "/pl-dcm2nifti_")
    niis = [e for e in c.walk_folder(nifti["output_path"]) if e["name"].endswith((".nii", ".nii.gz"))]
    assert len(niis) == 1
    data = c.read_bytes(niis[0]["path"])
    p = tmp_path / niis[0]["name"]
    p.write_bytes(data)
    img = nib.load(p)
    assert sorted(img.shape) == [8, 32, 32]
    assert marker["output_count"] == 1
    # logs are what the plugin printed
    assert "wrote 8 PNG files" in c.logs(png["id"])
    # provenance: enough to re-run
    prov = c.provenance(png["id"])
    assert prov["plugin"] == "pl-dcm2png" and prov["params"] == {"window": "40,400"} and prov["argv"]
    # the feed's instances, all visible to the owner
    assert {i["id"] for i in c.instances(feed_id=feed_id)} == {copy["id"], png["id"],
                                                              *[i["id"] for i in run["instances"]]}
    # the fs plugin copied every uploaded file into the feed
    copied = sorted(e["name"] for e in c.walk_folder(f"{done['output_path']}/ct"))
    assert copied == sorted(p.name for p in info.paths)


def test_bad_requests_get_clear_errors(user, chris_server, registered) -> None:
    name, c = user
    with pytest.raises(NotFoundError, match="pl-nothing"):
        c.run("pl-nothing", {})
    with pytest.raises(BadRequestError, match="every"):
        c.run("pl-dcm2png", {"every": "often"}, previous_id=1)
    with pytest.raises(BadRequestError, match="dir"):  # a required parameter missing
        c.run("pl-dircopy", {})
    with pytest.raises(BadRequestError):  # a path the user may not read
        c.run("pl-dircopy", {"dir": "home/somebody-else/uploads"})
    with pytest.raises(BadRequestError, match="needs a parent"):
        c.run("pl-dcm2png", {})
    # only administrators register plugins
    with pytest.raises(Exception, match="administrators"):
        c.register_plugin(descriptor={"name": "x"})


def test_other_users_do_not_see_my_jobs(user, chris_server, registered) -> None:
    name, c = user
    c.mkdir(f"home/{name}/uploads/empty")
    job = c.run("pl-dircopy", {"dir": f"home/{name}/uploads/empty"})
    other = f"o{uuid.uuid4().hex[:6]}"
    registered.create_user(other)
    o = Client(chris_server.url, registered.create_token(other)["token"])
    with pytest.raises(NotFoundError):
        o.instance(job["id"])
    with pytest.raises(NotFoundError):
        o.logs(job["id"])
    with pytest.raises(NotFoundError):
        o.cancel(job["id"])
    assert all(i["id"] != job["id"] for i in o.instances())
    assert c.wait(job["id"], timeout=300)["state"] == "finishedSuccessfully"


TS_PIPELINE = """
name: two branches joined {tag}
authors: chris_jupyter tests
plugin_tree:
  - title: start
    plugin: pl-noop v1.0.0
    previous: null
  - title: left
    plugin: pl-noop v1.0.0
    previous: start
    plugin_parameter_defaults: {{touch: true}}
  - title: right
    plugin: pl-noop v1.0.0
    previous: start
    plugin_parameter_defaults: {{touch: true}}
  - title: join
    plugin: pl-tsbox v0.1.0
    previous: left
    plugin_parameter_defaults: {{plugininstances: "left,right"}}
"""


@pytest.fixture(scope="module")
def tsbox(registered, build_image):
    from tests.compute.helpers import TSBOX
    from tests.compute.images import context_hash

    tag = build_image(TSBOX, f"chris-jupyter-test/pl-tsbox:{context_hash(TSBOX)}")
    if ("pl-tsbox", tag) not in {(p["name"], p["dock_image"]) for p in registered.plugins()}:
        registered.register_plugin(image=tag)
    return tag


def test_watch_sees_a_job_that_ended_before_its_stream_was_subscribed(user, monkeypatch) -> None:
    """``watch`` reads the states once its event stream is subscribed: a job that ends between
    the call and the subscription (here: the subscription made late on purpose) is not missed."""
    name, c = user
    c.mkdir(f"home/{name}/uploads/watch-late")
    job = c.run("pl-dircopy", {"dir": f"home/{name}/uploads/watch-late"})
    subscribe = c.events

    def late(**kwargs):
        c.wait(job["id"], timeout=300)  # the job's final event is published before we listen
        return subscribe(**kwargs)

    monkeypatch.setattr(c, "events", late)
    [result] = c.watch([job["id"]], timeout=120, progress=False)
    assert result["state"] == "finishedSuccessfully", result


def test_wait_outlasts_the_clients_http_timeout(user, chris_server, registered, build_image) -> None:
    """The server holds a ``wait`` up to its timeout; the client reads that long, whatever its
    usual HTTP timeout (it used to give up after it: ``httpx.ReadTimeout`` on a long job)."""
    from tests.compute.helpers import TESTBOX
    from tests.compute.images import context_hash

    tag = build_image(TESTBOX, f"chris-jupyter-test/pl-testbox:{context_hash(TESTBOX)}")
    if ("pl-testbox", tag) not in {(p["name"], p["dock_image"]) for p in registered.plugins()}:
        registered.register_plugin(image=tag)
    name, c = user
    c.mkdir(f"home/{name}/uploads/slow")
    root = c.run("pl-dircopy", {"dir": f"home/{name}/uploads/slow"})
    assert c.wait(root["id"], timeout=300)["state"] == "finishedSuccessfully"
    impatient = Client(chris_server.url, registered.create_token(name)["token"], timeout=1)
    job = impatient.run("pl-testbox", {"mode": "sleep", "seconds": 5}, previous_id=root["id"])
    assert impatient.wait(job["id"], timeout=120)["state"] == "finishedSuccessfully"


def test_watch_of_a_job_that_does_not_exist_says_so(user) -> None:
    _, c = user
    with pytest.raises(NotFoundError):
        c.watch([999_999], timeout=3600, progress=False)  # at once, not after the hour


def test_a_ts_plugin_in_a_pipeline_joins_both_branches(user, tsbox) -> None:
    """A pipeline through REST whose last piping is a ``ts`` plugin joining two branches: it waits
    for both, gets both parents' outputs as input, and knows their instance ids."""
    name, c = user
    c.mkdir(f"home/{name}/uploads/empty")
    root = c.run("pl-dircopy", {"dir": f"home/{name}/uploads/empty"})
    pipe = c.save_pipeline(TS_PIPELINE.format(tag=uuid.uuid4().hex[:6]))
    run = c.run_pipeline(pipe["id"], root["id"])
    made = {i["piping_title"]: i for i in run["instances"]}
    assert [i["plugin"] for i in run["instances"]] == ["pl-noop", "pl-noop", "pl-noop", "pl-tsbox"]
    results = {r["id"]: r for r in c.watch([i["id"] for i in run["instances"]], timeout=300, progress=False)}
    assert [r["state"] for r in results.values()] == ["finishedSuccessfully"] * 4, [c.logs(i) for i in results]
    left, right, join = made["left"]["id"], made["right"]["id"], made["join"]["id"]
    joined = json.loads(c.read_bytes(results[join]["output_path"] + "/joined.json"))
    assert joined["ids"] == f"{left},{right}"
    assert joined["files"] == sorted([f"pl-noop_{left}/noop.txt", f"pl-noop_{right}/noop.txt"])  # as pl-tsbox sorts
    assert results[join]["previous_id"] == left
