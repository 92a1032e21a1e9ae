"""What a new user meets: ``chris-jupyter up`` says where things are and how to open the lab, and
the README's notebook examples work as written for the user ``up`` creates."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chris_jupyter import Client
from chris_jupyter.testing import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_notebook_block() -> list[str]:
    text = README.read_text()
    start = text.index("### In a notebook")
    block = text[start:].split("```python", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_up_prints_the_url_the_sample_and_the_sandbox_warning_and_readme_paths_work(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env.update({f"JUPYTER_{k}_DIR": str(tmp_path / k.lower()) for k in ("CONFIG", "DATA", "RUNTIME")})
    log_path = tmp_path / "up.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "chris_jupyter.cli", "up", "--port", str(port), "--no-browser", "--runner", "local",
         "--data-dir", str(tmp_path / "data"), "--workspace", str(tmp_path / "ws")],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (m := re.search(rf"(http://127\.0\.0\.1:{port}/)lab\?token=(\w+)", log_path.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        url, token = m.group(1), m.group(2)
        while True:  # the printed URL, token included, opens the lab
            try:
                lab = httpx.get(f"{url}lab?token={token}", follow_redirects=True)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
        assert lab.status_code == 200, lab.text[:300]
        banner = log_path.read_text()
        c = Client(url, token)
        me = c.me()["username"]
        assert c.home == f"home/{me}"
        assert f"home/{me}/uploads/sample" in banner
        assert str(tmp_path / "data" / "library" / "home" / me / "uploads" / "sample") in banner
        assert (tmp_path / "data" / "library" / "home" / me / "uploads" / "sample" / "README.txt").is_file()
        assert "no sandbox" in banner and "only its embedded user" in banner
        # a real brain scan (MNI152 T1, fetched by scripts/install-deps) as NIfTI and as an indexed series
        sample = f"home/{me}/uploads/sample/mni152-t1"
        assert {e["name"] for e in c.ls(sample)["items"]} == {"mni152_t1.nii.gz", "dicom"}
        found = c.studies(patient_id="MNI152")
        assert found["total"] == 1, found

        (tmp_path / "scans").mkdir()
        (tmp_path / "scans" / "a.txt").write_text("a")
        lines = [ln for ln in _readme_notebook_block() if ln.startswith(("c = ", "c.upload", "c.ls", "c.link"))]
        assert len(lines) == 4, lines
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            scope: dict = {"cj": __import__("chris_jupyter")}
            os.environ["CHRIS_URL"], os.environ["CHRIS_TOKEN"] = url, token
            for ln in lines:  # as written in the README: no NotFoundError for this user
                exec(ln, scope)
        finally:
            os.chdir(cwd)
            os.environ.pop("CHRIS_URL", None)
            os.environ.pop("CHRIS_TOKEN", None)
        assert [e["name"] for e in c.ls(f"home/{me}/uploads/scans")["items"]] == ["a.txt"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
