"""A SLURM job sees its own environment, never the backend's (real one-node cluster)."""

from __future__ import annotations

import pytest

from chris_jupyter.compute.runners.base import JobSpec
from chris_jupyter.compute.runners.slurm import SlurmRunner

pytestmark = pytest.mark.slow


def test_a_slurm_job_gets_its_env_and_none_of_the_backends(slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("CHRIS_DB_URL", "postgresql://chris:very-secret@db/chris")
    runner = SlurmRunner(slurm_conf=str(slurm_cluster), job_dir=str(tmp_path / "jobs"), containers=False)
    out = tmp_path / "out"
    runner.prepare_output(out)
    spec = JobSpec("cj-env-1", ["env"], out, env={"CHRIS_JID": "cj-env-1"})
    runner.submit(spec)
    status = runner.wait(spec.job_id, 120)
    logs = runner.logs(spec.job_id)
    runner.cleanup(spec.job_id)
    assert status.exit_code == 0, logs
    assert "CHRIS_JID=cj-env-1" in logs
    assert "very-secret" not in logs and "CHRIS_DB_URL" not in logs
    assert "SLURM_JOB_ID=" in logs  # it really ran under SLURM
