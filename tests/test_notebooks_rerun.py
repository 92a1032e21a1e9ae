"""Example notebooks run twice in a row on the same server, and the second run leaves the server as
the first did: no data, feeds, pipelines, links or users piling up.

On the servers of tests/test_notebooks.py (the runner each notebook needs, a PACS) and, for the
notebooks that need no plugin image, on a plain server: the local runner and no PACS configured
(what ``chris-jupyter up`` gives without Docker), where 02 must say what to configure."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from chris_jupyter import Client
from tests.fixtures.notebooks import LOCAL_RUNNER

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"

# Appended to a notebook's copy and run in its kernel: what must still hold when it has ended.
AFTER = {
    "04-panels": "assert form.comm is not None and monitor.comm is not None, 'a panel was closed'\n"
                 "assert monitor.follower.running and monitor.state_shown(job['id']) == 'finishedSuccessfully'",
}


@pytest.fixture(scope="module")
def plain_server(chris_server_factory):
    """A server with the local runner and no PACS configured."""
    return chris_server_factory(config={"ChrisApp": {"runner": "local"}})


def _footprint(c: Client) -> dict[str, object]:
    me = c.me()["username"]
    return {
        "files": c.search(under=f"home/{me}", limit=1)["total"],
        "feeds": len(c.feeds()),
        "pipelines": len(c.pipelines()),
        "users": sorted(u["username"] for u in c.get("users")["items"]),
        "active links": len([lk for lk in c.get("links")["items"] if not lk["revoked"]]),
        "studies": c.studies(limit=1)["total"],
    }


def _execute(name: str, tmp_path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if name in AFTER:
        nb.cells.append(nbformat.v4.new_code_cell(AFTER[name]))
    tmp_path.mkdir(parents=True, exist_ok=True)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _twice(name: str, server, tmp_path: Path, monkeypatch) -> tuple:  # noqa: ANN001
    monkeypatch.setenv("CHRIS_URL", server.url)
    monkeypatch.setenv("CHRIS_TOKEN", server.token)
    c = Client(server.url, server.token)
    first = _execute(name, tmp_path / "first")
    after_first = _footprint(c)
    second = _execute(name, tmp_path / "second")
    assert _footprint(c) == after_first  # the second run replaced or removed what it made
    return first, second


@pytest.mark.parametrize("name", ["01-library", "03-plugins-pipelines", "04-panels", "05-viewer-collaboration"])
def test_notebook_runs_twice_on_the_test_servers(name: str, notebook_servers, tmp_path: Path,
                                                  monkeypatch) -> None:
    _twice(name, notebook_servers("local" if name in LOCAL_RUNNER else "auto"), tmp_path, monkeypatch)


@pytest.mark.parametrize("name", ["01-library", "02-dicom-pacs", "04-panels"])
def test_notebook_runs_twice_without_pacs_or_docker(name: str, plain_server, tmp_path: Path, monkeypatch) -> None:
    first, second = _twice(name, plain_server, tmp_path, monkeypatch)
    if name == "02-dicom-pacs":  # no PACS here: the notebook says what to configure
        for nb in (first, second):
            assert "No PACS is configured" in _text(nb) and '"pacs_nodes"' in _text(nb)
