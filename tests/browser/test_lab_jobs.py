"""The JupyterLab extension's Plugins panel and Feeds and jobs tab in real JupyterLab and Chromium.

JupyterLab (the venv's, with the chris server extension and the package's prebuilt lab
extension) runs with the local runner on a library seeded with the sample data. Chromium picks
the sample series in the Library panel, finds pl-dircopy in the plugin catalog, fills its
generated form (a missing required parameter, a value out of the descriptor's limits, a path
that does not exist and a feed that does not exist: the server's refusals are shown), runs it and watches the job reach
finishedSuccessfully in the feed's graph from the event stream alone; runs pl-dcm2nifti (a ds
plugin) on that instance from the form, sees the graph grow, opens the NIfTI output in the
viewer, and re-runs it from the graph into a pre-filled form. No request may leave localhost
(the ``page`` fixture). Screenshots go to tests/artifacts/.

The same JupyterLab also has the test Orthanc configured as a PACS: the PACS panel queries it
and retrieves a series with progress, then opens it in the viewer.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from chris_jupyter.dicom import synth
from chris_jupyter.sample import seed_sample_library
from chris_jupyter.widgets import harness as H
from tests.fixtures.browser import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.orthanc, pytest.mark.slow]


PACS_PATIENT = "LABPACS1"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, orthanc):
    root = tmp_path_factory.mktemp("lab-jobs-root")
    scratch = tmp_path_factory.mktemp("lab-jobs-scratch")
    user, _ = seed_sample_library(scratch / "data" / "chris", runner="local")
    # the test Orthanc holds one CT series the PACS panel finds and retrieves (C-GET)
    series = synth.write_ct_series(tmp_path_factory.mktemp("lab-pacs-series") / "s", n_slices=8, rows=64, cols=64,
                                   patient_id=PACS_PATIENT, patient_name="Lab^Pacs",
                                   study_description="LAB PACS STUDY", series_description="Lab axial")
    orthanc.upload(series.paths)
    nodes = {"orthanc": {"ae_title": orthanc.aet, "host": "127.0.0.1", "port": orthanc.dicom_port}}
    with H.jupyterlab_server(root, scratch, artifact_path("jupyterlab-jobs.log"),
                             extra_args=["--ChrisApp.runner=local"],
                             config={"ChrisApp": {"pacs_nodes": nodes}}) as (base, token):
        yield base, token, user


def _api(base: str, token: str, resource: str) -> dict:
    req = urllib.request.Request(f"{base}chris/api/v1/{resource}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _row(page, name: str):
    return page.locator(".chris-lab-library .chris-lab-row", has=page.locator(".chris-lab-name", has_text=name))


def _field(page, name: str):
    return page.locator(f".chris-lab-plugins .chris-lab-field[data-field='{name}']")


def _node(page, state: str | None = None, iid: int | None = None):
    sel = ".chris-lab-feeds .chris-lab-node"
    if iid is not None:
        sel += f"[data-id='{iid}']"
    if state is not None:
        sel += f"[data-state='{state}']"
    return page.locator(sel)


def _viewer_status(page) -> str:
    page.wait_for_function(
        "() => { const w = [...jupyterapp.shell.widgets('main')].find(w => w.content && w.content.volumeId);"
        " const s = w && String(w.content.model.get('status')); return s === 'ready' || (s && s.startsWith('error')); }"
    )
    return page.evaluate(
        "() => [...jupyterapp.shell.widgets('main')].find(w => w.content && w.content.volumeId)"
        ".content.model.get('status')"
    )


def test_run_a_plugin_from_the_form_and_watch_it_in_the_feed_graph(lab, page):
    try:
        _drive(lab, page)
    except Exception:
        page.screenshot(path=str(artifact_path("lab-jobs-failure.png")), full_page=True)
        artifact_path("lab-jobs-failure.txt").write_text(
            page.evaluate("() => document.body.innerText") + "\n\n" + "\n".join(page.console)
        )
        raise


def _drive(lab, page) -> None:
    base, token, user = lab
    series = f"home/{user}/uploads/sample/ct-phantom"
    page.set_default_timeout(60_000)
    page.goto(f"{base}lab?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('chris:open-feeds')")
    labels = page.evaluate("() => ['chris:open-plugins', 'chris:open-feeds'].map(c => jupyterapp.commands.label(c))")
    assert labels == ["Run a plugin", "ChRIS feeds and jobs"], labels
    # the launcher shows a card for each panel
    page.locator(".jp-LauncherCard[data-category='ChRIS']").nth(2).wait_for()
    cards = page.locator(".jp-LauncherCard[data-category='ChRIS'] .jp-LauncherCard-label").all_inner_texts()
    assert {"ChRIS library", "Run a plugin", "ChRIS feeds and jobs"} <= set(cards), cards

    # -- choose the sample series in the library -------------------------------------------------
    page.evaluate("() => jupyterapp.restored.then(() => jupyterapp.commands.execute('chris:open-library'))")
    _row(page, "uploads").click()
    _row(page, "sample").click()
    _row(page, "ct-phantom").click()
    page.wait_for_function(f"() => chrisLab.panel.selectedPath === '{series}'")

    # -- the catalog: search, descriptions --------------------------------------------------------
    page.evaluate("() => jupyterapp.commands.execute('chris:open-plugins')")
    catalog = page.locator(".chris-lab-plugins .chris-lab-plugin")
    catalog.nth(4).wait_for()  # the five reference plugins
    page.locator(".chris-lab-plugins .chris-lab-search").fill("copies library")
    page.wait_for_function("() => document.querySelectorAll('.chris-lab-plugins .chris-lab-plugin').length === 1")
    assert "copies library paths into a new feed" in catalog.first.inner_text()
    page.locator(".chris-lab-plugins").screenshot(path=str(artifact_path("lab-jobs-catalog.png")))
    catalog.first.click()

    # -- the generated form: required parameter, its help and flag; resources within limits ------
    form = page.locator(".chris-lab-plugins .chris-lab-form[data-plugin='pl-dircopy']")
    form.wait_for()
    assert "dir (--dir)" in _field(page, "dir").inner_text()
    assert "comma-separated paths to copy" in _field(page, "dir").inner_text()
    assert _field(page, "resources.cpu_limit").locator("input").get_attribute("min") == "100"
    form.locator(".chris-lab-run").click()
    assert _field(page, "dir").locator(".chris-lab-field-error").inner_text() == "--dir is required"
    _field(page, "resources.memory_limit").locator("input").fill("0")
    form.locator(".chris-lab-run").click()
    assert "Memory must be at least 32 MiB" in _field(page, "resources.memory_limit").inner_text()
    _field(page, "resources.memory_limit").locator("input").fill("")
    assert not _field(page, "resources.memory_limit").locator(".chris-lab-field-error").is_visible()
    # a path that does not exist: the server refuses the run before any job, and the panel says why
    _field(page, "dir").locator("input").fill(f"home/{user}/uploads/no-such-folder")
    form.locator(".chris-lab-run").click()
    refused = page.locator(".chris-lab-plugins .chris-lab-error")
    refused.wait_for()
    assert "cannot run pl-dircopy" in refused.inner_text() and "does not exist" in refused.inner_text(), \
        refused.inner_text()
    refused.locator(".chris-lab-dismiss").click()
    details = page.locator(".chris-lab-feeds .chris-lab-details")
    # a refusal of the server is shown with its message: a feed that does not exist
    page.evaluate("() => jupyterapp.commands.execute('chris:open-feeds', {feedId: 999999})")
    error = page.locator(".chris-lab-feeds .chris-lab-error")
    error.wait_for()
    text = error.inner_text()
    assert text.startswith("cannot show feed 999999: ") and len(text) > len("cannot show feed 999999: "), text
    error.locator(".chris-lab-dismiss").click()

    _field(page, "dir").locator(".chris-lab-use-selection").click()
    assert _field(page, "dir").locator("input").input_value() == series
    form.locator(".chris-lab-title-input").fill("copy of the phantom")
    page.locator(".chris-lab-plugins").screenshot(path=str(artifact_path("lab-jobs-form.png")))
    form.locator(".chris-lab-run").click()

    # -- the feed tab opens on the new job; it reaches finishedSuccessfully from events alone -----
    feeds = page.locator(".chris-lab-feeds")
    feeds.wait_for()
    page.wait_for_function("() => document.querySelector('.chris-lab-feeds .chris-lab-node') !== null")
    copy_id = int(_node(page).first.get_attribute("data-id"))
    _node(page, "finishedSuccessfully", copy_id).wait_for()
    feed_id = _api(base, token, f"instances/{copy_id}")["feed_id"]
    listings = [u for u in page.requested if f"/chris/api/v1/instances?feed_id={feed_id}&" in u]
    assert len(listings) == 1, f"the graph polled the instances instead of following the event stream: {listings}"
    assert any("/chris/api/v1/events?types=plugin_instance.state" in u for u in page.requested)
    details.locator(".chris-lab-details-state", has_text="finishedSuccessfully").wait_for()
    details.locator(".chris-lab-logs", has_text="copied 48 files").wait_for()
    assert "copy of the phantom" in details.locator(".chris-lab-details-title").inner_text()
    assert series in details.locator(".chris-lab-params").inner_text()
    out = details.locator(".chris-lab-output", has=page.locator(".chris-lab-output-name", has_text="ct-phantom/"))
    out.locator(".chris-lab-view").wait_for()  # the copied series can be opened in the viewer
    feeds.screenshot(path=str(artifact_path("lab-jobs-feed-done.png")))

    # -- the feeds list searches by name ---------------------------------------------------------
    search = feeds.locator(".chris-lab-search")
    search.fill("no such feed")
    feeds.locator(".chris-lab-feed-list .chris-lab-empty", has_text="No feed matches").wait_for()
    search.fill("phantom")
    feeds.locator(".chris-lab-feed").first.wait_for()
    assert feeds.locator(".chris-lab-feed").count() == 1

    # -- a ds plugin on that instance, from the form: the graph grows live ------------------------
    page.locator(".chris-lab-plugins .chris-lab-back").click()
    page.evaluate("() => jupyterapp.commands.execute('chris:open-plugins', {plugin: 'pl-dcm2nifti'})")
    form = page.locator(".chris-lab-plugins .chris-lab-form[data-plugin='pl-dcm2nifti']")
    form.wait_for()
    assert form.locator("input[data-param='json']").is_checked()  # store_false flag: on by default
    form.locator(".chris-lab-run").click()
    assert "choose one" in _field(page, "previous").inner_text()
    _field(page, "previous").locator("select").select_option(str(copy_id))
    form.locator(".chris-lab-run").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.chris-lab-feeds .chris-lab-node').length === 2"
        " && document.querySelectorAll('.chris-lab-feeds .chris-lab-edge').length === 1"
    )
    nifti_id = max(int(i) for i in _node(page).evaluate_all("ns => ns.map(n => n.dataset.id)"))
    _node(page, "finishedSuccessfully", nifti_id).wait_for()
    nii = details.locator(".chris-lab-output", has=page.locator(".chris-lab-output-name", has_text=".nii.gz"))
    nii.locator(".chris-lab-view").wait_for()
    feeds.screenshot(path=str(artifact_path("lab-jobs-graph.png")))

    # -- open the output in the viewer ---------------------------------------------------------------
    nii.locator(".chris-lab-view").click()
    page.locator(".chris-lab-viewer .cjv-root").wait_for()
    assert _viewer_status(page) == "ready"
    assert any("/chris/api/v1/volumes/path" in u and ".nii.gz" in u for u in page.requested)
    page.screenshot(path=str(artifact_path("lab-jobs-viewer.png")))

    # -- re-run from the graph: the plugin's form, filled in with the instance's input -----------
    page.evaluate("() => jupyterapp.commands.execute('chris:open-feeds')")
    details.locator(".chris-lab-rerun").click()
    form.wait_for()
    assert _field(page, "previous").locator("select").input_value() == str(copy_id)

    # -- a feed opened afresh shows its latest instance (the chain's last step) with no click ---------
    feed_id = int(page.locator(".chris-lab-feeds .chris-lab-feed-header").get_attribute("data-feed-id"))
    page.goto(f"{base}lab?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('chris:open-feeds')")
    page.evaluate("id => jupyterapp.restored.then(() => jupyterapp.commands.execute('chris:open-feeds', {feedId: id}))",
                  feed_id)
    page.locator(f".chris-lab-feeds .chris-lab-node.chris-lab-selected[data-id='{nifti_id}']").wait_for()
    assert "pl-dcm2nifti" in details.locator(".chris-lab-details-title").inner_text()


def test_pacs_panel_queries_and_retrieves_a_series_with_progress(lab, page):
    try:
        _drive_pacs(lab, page)
    except Exception:
        page.screenshot(path=str(artifact_path("lab-pacs-failure.png")), full_page=True)
        artifact_path("lab-pacs-failure.txt").write_text(
            page.evaluate("() => document.body.innerText") + "\n\n" + "\n".join(page.console)
        )
        raise


def _drive_pacs(lab, page) -> None:
    base, token, _ = lab
    page.set_default_timeout(60_000)
    page.goto(f"{base}lab?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('chris:open-pacs')")
    assert page.evaluate("() => jupyterapp.commands.label('chris:open-pacs')") == "Query PACS"
    page.evaluate("() => jupyterapp.restored.then(() => jupyterapp.commands.execute('chris:open-pacs'))")
    panel = page.locator(".chris-lab-pacs")
    panel.locator(".chris-lab-pacs-node option[value='orthanc']").wait_for(state="attached")

    # a search the panel cannot make is explained, not sent
    panel.locator("input.chris-lab-pacs-from").fill("2024-02-01")
    panel.locator("input.chris-lab-pacs-to").fill("2024-01-01")
    panel.locator(".chris-lab-pacs-query").click()
    assert "the first date is after the last" in panel.locator(".chris-lab-error").inner_text()
    panel.locator("input.chris-lab-pacs-from").fill("")
    panel.locator("input.chris-lab-pacs-to").fill("")

    panel.locator("input.chris-lab-pacs-patientId").fill(PACS_PATIENT)
    panel.locator("input.chris-lab-pacs-modality").fill("ct")
    panel.locator(".chris-lab-pacs-query").click()
    study = panel.locator(".chris-lab-study")
    study.first.wait_for()
    assert study.count() == 1
    assert "Lab, Pacs" in study.inner_text() and "LAB PACS STUDY" in study.inner_text(), study.inner_text()
    study.locator(".chris-lab-series-toggle").click()
    series = study.locator(".chris-lab-series")
    series.first.wait_for()
    assert "Lab axial (8)" in series.first.inner_text()
    series.first.locator(".chris-lab-retrieve").click()
    done = series.first.locator(".chris-lab-retrieval[data-state='done']")
    done.wait_for()
    assert "done: 8 files" in done.inner_text()
    assert done.locator("progress").evaluate("p => p.value") == 100
    assert any("/chris/api/v1/events?types=pacs.progress" in u for u in page.requested)
    panel.screenshot(path=str(artifact_path("lab-pacs-retrieved.png")))
    done.locator(".chris-lab-view").click()
    page.locator(".chris-lab-viewer .cjv-root").wait_for()
    assert _viewer_status(page) == "ready"
    page.screenshot(path=str(artifact_path("lab-pacs-viewer.png")))
