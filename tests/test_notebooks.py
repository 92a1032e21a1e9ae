"""Every example notebook runs, top to bottom, against a real server (with a real PACS)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.fixtures.notebooks import execute_notebook, run_twice

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_checks_what_it_shows(path: Path) -> None:
    """Running is not enough: each notebook asserts the states, counts and shapes it shows."""
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if c.cell_type == "code" and "\nassert " in "\n" + c.source]
    assert len(checks) >= 3, f"{path.name} has {len(checks)} cells with top-level asserts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, notebook_servers, pacs_demo_study, tmp_path: Path, monkeypatch) -> None:
    """Top to bottom without an error, and (but 02, which pulls its study from the PACS) twice in a
    row leaving the server as the first run did (tests/test_notebooks_rerun.py: the local runner)."""
    notebook_server = notebook_servers("auto")  # Docker and the test PACS
    if path.stem == "02-dicom-pacs":
        monkeypatch.setenv("CHRIS_URL", notebook_server.url)
        monkeypatch.setenv("CHRIS_TOKEN", notebook_server.token)
        nb = execute_notebook(path.stem, tmp_path)
    else:
        nb, _ = run_twice(path.stem, notebook_server, tmp_path, monkeypatch)
    artifacts = Path(__file__).parent / "artifacts" / "notebooks"
    artifacts.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, artifacts / path.name)  # the executed notebook, to look at
    if path.stem == "02-dicom-pacs":  # it pulled its own study from the PACS, not any study
        from chris_jupyter import Client

        found = Client(notebook_server.url, notebook_server.token).studies(uid=pacs_demo_study.study_uid)
        assert found["total"] == 1 and found["items"][0]["pacs"] == "orthanc", found
