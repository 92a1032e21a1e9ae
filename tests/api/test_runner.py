"""The server says which runner runs its jobs, and a runner of installed commands refuses plugins
registered by image (their command exists only inside the image: every job would fail to start)."""

from __future__ import annotations

import pytest

from chris_jupyter import Client
from chris_jupyter.client import BadRequestError


@pytest.fixture(scope="module")
def local_server(chris_server_factory):
    return chris_server_factory(config={"ChrisApp": {"runner": "local"}})


def test_runner_kind_and_registration_by_image(local_server, chris_server, reference_images) -> None:
    local = Client(local_server.url, local_server.token)
    assert local.runner == "local"
    assert local.get("runner") == {"name": "local", "confines_jobs": False, "runs_images": False}
    with pytest.raises(BadRequestError) as err:
        local.register_plugin(image="chris-jupyter/pl-dircopy:2.1.2")  # the image exists
    assert "'local' runner" in str(err.value) and "executable" in str(err.value)
    assert not local.plugins("pl-dircopy")

    docker = Client(chris_server.url, chris_server.token)  # the shared test server: Docker
    assert docker.runner == "docker"
    assert docker.get("runner") == {"name": "docker", "confines_jobs": True, "runs_images": True}
