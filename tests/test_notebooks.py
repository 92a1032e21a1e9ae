"""Every example notebook runs, top to bottom, against a real server (with a real PACS)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from chris_jupyter.dicom import synth
from chris_jupyter.testing import free_port

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="session")
def reference_images(build_image):
    """The reference plugins' images under the tags `chris-jupyter up` looks for."""
    import tomllib

    plugins = Path(__file__).parent.parent / "spawners" / "plugins"
    for d in sorted(plugins.glob("pl-*")):
        version = tomllib.loads((d / "pyproject.toml").read_text())["project"]["version"]
        build_image(d, f"chris-jupyter/{d.name}:{version}")


# Notebooks whose demo registers a plugin from this environment run with the local runner.
LOCAL_RUNNER = {"04-panels"}


@pytest.fixture(scope="session")
def pacs_demo_study(orthanc, tmp_path_factory):
    """The CT study notebook 02 looks for on the PACS (its ``PATIENT_ID``)."""
    info = synth.write_ct_series(tmp_path_factory.mktemp("nb-pacs"), n_slices=20, rows=96, cols=96,
                                 patient_id="NBPACS01", patient_name="Notebook^Demo",
                                 study_description="NOTEBOOK DEMO CT")
    orthanc.upload(info.paths)
    return info


@pytest.fixture(scope="session")
def notebook_servers(orthanc, chris_server_factory, pacs_demo_study, reference_images):
    """Servers (per runner) that know the test Orthanc as PACS 'orthanc', holding one CT study."""
    servers: dict[str, object] = {}

    def get(runner: str):  # noqa: ANN202
        if runner not in servers:
            port = free_port()
            servers[runner] = chris_server_factory(config={"ChrisApp": {
                "runner": runner, "dicom_receiver_port": port,
                "pacs_nodes": {"orthanc": {"ae_title": orthanc.aet, "host": "127.0.0.1",
                                           "port": orthanc.dicom_port}},
            }})
            orthanc.add_modality(f"chris-notebooks-{runner}", "CHRIS", "127.0.0.1", port)
        return servers[runner]

    return get


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_checks_what_it_shows(path: Path) -> None:
    """Running is not enough: each notebook asserts the states, counts and shapes it shows."""
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if c.cell_type == "code" and "\nassert " in "\n" + c.source]
    assert len(checks) >= 3, f"{path.name} has {len(checks)} cells with top-level asserts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, notebook_servers, pacs_demo_study, tmp_path: Path, monkeypatch) -> None:
    notebook_server = notebook_servers("local" if path.stem in LOCAL_RUNNER else "auto")
    monkeypatch.setenv("CHRIS_URL", notebook_server.url)
    monkeypatch.setenv("CHRIS_TOKEN", notebook_server.token)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    artifacts = Path(__file__).parent / "artifacts" / "notebooks"
    artifacts.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, artifacts / path.name)  # the executed notebook, to look at
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    if path.stem == "02-dicom-pacs":  # it pulled its own study from the PACS, not any study
        from chris_jupyter import Client

        found = Client(notebook_server.url, notebook_server.token).studies(uid=pacs_demo_study.study_uid)
        assert found["total"] == 1 and found["items"][0]["pacs"] == "orthanc", found
