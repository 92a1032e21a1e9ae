"""What the client shows in an executed notebook: tables, and progress bars that survive saving."""

from __future__ import annotations

import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _run(cells: list[str], server, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("CHRIS_URL", server.url)
    monkeypatch.setenv("CHRIS_TOKEN", server.token)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    return nb


def _html(cell: nbformat.NotebookNode) -> str:
    return "".join(o["data"].get("text/html", "") for o in cell.outputs
                   if o.get("output_type") in ("execute_result", "display_data"))


def test_results_display_as_escaped_tables(chris_server, tmp_path: Path, monkeypatch) -> None:
    tag = uuid.uuid4().hex[:6]
    (tmp_path / "scan.txt").write_text("hello")
    nb = _run([
        "from chris_jupyter import Client\nc = Client()\nhome = f\"home/{c.me()['username']}\"",
        f"c.mkdir(f'{{home}}/uploads/t{tag}/<b>bold&')\n"
        f"c.upload('scan.txt', f'{{home}}/uploads/t{tag}/scan.txt', progress=False)\n"
        f"listing = c.ls(f'{{home}}/uploads/t{tag}')\nlisting",
        "assert listing['total'] == 2 and isinstance(listing, dict)\n"
        "assert listing.data == listing and type(listing.data) is dict\nc.search(name='scan.txt')",
        "c.plugins()",
        "c.studies()",
        "c.instances()",
        "c.get('dicom/studies')",
    ], chris_server, tmp_path, monkeypatch)
    listing, search, plugins, studies, jobs, raw_studies = (_html(nb.cells[i]) for i in range(1, 7))
    assert "<table" in listing and "scan.txt" in listing and "<th>name</th>" in listing
    assert "&lt;b&gt;bold&amp;" in listing and "<b>bold" not in listing  # every value escaped
    assert "<table" in search and "scan.txt" in search
    assert "<table" in plugins and "plugins" in plugins
    assert "<table" in studies and "studies" in studies
    assert "<table" in jobs and "jobs" in jobs
    assert "<table" in raw_studies


def test_progress_bars_survive_a_saved_notebook(chris_server, tmp_path: Path, monkeypatch) -> None:
    tag = uuid.uuid4().hex[:6]
    (tmp_path / "big.bin").write_bytes(b"x" * (3 * 1024 * 1024))
    nb = _run([
        "from chris_jupyter import Client\nc = Client()\nhome = f\"home/{c.me()['username']}\"",
        f"c.upload('big.bin', f'{{home}}/uploads/p{tag}/big.bin')",
        f"c.download(f'{{home}}/uploads/p{tag}/big.bin', 'back.bin')",
    ], chris_server, tmp_path, monkeypatch)
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    reopened = nbformat.read(saved, as_version=4)  # no kernel, no widget state: what a reader sees
    for cell in reopened.cells[1:]:
        outputs = [o for o in cell.outputs if o.get("output_type") in ("display_data", "execute_result")]
        assert not [o for o in outputs if WIDGET_VIEW in o["data"]], "a widget bar was saved"
        shown = " ".join(o["data"].get("text/plain", "") for o in outputs)
        assert "100%" in shown and "3.00M/3.00M" in shown, shown
