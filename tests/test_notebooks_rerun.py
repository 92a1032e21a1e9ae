"""Example notebooks run twice in a row on the same server, and the second run leaves the server as
the first did: no data, feeds, pipelines, links or users piling up. Runs on a server without PACS,
with the local runner (what ``chris-jupyter up`` gives without Docker)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from chris_jupyter import Client

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


@pytest.mark.parametrize("name", ["01-library", "02-dicom-pacs", "03-plugins-pipelines", "04-panels"])
def test_notebook_runs_twice_without_piling_up(name: str, plain_server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHRIS_URL", plain_server.url)
    monkeypatch.setenv("CHRIS_TOKEN", plain_server.token)
    c = Client(plain_server.url, plain_server.token)
    first = _execute(name, tmp_path / "first")
    after_first = _footprint(c)
    second = _execute(name, tmp_path / "second")
    assert _footprint(c) == after_first  # the second run replaced or removed what it made
    if name == "02-dicom-pacs":  # no PACS here: the notebook says what to configure
        for nb in (first, second):
            assert "No PACS is configured" in _text(nb) and '"pacs_nodes"' in _text(nb)
