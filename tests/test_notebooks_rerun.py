"""Example notebooks run twice in a row on the same server, and the second run leaves the server as
the first did: no data, feeds, pipelines, links or users piling up.

Here every notebook on a plain server: the local runner and no PACS configured (what
``chris-jupyter up`` gives without Docker), where 02 must say what to configure and the plugin
notebooks register installed commands instead of images. tests/test_notebooks.py runs them twice,
with the same helpers, on the servers with the Docker runner and a PACS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.notebooks import outputs_text, run_twice


@pytest.fixture(scope="module")
def plain_server(chris_server_factory):
    """A server with the local runner and no PACS configured."""
    return chris_server_factory(config={"ChrisApp": {"runner": "local"}})


@pytest.mark.parametrize("name", ["01-library", "02-dicom-pacs", "03-plugins-pipelines", "04-panels",
                                  "05-viewer-collaboration"])
def test_notebook_runs_twice_without_pacs_or_docker(name: str, plain_server, tmp_path: Path, monkeypatch) -> None:
    first, second = run_twice(name, plain_server, tmp_path, monkeypatch)
    if name == "02-dicom-pacs":  # no PACS here: the notebook says what to configure
        for nb in (first, second):
            assert "No PACS is configured" in outputs_text(nb) and '"pacs_nodes"' in outputs_text(nb)
