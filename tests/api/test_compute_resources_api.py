"""Compute resources over REST, the client and the CLI (administrators add and remove them)."""

from __future__ import annotations

import uuid

import pytest

from chris_jupyter import Client
from chris_jupyter.client import BadRequestError, PermissionDeniedError

from .test_client_cli import cli


def test_admin_adds_lists_and_removes_a_compute_resource(chris_server) -> None:
    admin = Client(chris_server.url, chris_server.token)
    name = f"t{uuid.uuid4().hex[:8]}"
    user = f"u{uuid.uuid4().hex[:6]}"
    admin.create_user(user)
    bob = Client(chris_server.url, admin.create_token(user)["token"])
    r = cli(chris_server, chris_server.token, "compute-resource", "add", name, "local",
            "-s", "kill_grace=1.5", "--description", "a test resource", "--max-job-time", "60")
    assert r.returncode == 0, r.stderr
    assert f"added compute resource {name} (local)" in r.stdout
    mine = {x["name"]: x for x in bob.compute_resources()}[name]  # everyone sees where jobs can run
    assert (mine["kind"], mine["settings"], mine["max_job_time"]) == ("local", {"kill_grace": 1.5}, 60)
    with pytest.raises(PermissionDeniedError, match="only administrators add compute resources"):
        bob.add_compute_resource(f"{name}x", "local")
    with pytest.raises(BadRequestError, match="unknown compute resource kind 'moon'"):
        admin.add_compute_resource(f"{name}x", "moon")
    with pytest.raises(BadRequestError, match="'name' \\(a string\\) is required"):
        admin.post("compute_resources", {"kind": "local"})
    r = cli(chris_server, chris_server.token, "compute-resource", "ls")
    assert name in r.stdout and "a test resource" in r.stdout
    with pytest.raises(PermissionDeniedError):
        bob.remove_compute_resource(name)
    r = cli(chris_server, chris_server.token, "compute-resource", "rm", name)
    assert r.returncode == 0, r.stderr
    assert name not in {x["name"] for x in admin.compute_resources()}
