"""The panels in real JupyterLab: a notebook displays the library browser and a launch form;
Chromium clicks and types in them and sees them react.

JupyterLab (the venv's, with the chris server extension) runs as a subprocess; the kernel's
``Client()`` finds that server by itself. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json

import pytest

from chris_jupyter.widgets import harness as H
from tests.fixtures.browser import artifact_path

pytestmark = pytest.mark.browser

SETUP = """\
import tempfile, pathlib
import chris_jupyter as cj
from chris_jupyter.dicom import synth
from chris_jupyter.widgets import JobMonitor, LaunchForm, LibraryBrowser
c = cj.Client()
me = c.me()['username']
work = pathlib.Path(tempfile.mkdtemp())
synth.write_ct_series(work / 'ct', n_slices=8, rows=64, cols=64, patient_id='LABPANEL1',
                      patient_name='Lab^Panel')
c.upload(work / 'ct', f'home/{me}/uploads/labpanel/ct', overwrite=True, progress=False)
if not c.plugins('pl-labform'):
    c.register_plugin(descriptor={
        'name': 'pl-labform', 'version': '1.0.0', 'type': 'fs', 'title': 'Lab form',
        'dock_image': 'local/pl-labform', 'selfexec': 'labform', 'selfpath': '/nowhere', 'execshell': '',
        'min_cpu_limit': '100m', 'max_cpu_limit': '2000m', 'min_memory_limit': '64Mi', 'max_memory_limit': '1Gi',
        'parameters': [
            {'name': 'dir', 'type': 'path', 'flag': '--dir', 'optional': False, 'help': 'folder to read'},
            {'name': 'level', 'type': 'int', 'flag': '--level', 'optional': True, 'default': 2,
             'help': 'how hard to try'},
            {'name': 'fast', 'type': 'bool', 'flag': '--fast', 'action': 'store_true', 'optional': True,
             'default': False, 'help': 'go fast'},
        ]})
print('SETUP DONE', me)
"""
BROWSER = "b = LibraryBrowser(c, f'home/{me}/uploads')\nb"
FORM = """\
from IPython.display import display
m = JobMonitor(c)
f = LaunchForm('pl-labform', c, monitor=m)
display(f, m)
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-panels-root")
    (root / "panels.ipynb").write_text(json.dumps(H.notebook([SETUP, BROWSER, FORM])))
    scratch = tmp_path_factory.mktemp("lab-panels-scratch")
    with H.jupyterlab_server(root, scratch, artifact_path("jupyterlab-panels.log")) as (base, token):
        yield base, token


def _text(page) -> str:
    return page.evaluate("() => document.body.innerText")


def test_panels_render_and_react_in_jupyterlab(lab, page):
    try:
        _drive(lab, page)
    except Exception:
        page.screenshot(path=str(artifact_path("panels-lab-failure.png")), full_page=True)
        artifact_path("panels-lab-failure.txt").write_text(_text(page) + "\n\n" + "\n".join(page.console))
        raise


def _drive(lab, page) -> None:
    base, token = lab
    page.set_default_timeout(120_000)
    page.goto(f"{base}lab/tree/panels.ipynb?reset&token={token}")
    page.wait_for_function(H.KERNEL_READY_JS)
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => document.body.innerText.includes('SETUP DONE')")

    # -- the library browser: tree, lazy expand, search, open in the viewer --------------------
    browser = page.locator(".chris-library-browser")
    browser.wait_for()
    row = browser.locator(".chris-row", has_text="labpanel")
    row.wait_for()
    assert browser.locator(".chris-row").count() >= 1
    row.locator(".chris-toggle").click()  # expand: the kernel fetches the folder's first page
    browser.locator(".chris-row", has_text="ct").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('.chris-library-browser .chris-row').length >= 2")
    search = browser.locator(".chris-search input")
    search.fill("LABPANEL")
    search.press("Enter")
    series = browser.locator(".chris-series")
    series.wait_for()
    assert "Lab^Panel" in browser.inner_text()
    browser.screenshot(path=str(artifact_path("panels-lab-browser.png")))
    series.locator(".chris-view").click()
    page.locator(".chris-library-browser .cjv-root").wait_for()  # the viewer opened below
    page.wait_for_function(
        "() => { const r = document.querySelector('.chris-library-browser .cjv-root');"
        " const v = r && r.parentElement.chrisViewer; const s = v && String(v.model.get('status'));"
        " return s === 'ready' || (s && s.startsWith('error')); }"
    )
    status = page.evaluate(
        "() => document.querySelector('.chris-library-browser .cjv-root').parentElement.chrisViewer.model.get('status')"
    )
    assert status == "ready", status
    assert any("/chris/api/v1/volumes/series" in u for u in page.requested)

    # -- the launch form: inputs from the descriptor, server refusal, then a run --------------
    form = page.locator(".chris-launch-form")
    form.scroll_into_view_if_needed()
    assert "dir *" in form.inner_text() and "Lab form" in form.inner_text()
    level = form.locator(".chris-param-int input")
    assert level.input_value() == "2"
    assert form.locator(".chris-param-checkbox input[type=checkbox]").count() == 1
    assert form.locator(".chris-resource").count() == 2
    form.locator(".chris-run").click()
    form.locator(".chris-msg-error").wait_for()  # the server names the missing parameter
    assert "required" in form.locator(".chris-msg-error").inner_text()
    form.screenshot(path=str(artifact_path("panels-lab-form-refused.png")))
    path = form.locator(".chris-param-path input")
    me = page.evaluate("() => document.body.innerText.match(/SETUP DONE (\\S+)/)[1]")
    path.fill(f"home/{me}/uploads/labpanel/ct")
    path.press("Tab")
    level.fill("5")
    level.press("Tab")
    form.locator(".chris-run").click()
    form.locator(".chris-msg-ok").wait_for()
    assert "started job #" in form.locator(".chris-msg-ok").inner_text()
    # the monitor follows the job; its final state is pushed by the kernel's event thread
    # (this plugin has no program anywhere, so the runner ends it with an error)
    final = page.locator(".chris-job-monitor .chris-job .chris-state[data-state=finishedWithError]")
    final.wait_for()
    assert "1/1 finished" in page.locator(".chris-job-monitor").inner_text()
    page.locator(".chris-job-monitor").screenshot(path=str(artifact_path("panels-lab-monitor.png")))
    form.screenshot(path=str(artifact_path("panels-lab-form.png")))
    page.screenshot(path=str(artifact_path("panels-lab-page.png")), full_page=True)
