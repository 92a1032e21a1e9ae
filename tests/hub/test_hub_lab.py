"""The JupyterLab panels in a hub user's own server, in Chromium: bob opens, from his Feeds tab, the
output of a feed alice shared with him, in the ChRIS viewer, and then views it from a notebook.

In a hub user's server the page's login cookie counts on a script's request (a module import, a
``fetch``, GET included) only with the ``_xsrf`` token; the viewer's bundle, its volume and its
event stream must all carry it, or the server answers 403 and the viewer never opens.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from chris_jupyter import Client
from chris_jupyter.dicom.synth import write_ct_series
from tests.fixtures.browser import artifact_path
from tests.fixtures.cube_clients import register_flow_plugins

from .conftest import ADMIN, Hub, hub_login_in_browser
from .test_hub_spawner import stop_server

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(1800)]

WAIT_MS = 60_000  # correctness bounds on a loaded 2-core machine, not benchmarks


def test_bob_views_the_output_of_a_feed_alice_shared_in_his_own_lab(hub: Hub, contexts, build_image,
                                                                    tmp_path: Path) -> None:
    register_flow_plugins(Client(hub.service_url, hub.token(ADMIN)), build_image)
    alice = Client(hub.service_url, hub.token("alice"))
    series = tmp_path / "ct-shared"
    write_ct_series(series, n_slices=8, rows=32, cols=32)
    alice.upload(series, "home/alice/lab-view/ct-shared", progress=False, overwrite=True)
    job = alice.run("pl-dircopy", {"dir": "home/alice/lab-view/ct-shared"}, title="for bob's viewer")
    done = alice.wait(job["id"], timeout=300)
    assert done["state"] == "finishedSuccessfully", done
    bob_token = hub.token("bob")  # (bob is a hub user once he has logged in)
    alice.share(feed_id=job["feed_id"], user="bob")

    page = contexts()
    page.set_default_timeout(WAIT_MS)
    answers: dict[str, int] = {}
    page.on("response", lambda r: answers.__setitem__(r.url.split("?")[0], r.status))
    page.goto(f"{hub.url}hub/login")
    hub_login_in_browser(page, "bob")
    try:
        page.wait_for_url(f"{hub.url}user/bob/lab**", timeout=180_000)
        page.goto(f"{hub.url}user/bob/lab?reset")
        page.locator(".jp-LauncherCard[data-category='ChRIS']").first.wait_for(timeout=120_000)
        page.locator(".jp-LauncherCard[data-category='ChRIS']", has_text="ChRIS feeds and jobs").click()
        page.locator(f".chris-lab-feeds .chris-lab-feed[data-feed-id='{job['feed_id']}']").click()
        page.locator(".chris-lab-feeds .chris-lab-node").first.click()
        page.locator(".chris-lab-feeds .chris-lab-details .chris-lab-output .chris-lab-view").first.click()
        page.wait_for_function(
            "() => { const s = document.querySelector('.chris-lab-viewer .cjv-status');"
            " const e = document.querySelector('.chris-lab-viewer .chris-lab-error');"
            " return (s && ['ready'].includes(s.textContent)) || (s && s.textContent.startsWith('error')) || e; }",
            timeout=120_000,
        )
        status = page.locator(".chris-lab-viewer .cjv-status, .chris-lab-viewer .chris-lab-error").first.inner_text()
        bundle = f"{hub.url}user/bob/chris/api/v1/viewer/viewer.js"
        assert status == "ready", (status, {u: s for u, s in answers.items() if "/chris/api/v1/" in u})
        assert answers.get(bundle) == 200, answers
        volumes = [s for u, s in answers.items() if u.startswith(f"{hub.url}user/bob/chris/api/v1/volumes/")]
        assert volumes and set(volumes) <= {200, 206}, answers

        # and in a notebook of his: view() of the same series, its bundle imported from his server
        # (not sent through the kernel's comm, the fallback when the server answers 403)
        code = f"import chris_jupyter as cj\ncj.view('{done['output_path']}/ct-shared')"
        nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"cell_type": "code", "source": code, "metadata": {}, "outputs": [], "execution_count": None}]}
        r = httpx.put(f"{hub.url}user/bob/api/contents/view-shared.ipynb", timeout=60,
                      headers={"Authorization": f"token {bob_token}"},
                      json={"type": "notebook", "format": "json", "content": nb})
        assert r.status_code in (200, 201), r.text
        page.goto(f"{hub.url}user/bob/lab/tree/view-shared.ipynb")
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # its kernel is up
        page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(
            "() => { const r = document.querySelector('.jp-NotebookPanel .cjv-root');"
            " const v = r && r.parentElement.chrisViewer; const s = v && String(v.model.get('status'));"
            " return s === 'ready' || (s && s.startsWith('error')); }", timeout=120_000)
        got = page.evaluate("() => { const v = document.querySelector('.jp-NotebookPanel .cjv-root')"
                            ".parentElement.chrisViewer; return [v.model.get('status'), v.bundle.via]; }")
        assert got == ["ready", "server"], got
    except Exception:
        page.screenshot(path=str(artifact_path("hub-lab-failure.png")))
        raise
    finally:
        stop_server(hub, "bob", bob_token)
