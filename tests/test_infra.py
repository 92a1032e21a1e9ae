"""The test infrastructure itself, run for real: service scripts, offline images, databases."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.fixtures.services import IMAGES, SCRIPTS, run_script


@pytest.mark.docker
def test_base_image_runs_python_offline_as_uid_1000(docker_client, base_image):
    script = (
        "import os, socket, sys, venv, ssl;"
        "print(os.getuid(), '%d.%d.%d' % sys.version_info[:3],"
        " [n for _, n in socket.if_nameindex()])"
    )
    out = docker_client.containers.run(
        base_image,
        ["python3", "-c", script],
        user="1000:1000",
        network_mode="none",
        remove=True,
    )
    uid, version, interfaces = out.decode().split(" ", 2)
    assert uid == "1000"
    assert version == "3.11.2"
    assert interfaces.strip() == "['lo']"


@pytest.mark.docker
def test_example_plugin_image_builds_offline_and_runs(docker_client, build_image, tmp_path):
    context = tmp_path / "context"
    shutil.copytree(IMAGES / "example", context)
    tag = build_image(context, "chris-jupyter/test-hello:latest")
    image = docker_client.images.get(tag)
    assert image.attrs["Config"]["User"] == "1000:1000"
    assert image.labels["org.chris-jupyter.context-hash"]
    # An unchanged context is not rebuilt.
    assert build_image(context, tag) == tag
    assert docker_client.images.get(tag).id == image.id

    incoming, outgoing = tmp_path / "in", tmp_path / "out"
    (incoming / "sub").mkdir(parents=True)
    (incoming / "a.txt").write_text("hi\n")
    (incoming / "sub" / "b.bin").write_bytes(bytes(1000))
    outgoing.mkdir()
    shutil.chown(outgoing, 1000, 1000)
    docker_client.containers.run(
        tag,
        ["hello", "--name", "test", "/incoming", "/outgoing"],
        network_mode="none",
        volumes={
            str(incoming): {"bind": "/incoming", "mode": "ro"},
            str(outgoing): {"bind": "/outgoing", "mode": "rw"},
        },
        remove=True,
    )
    report = yaml.safe_load((outgoing / "hello.yaml").read_text())
    assert report["greeting"] == "Hello, test!"
    assert report["uid"] == 1000
    assert report["files"] == [
        {"path": "a.txt", "size": 3},
        {"path": "sub/b.bin", "size": 1000},
    ]
    assert (outgoing / "hello.yaml").stat().st_uid == 1000


def test_db_url_gives_an_empty_working_database(db_url):
    engine = sa.create_engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        meta = sa.MetaData()
        notes = sa.Table(
            "notes",
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("text", sa.String(100), nullable=False),
        )
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(notes.insert(), [{"text": "first"}, {"text": "second"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(notes.c.text).order_by(notes.c.id)).scalars().all()
        assert rows == ["first", "second"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_start_postgres_is_idempotent(postgres_server_url):
    proc = run_script(SCRIPTS / "start-postgres", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == postgres_server_url


@pytest.mark.docker
def test_start_docker_reuses_the_running_engine(docker_client):
    proc = run_script(SCRIPTS / "start-docker", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout


@pytest.mark.browser
def test_chromium_renders_a_page_headless(chromium_executable, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body><p id='x'>chris</p><script>"
        "document.getElementById('x').textContent += '-ok'</script></body></html>"
    )
    proc = subprocess.run(
        [
            chromium_executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "chris-ok" in proc.stdout, proc.stderr[-2000:]


def test_infra_scripts_are_executable():
    names = ["install-deps", "start-docker", "start-postgres", "stop-postgres", "test", "up", "bench"]
    for path in [*(SCRIPTS / n for n in names), *IMAGES.glob("*.sh")]:
        assert path.stat().st_mode & 0o111, f"{path} is not executable"
    assert Path(SCRIPTS.parent / ".ci" / "run").read_text().strip().endswith("exec bash scripts/test")


SKIP_CASES = '''
import pytest

def test_needs_chromium(chromium_executable):
    pass

def test_skips():
    pytest.skip("some reason")

@pytest.mark.may_skip("allowed: the reason a skip cannot be avoided")
def test_allowed_skip():
    pytest.skip("allowed")

def test_runs():
    pass
'''


def _pytest_in(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run pytest with the services plugin on the small test file above, Chromium made missing."""
    import os
    import sys

    (tmp_path / "test_cases.py").write_text(SKIP_CASES)
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": repo, "CHRIS_CHROMIUM": str(tmp_path / "no-chromium")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.fixtures.services", "-p", "no:cacheprovider", "-ra",
         "--rootdir", str(tmp_path), "-c", os.devnull, *args, str(tmp_path / "test_cases.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_missing_service_or_a_skip_fails_the_run(tmp_path):
    proc = _pytest_in(tmp_path, "-k", "needs_chromium or runs")
    assert proc.returncode == 1, proc.stdout
    assert "1 passed, 2 deselected, 1 error" in proc.stdout and "Chromium not found" in proc.stdout
    proc = _pytest_in(tmp_path, "-k", "skips or allowed or runs")
    assert proc.returncode == 1, proc.stdout
    assert "skipped tests fail this run" in proc.stdout and "SKIPPED test_cases.py::test_skips" in proc.stdout
    assert "test_allowed_skip" not in proc.stdout.split("skipped tests fail this run")[1]
    proc = _pytest_in(tmp_path, "-k", "allowed or runs")  # only the allowed skip
    assert proc.returncode == 0, proc.stdout


def test_allow_missing_services_skips_instead(tmp_path):
    proc = _pytest_in(tmp_path, "--allow-missing-services")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 3 skipped" in proc.stdout and "Chromium not found" in proc.stdout
