"""The JupyterLab extension's Library panel in real JupyterLab and real Chromium.

JupyterLab (the venv's, with the chris server extension and the package's prebuilt lab
extension) runs as a subprocess on a library seeded with the sample data; Chromium opens the
panel from the command palette's command, sees the sample, drops files on it and watches them
upload and appear, sees a refusal of the server shown in the panel, and opens the sample series
in the viewer tab. No request may leave localhost (the ``page`` fixture). Screenshots go to
tests/artifacts/.
"""

from __future__ import annotations

import urllib.request

import httpx
import pytest

from chris_jupyter.sample import seed_sample_library
from chris_jupyter.widgets import harness as H
from tests.fixtures.browser import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-library-root")
    scratch = tmp_path_factory.mktemp("lab-library-scratch")
    # the same data folder the lab's ChrisApp uses by default (<jupyter data dir>/chris)
    user, _ = seed_sample_library(scratch / "data" / "chris", runner="local")
    with H.jupyterlab_server(root, scratch, artifact_path("jupyterlab-library.log")) as (base, token):
        yield base, token, user


def _row(page, name: str):
    return page.locator(".chris-lab-library .chris-lab-row", has=page.locator(".chris-lab-name", has_text=name))


DROP_JS = """([names, folder]) => {
  const dt = new DataTransfer();
  for (const n of names) dt.items.add(new File([n.repeat(5000)], n, {type: 'text/plain'}));
  const target = folder
    ? [...document.querySelectorAll('.chris-lab-library .chris-lab-row')]
        .find(r => r.dataset.path.endsWith('/' + folder))
    : document.querySelector('.chris-lab-library .chris-lab-scroller');
  for (const type of ['dragenter', 'dragover', 'drop'])
    target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""


# the same, with given contents for every file: (names, folder, text)
DROP_JS_WITH = DROP_JS.replace("([names, folder])", "([names, folder, text])").replace("n.repeat(5000)", "text")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def test_library_panel_lists_uploads_and_views(lab, page):
    try:
        _drive(lab, page)
    except Exception:
        page.screenshot(path=str(artifact_path("lab-library-failure.png")), full_page=True)
        artifact_path("lab-library-failure.txt").write_text(
            page.evaluate("() => document.body.innerText") + "\n\n" + "\n".join(page.console)
        )
        raise


def _drive(lab, page) -> None:
    base, token, user = lab
    page.set_default_timeout(60_000)
    page.goto(f"{base}lab?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('chris:open-library')")
    # the palette and the launcher know the command
    assert page.evaluate("() => jupyterapp.commands.label('chris:open-library')") == "ChRIS library"
    page.evaluate("() => jupyterapp.restored.then(() => jupyterapp.commands.execute('chris:open-library'))")
    panel = page.locator(".chris-lab-library")
    panel.wait_for()
    page.wait_for_function(f"() => document.querySelector('.chris-lab-path').textContent === 'home/{user}'")

    # -- the sample library, lazily: uploads/ then sample/ then the series folder ----------------
    _row(page, "uploads").click()
    _row(page, "sample").click()
    _row(page, "ct-phantom").wait_for()
    _row(page, "README.txt").wait_for()
    series = _row(page, "ct-phantom")
    series.click()  # expand: its DICOM files make it a series the viewer can open
    page.wait_for_function(
        "() => document.querySelectorAll('.chris-lab-library .chris-lab-row.chris-lab-file').length >= 10"
    )
    # virtualised: 48 slices listed, far fewer rows drawn than the tree holds once scrolled
    assert series.locator(".chris-lab-view").count() == 1
    drawn = page.evaluate("() => document.querySelectorAll('.chris-lab-library .chris-lab-row').length")
    assert drawn < 4 + 48 + 2, drawn  # virtualised: rows out of view are not drawn
    panel.screenshot(path=str(artifact_path("lab-library-panel.png")))
    series.locator(".chris-lab-name").click()  # collapse the series again
    page.wait_for_function(
        "() => document.querySelectorAll('.chris-lab-library .chris-lab-row.chris-lab-file').length < 5"
    )

    # -- upload by drag and drop onto a folder: per-file progress, then the files appear ---------
    page.evaluate(DROP_JS, [["dropped-a.txt", "dropped-b.txt"], "sample"])
    page.locator(".chris-lab-upload-item[data-state=done]").nth(1).wait_for()
    _row(page, "dropped-a.txt").wait_for()
    _row(page, "dropped-b.txt").wait_for()
    assert any(f"files/content?path=home%2F{user}%2Fuploads%2Fsample%2Fdropped-a.txt" in u for u in page.requested)
    assert "Uploads (0 in progress)" in panel.locator(".chris-lab-uploads").inner_text()
    panel.screenshot(path=str(artifact_path("lab-library-uploaded.png")))

    # -- files the library already has: one question for the batch; keep them, or replace them ------
    dest = f"home/{user}/uploads/sample/dropped-a.txt"
    panel.locator(".chris-lab-clear").click()  # the finished uploads leave the list
    page.locator(".chris-lab-upload-item").first.wait_for(state="detached")
    before = httpx.get(f"{base}chris/api/v1/files/content", params={"path": dest}, headers=_auth(token)).content
    page.evaluate(DROP_JS_WITH, [["dropped-a.txt"], "sample", "new content"])
    dialog = page.locator(".jp-Dialog")
    assert "Replace the existing file?" in dialog.locator(".jp-Dialog-header").inner_text()
    assert dest in dialog.locator(".jp-Dialog-body").inner_text()
    dialog.locator(".jp-mod-reject").click()  # Keep existing
    page.locator(f".chris-lab-upload-item[data-state=skipped][data-dest='{dest}']").wait_for()
    assert httpx.get(f"{base}chris/api/v1/files/content", params={"path": dest}, headers=_auth(token)).content == before
    page.evaluate(DROP_JS_WITH, [["dropped-a.txt", "dropped-b.txt"], "sample", "new content"])
    assert "Replace 2 existing files?" in dialog.locator(".jp-Dialog-header").inner_text()
    dialog.locator(".jp-mod-accept").click()  # Replace
    page.locator(f".chris-lab-upload-item[data-state=done][data-dest='{dest}']").last.wait_for()
    assert httpx.get(f"{base}chris/api/v1/files/content", params={"path": dest}, headers=_auth(token)).content \
        == b"new content"
    assert panel.locator(".chris-lab-error").is_hidden()  # a conflict is a question, not an error

    # -- rename, with the dialog -------------------------------------------------------------------
    _row(page, "dropped-b.txt").hover()
    _row(page, "dropped-b.txt").locator(".chris-lab-rename").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("renamed-b.txt")
    dialog.locator(".jp-mod-accept").click()
    _row(page, "renamed-b.txt").wait_for()

    # -- delete asks first; cancel keeps the file, accept removes it -------------------------------
    _row(page, "renamed-b.txt").hover()
    _row(page, "renamed-b.txt").locator(".chris-lab-delete").click()
    page.locator(".jp-Dialog .jp-mod-reject").click()
    assert _row(page, "renamed-b.txt").count() == 1
    _row(page, "renamed-b.txt").hover()
    _row(page, "renamed-b.txt").locator(".chris-lab-delete").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.chris-lab-library .chris-lab-name')]"
        ".some(n => n.textContent === 'renamed-b.txt')"
    )

    # -- live: a file written by another client appears from the event stream, no click ----------
    req = urllib.request.Request(
        f"{base}chris/api/v1/files/content?path=home/{user}/uploads/sample/from-elsewhere.txt",
        data=b"hello", method="PUT", headers={"Authorization": f"token {token}"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201
    _row(page, "from-elsewhere.txt").wait_for()
    assert any("/chris/api/v1/events?types=" in u for u in page.requested)

    # -- open the sample series in the viewer tab ----------------------------------------------------
    series.locator(".chris-lab-view").click()
    page.locator(".chris-lab-viewer .cjv-root").wait_for()
    page.wait_for_function(
        "() => { const w = [...jupyterapp.shell.widgets('main')].find(w => w.content && w.content.volumeId);"
        " const s = w && String(w.content.model.get('status')); return s === 'ready' || (s && s.startsWith('error')); }"
    )
    status = page.evaluate(
        "() => [...jupyterapp.shell.widgets('main')].find(w => w.content && w.content.volumeId)"
        ".content.model.get('status')"
    )
    assert status == "ready", status
    assert any("/chris/api/v1/volumes/path" in u for u in page.requested)
    page.screenshot(path=str(artifact_path("lab-library-viewer.png")))
