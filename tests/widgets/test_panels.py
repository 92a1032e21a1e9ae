"""Panels as widgets (library browser, job monitor, launch form) against a real server.

The widgets are created in-process and driven as a person would (values set, buttons
``.click()``-ed); the assertions check the REST effects and what the widgets show. Jobs run the
team's real plugins (pl-dircopy, pl-testbox) on the local runner; live states arrive through
the server's event stream, read by the monitor's thread.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from chris_jupyter import Client
from chris_jupyter.dicom import synth
from chris_jupyter.widgets import JobMonitor, LaunchForm, LibraryBrowser
from chris_jupyter.widgets.panels.form_model import FormModel
from chris_jupyter.widgets.panels.jobs import job_logs
from chris_jupyter.widgets.panels.jobs_model import FINAL, JobTracker, state_progress
from chris_jupyter.widgets.panels.library_model import LibraryModel, Node, volume_id_for
from tests.compute.helpers import REFERENCE_PLUGINS, TESTBOX, make_plugin_venv

WAIT = 120  # seconds; generous on a busy 2-core machine, never asserted as a timing


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(chris_server_factory):
    """A server of its own whose plugins run as local subprocesses (no images needed).

    A local-runner server serves only its embedded user and admins unless told otherwise; the
    refused-run test needs a second, ordinary user, hence the explicit opt-out."""
    return chris_server_factory(extra_args=["--ChrisApp.runner=local", "--ChrisApp.job_timeout=300",
                                            "--ChrisApp.unsafe_unconfined_jobs_for_all_users=True"])


@pytest.fixture(scope="module")
def client(server):
    c = Client(server.url, server.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def plugins(client, tmp_path_factory) -> dict[str, dict]:
    """pl-dircopy (fs) and pl-testbox (ds) installed in a venv and registered as executables."""
    bindir = make_plugin_venv(tmp_path_factory.mktemp("panel-plugins") / "venv",
                              [REFERENCE_PLUGINS / "pl-dircopy", TESTBOX])
    return {p["name"]: p for p in (client.register_plugin(executable=str(bindir / exe))
                                   for exe in ("dircopy", "testbox"))}


@pytest.fixture(scope="module")
def me(client) -> str:
    return client.me()["username"]


@pytest.fixture(scope="module")
def scan(client, me, tmp_path_factory) -> dict:
    """A small CT series uploaded (and so indexed) under a unique folder."""
    tag = uuid.uuid4().hex[:6]
    work = tmp_path_factory.mktemp("scan")
    info = synth.write_ct_series(work / "ct", n_slices=6, rows=32, cols=32, patient_id=f"PANEL-{tag}",
                                 patient_name=f"Panel^{tag}")
    folder = f"home/{me}/uploads/panels-{tag}/ct"
    client.upload(work / "ct", folder, progress=False)
    return {"folder": folder, "tag": tag, "info": info}


# -- pure logic --------------------------------------------------------------------------------
def test_volume_ids_for_entries():
    assert volume_id_for("home/a/x.nii.gz", "file") == "path:home/a/x.nii.gz"
    assert volume_id_for("home/a/x.DCM", "file") == "path:home/a/x.DCM"
    assert volume_id_for("home/a/notes.txt", "file") is None
    assert volume_id_for("", "folder") is None
    # issue 12.7: a folder is offered only once it is known to hold DICOM files
    dcm = Node("home/a/ct/0001.dcm", "0001.dcm", "file")
    assert volume_id_for("home/a/ct", "folder", [dcm]) == "path:home/a/ct"
    assert volume_id_for("home/a/ct", "folder") is None  # not loaded yet
    assert volume_id_for("home/a/uploads", "folder", [Node("home/a/uploads/ct", "ct", "folder")]) is None
    assert volume_id_for("home/a/feeds", "folder", []) is None


def test_tracker_states_only_move_forward():
    t = JobTracker(feed_id=7)
    ev = lambda state, fid=7: {"id": 1, "type": "plugin_instance.state",  # noqa: E731
                               "data": {"id": 5, "feed_id": fid, "state": state}}
    seen: list[list[int]] = []
    t.on_change(seen.append)
    assert t.apply(ev("scheduled"))
    assert t.apply(ev("started"))
    assert not t.apply(ev("scheduled"))  # a late/older event never takes a job back
    assert not t.apply(ev("started", fid=8))  # another feed's job is not shown
    assert not t.apply({"type": "file.created", "data": {"id": 5}})
    t.load([{"id": 5, "feed_id": 7, "state": "created"}])  # an older snapshot either
    assert t.state(5) == "started"
    assert t.apply(ev("finishedSuccessfully"))
    t.load([{"id": 5, "feed_id": 7, "state": "started"}])
    assert t.state(5) == "finishedSuccessfully"
    assert t.wait_for(5, timeout=0) == "finishedSuccessfully"
    assert seen == [[5], [5], [5]]
    s = t.summary()
    assert (s.total, s.finished, s.succeeded, s.fraction) == (1, 1, 1, 1.0)
    assert state_progress("created") < state_progress("started") < state_progress("cancelled") == 1.0


def test_form_model_from_a_descriptor():
    plugin = {"id": 3, "name": "pl-x", "version": "1.0", "type": "ds", "parameters": [
        {"name": "dir", "type": "path", "flag": "--dir", "optional": False, "help": "input"},
        {"name": "n", "type": "int", "flag": "-n", "optional": True, "default": 3, "help": "count"},
        {"name": "f", "type": "float", "flag": "-f", "optional": True, "default": 0.5},
        {"name": "v", "type": "bool", "flag": "-v", "action": "store_true", "optional": True, "default": False},
        {"name": "s", "type": "str", "flag": "-s", "optional": True, "default": ""},
        {"name": "hidden", "type": "str", "flag": "--hidden", "optional": True, "default": "h",
         "ui_exposed": False},
    ], "descriptor": {"min_cpu_limit": "250m", "max_cpu_limit": "", "min_memory_limit": "16Mi",
                      "max_memory_limit": "1Gi"}}
    m = FormModel(plugin)
    assert [(f.name, f.kind, f.required, f.initial) for f in m.fields] == [
        ("dir", "path", True, ""), ("n", "int", False, 3), ("f", "float", False, 0.5),
        ("v", "checkbox", False, False), ("s", "text", False, "")]
    assert m.field("dir").label == "dir *" and m.field("n").help == "count"
    cpu, mem = m.resources
    assert (cpu.lo, cpu.hi, cpu.default) == (250, None, 1000)
    assert (mem.lo, mem.hi, mem.default) == (16, 1024, 200)
    assert m.needs_parent
    # only what differs from the defaults is sent; empty required text is left for the server to name
    assert m.params({"dir": " ", "n": 3, "f": 0.5, "v": False, "s": ""}) == {}
    assert m.params({"dir": "home/a", "n": 4, "f": 1, "v": True, "s": "x"}) == {
        "dir": "home/a", "n": 4, "f": 1.0, "v": True, "s": "x"}
    req = m.request({"dir": "home/a"}, resources={"cpu_limit": 500}, previous_id=9, title=" t ")
    assert req == {"plugin": 3, "params": {"dir": "home/a"}, "resources": {"cpu_limit": 500},
                   "previous_id": 9, "title": "t"}


# -- library browser ---------------------------------------------------------------------------
def test_tree_loads_lazily_and_pages(client, me):
    base = f"home/{me}/uploads/big-{uuid.uuid4().hex[:6]}"
    for i in range(23):
        client.upload(io.BytesIO(b"x" * i), f"{base}/f{i:03d}.txt", progress=False)
    model = LibraryModel(client, base, page_size=10)
    assert model.root.children is None  # nothing fetched before it is drawn
    rows = model.rows()
    assert [r.node.name for r in rows if not r.more] == [f"f{i:03d}.txt" for i in range(10)]
    assert rows[-1].more and model.root.total == 23
    assert model.load_more(base) == 10 and model.load_more(base) == 3
    assert model.load_more(base) == 0 and not model.root.has_more
    assert [r.node.name for r in model.rows()] == [f"f{i:03d}.txt" for i in range(23)]

    w = LibraryBrowser(client, base, page_size=10)
    try:
        assert len(w.tree.children) == 11  # 10 entries + "load more"
        w.row(base, more=True).children[0].click()
        assert len(w.tree.children) == 21
        assert w.status.value == ""
    finally:
        w.close()


def test_browser_expands_folders_and_opens_a_folder(client, me, scan):
    parent = scan["folder"].rsplit("/", 1)[0]
    w = LibraryBrowser(client, parent)
    try:
        assert [r.path for r in w.tree.children] == [scan["folder"]]
        assert not w.view_buttons("tree")  # not known yet to hold a series (issue 12.7)
        w.row(scan["folder"]).children[0].click()  # expand: its files are fetched now
        assert len(w.tree.children) == 1 + 6
        assert w.model.node(scan["folder"]).expanded
        opened = []
        w.on_open(lambda vid, viewer: opened.append((vid, viewer)))
        view = [b for b in w.view_buttons("tree") if b.volume_id == f"path:{scan['folder']}"]
        view[0].click()
        assert opened and opened[0][0] == f"path:{scan['folder']}"
        assert w.viewer.volume_id == f"path:{scan['folder']}" and w.viewer in w.viewer_box.children
        # what the viewer will fetch exists: the server builds the volume from the folder
        assert client.volume_bytes(w.viewer.volume_id)[344:348] == b"n+1\x00"
        w.row(scan["folder"]).children[0].click()  # collapse
        assert len(w.tree.children) == 1
    finally:
        w.close()


def test_search_finds_files_and_series_and_opens_a_series(client, scan):
    w = LibraryBrowser(client)
    try:
        w.search_box.value = scan["tag"]  # what pressing Enter does
        res = w.model.search_results
        assert [s["patient_id"] for s in res.studies] == [f"PANEL-{scan['tag']}"]
        series_uid = res.studies[0]["series"][0]["series_uid"]
        buttons = {b.volume_id: b for b in w.view_buttons()}
        assert f"series:{series_uid}" in buttons
        buttons[f"series:{series_uid}"].click()
        assert w.viewer.volume_id == f"series:{series_uid}"
        assert len(client.volume_bytes(w.viewer.volume_id)) > 32 * 32 * 6

        w.search_box.value = ".dcm"
        assert w.model.search_results.files_total >= 6 and w.model.search_results.files
        w.clear_button.click()
        assert w.results.children == () and w.search_box.value == ""
    finally:
        w.close()


def test_browser_shows_refusals(client):
    w = LibraryBrowser(client, "home/nobody-here")
    try:
        assert "chris-msg-error" in w.status.value and w.tree.children == ()
    finally:
        w.close()


# -- launch form + job monitor -----------------------------------------------------------------
def test_form_fields_follow_the_descriptor(client, plugins):
    form = LaunchForm("pl-testbox", client)
    try:
        assert form.model.plugin["id"] == plugins["pl-testbox"]["id"]
        kinds = {n: type(w).__name__ for n, w in form.inputs.items()}
        assert kinds == {"mode": "Text", "text": "Text", "mb": "IntText", "seconds": "FloatText",
                         "flag": "Checkbox"}
        assert form.inputs["mode"].value == "ok" and form.inputs["mb"].value == 256
        assert form.inputs["mode"].tooltip == "ok | fail | hog | sleep | until | links"
        mem, cpu = form.resource_inputs["memory_limit"], form.resource_inputs["cpu_limit"]
        assert (mem.min, mem.max, mem.value) == (16, 2048, 200)
        assert cpu.min == 100 and cpu.max == 2**31 - 1
        mem.value = 4096  # the input keeps it within the plugin's range
        assert mem.value == 2048
        assert form.previous_input in form.children  # a ds plugin runs after a parent
        dircopy = LaunchForm(plugins["pl-dircopy"]["id"], client)
        assert dircopy.previous_input not in dircopy.children
        assert "chris-required" in dircopy.inputs["dir"]._dom_classes
        assert dircopy.inputs["dir"].description == "dir *"
        dircopy.close()
    finally:
        form.close()


def test_refused_run_shows_the_server_message(client, server, plugins, scan):
    name = f"nurse{uuid.uuid4().hex[:6]}"
    client.create_user(name)
    user = Client(server.url, client.create_token(user=name)["token"])
    before = len(client.instances())
    form = LaunchForm("pl-dircopy", user)
    try:
        form.run_button.click()  # required path left empty
        assert "chris-msg-error" in form.message.value and "dir" in form.message.value
        assert "required" in form.message.value
        form.inputs["dir"].value = scan["folder"]  # the owner's: not shared with this user
        form.run_button.click()
        assert "chris-msg-error" in form.message.value and form.last_instance is None
        assert len(client.instances()) == before  # nothing was started
    finally:
        form.close()
        user.close()


def test_run_is_followed_live_then_cancelled(client, plugins, scan):
    monitor = JobMonitor(client)
    try:
        assert monitor.follower.connected.wait(30), monitor.follower.error
        fs = LaunchForm("pl-dircopy", client, monitor=monitor)
        fs.inputs["dir"].value = scan["folder"]
        fs.title_input.value = "panel test"
        fs.run_button.click()
        root = fs.last_instance
        assert root is not None, fs.message.value
        assert "chris-msg-ok" in fs.message.value
        assert monitor.tracker.feed_id == root["feed_id"] and monitor.selected == root["id"]
        assert monitor.wait_for(root["id"], timeout=WAIT) == "finishedSuccessfully", job_logs(client, root["id"])
        assert monitor.state_shown(root["id"]) == "finishedSuccessfully"
        assert monitor.follower.last_event_id is not None  # it came over the event stream
        assert client.instance(root["id"])["state"] == "finishedSuccessfully"
        assert monitor.cancel_button.disabled

        ds = LaunchForm("pl-testbox", client, monitor=monitor, previous_id=root["id"])
        ds.inputs["mode"].value = "sleep"
        ds.inputs["seconds"].value = 120.0
        ds.run_button.click()
        job = ds.last_instance
        assert job is not None, ds.message.value
        assert job["params"] == {"mode": "sleep", "seconds": 120.0} and job["previous_id"] == root["id"]
        assert monitor.wait_for(job["id"], {"started"}, timeout=WAIT) == "started"
        assert monitor.state_shown(job["id"]) == "started" and monitor.selected == job["id"]
        assert not monitor.cancel_button.disabled
        monitor.cancel_button.click()
        assert monitor.wait_for(job["id"], timeout=WAIT) == "cancelled"
        assert client.instance(job["id"])["state"] == "cancelled"
        assert monitor.state_shown(job["id"]) == "cancelled" and monitor.cancel_button.disabled
        s = monitor.tracker.summary()
        assert (s.total, s.succeeded, s.cancelled) == (2, 1, 1)
        assert "2/2 finished" in monitor.summary.value
        assert [b.iid for b in monitor.table.children] == [root["id"], job["id"]]  # both rows drawn
        monitor.select(root["id"])
        assert monitor.logs.value == job_logs(client, root["id"]) and "copied" in monitor.logs.value
        assert f"#{root['id']}" in monitor.logs_title.value
        fs.close()
        ds.close()
    finally:
        monitor.close()
    assert not monitor.follower.running


def test_monitor_snapshot_of_a_finished_feed(client, plugins, scan):
    inst = client.run("pl-dircopy", {"dir": scan["folder"]})
    assert client.wait(inst["id"], timeout=WAIT)["state"] in FINAL
    monitor = JobMonitor(client, feed_id=inst["feed_id"], live=False)
    try:
        assert [j["id"] for j in monitor.tracker.ordered()] == [inst["id"]]
        assert monitor.state_shown(inst["id"]) == "finishedSuccessfully"
        assert [b.iid for b in monitor.table.children] == [inst["id"]]
        assert monitor.progress.value == 1.0
        assert not monitor.follower.running
    finally:
        monitor.close()


def test_panels_exported_by_the_widgets_package():
    import chris_jupyter.widgets as w

    assert (w.LibraryBrowser, w.JobMonitor, w.LaunchForm) == (LibraryBrowser, JobMonitor, LaunchForm)
    assert Path(w.__file__).parent.joinpath("panels", "__init__.py").exists()


def test_monitor_reconnects_after_a_server_restart(server, client, plugins, scan):
    """The stream drops when the server restarts; the monitor reconnects, re-reads the jobs
    and keeps following (this test restarts the module's server: keep it last)."""
    monitor = JobMonitor(client)
    try:
        assert monitor.follower.connected.wait(30), monitor.follower.error
        server.stop()
        server.start()
        assert monitor.follower.connected.wait(60), monitor.follower.error  # connected again
        inst = client.run("pl-dircopy", {"dir": scan["folder"]}, title="after restart")
        assert monitor.wait_for(inst["id"], timeout=WAIT) == "finishedSuccessfully"
        assert monitor.state_shown(inst["id"]) == "finishedSuccessfully"
    finally:
        monitor.close()
