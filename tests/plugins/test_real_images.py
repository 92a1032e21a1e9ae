"""Images of real PyPI plugins, built offline, and registration from images leaving nothing behind.

``simpledsapp`` 1.0.3 and ``chrisapp`` 1.0.5 are published as sdists only: the image builder
must build their wheels on the host. The wheelhouse of ``scripts/install-deps --test`` stands in
for the index (``PIP_NO_INDEX``/``PIP_FIND_LINKS``), so no network is needed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from chris_jupyter.compute import states as st
from chris_jupyter.plugins.registry import PluginRegistry, RegistrationError

from .test_real_plugins import WHEELHOUSE

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
BUILD_IMAGE = REPO / "images" / "build-image.sh"
CONTEXT = REPO / "tests" / "plugins" / "real" / "image-chrisapp1"
TAG = "chris-jupyter-test/pl-simpledsapp:1.0.3"


def _build(context: Path, tag: str, *flags: str) -> subprocess.CompletedProcess:
    if not (WHEELHOUSE / "dist").is_dir():
        pytest.fail(f"{WHEELHOUSE}/dist is missing: run scripts/install-deps --test")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE / "dist"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(["bash", str(BUILD_IMAGE), *flags, str(context), tag], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1200)


def _dangling(dclient) -> set[str]:
    return {i.id for i in dclient.images.list(filters={"dangling": True})}


def _leftovers(dclient, image: str) -> list[str]:
    return [c.name for c in dclient.containers.list(all=True, filters={"ancestor": image})]


@pytest.fixture(scope="session")
def simpledsapp_image(base_image, docker_client, tmp_path_factory) -> str:
    """The image of simpledsapp on chrisapp 1.0.5 (rebuilt only when its context changes)."""
    ctx = tmp_path_factory.mktemp("ctx") / "image-chrisapp1"
    shutil.copytree(CONTEXT, ctx)
    proc = _build(ctx, TAG)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (ctx / "wheels").exists()  # the context is never written to
    return TAG


def test_sdist_only_requirements_build_offline_and_leave_only_the_tag(base_image, docker_client, tmp_path):
    """chrisapp 1.0.5 exists only as an sdist. A fresh context each time (the marker), so it is
    really built; the untagged first-stage image and the tag's previous image must be gone."""
    ctx = tmp_path / "sdist-only"
    ctx.mkdir()
    marker = uuid.uuid4().hex
    (ctx / "requirements.txt").write_text(f"# build {marker}\nchrisapp==1.0.5\n")
    (ctx / "Dockerfile").write_text((CONTEXT / "Dockerfile").read_text().replace('CMD ["simpledsapp.py", "--help"]',
                                                                                 'CMD ["python3"]'))
    tag = "chris-jupyter-test/sdist-only:latest"
    old = next(iter(docker_client.images.list(name=tag)), None)
    before = _dangling(docker_client)
    ctx.chmod(0o555)  # a read-only checkout (root ignores it, so the check below is the real one)
    proc = _build(ctx, tag)
    ctx.chmod(0o755)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "building wheels on the host" in proc.stdout
    assert sorted(p.name for p in ctx.iterdir()) == ["Dockerfile", "requirements.txt"]
    out = docker_client.containers.run(tag, entrypoint=["python3", "-c"], remove=True, network_mode="none",
                                       command=["import chrisapp.base; print('ok')"])
    assert out.strip() == b"ok"
    # other builds may run meanwhile: look only for untagged images holding this build's marker
    for image_id in _dangling(docker_client) - before:
        out = docker_client.containers.run(image_id, entrypoint=["/bin/sh", "-c"], remove=True,
                                           command=[f"grep -qs {marker} /src/requirements.txt && echo ours || true"],
                                           network_mode="none")
        assert b"ours" not in out, f"untagged stage image {image_id} left behind"
    if old is not None:
        assert old.id not in {i.id for i in docker_client.images.list(all=True)}


def test_chrisapp1_image_registers_with_the_version_of_its_tag_and_runs(
    cdb, simpledsapp_image, dclient, make_coordinator, docker_runner, docker_plugins, data_root
):
    reg = PluginRegistry(cdb)
    p = reg.register_image(simpledsapp_image, client=dclient)
    assert (p.name, p.version, p.dock_image) == ("pl-simpledsapp", "1.0.3", simpledsapp_image)
    assert p.descriptor["selfexec"] == "simpledsapp.py"
    # the request wins over the tag
    q = reg.register_image(simpledsapp_image, client=dclient, name="pl-sds", version="1.0.4")
    assert (q.name, q.version) == ("pl-sds", "1.0.4")
    assert _leftovers(dclient, simpledsapp_image) == []
    (data_root / "home/alice/uploads/in").mkdir()
    (data_root / "home/alice/uploads/in/f.txt").write_text("data")
    c = make_coordinator(docker_runner)
    root = c.run_plugin("alice", "pl-dircopy", {"dir": "home/alice/uploads/in"})
    s = c.run_plugin("alice", "pl-simpledsapp", {"prefix": "x-", "sleepLength": 0}, previous_id=root)
    assert c.wait_for(s, timeout=180) == st.SUCCESS, c.get(s).error + c.get(s).logs
    assert (data_root / c.get(s).output_path / "in" / "x-f.txt").read_text() == "data"


def test_registration_from_an_image_leaves_no_container(cdb, plugin_image, dclient):
    """pl-oldapp has no chris_plugin_info: that first attempt used to leave a Created container."""
    image = plugin_image("pl-oldapp")
    before = set(_leftovers(dclient, image))
    PluginRegistry(cdb).register_image(image, client=dclient)
    assert set(_leftovers(dclient, image)) - before == set()


def test_an_image_whose_json_hangs_is_stopped_and_removed(cdb, base_image, dclient):
    dockerfile = (f"FROM {base_image}\n"
                  "RUN printf '#!/bin/sh\\nexec sleep 600\\n' > /usr/local/bin/hangs"
                  " && chmod 755 /usr/local/bin/hangs\n"
                  'CMD ["hangs"]\n')
    tag = "chris-jupyter-test/hangs:1"
    dclient.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
    try:
        with pytest.raises(RegistrationError, match="did not finish within 2 s"):
            PluginRegistry(cdb).register_image(tag, client=dclient, timeout=2)
        assert _leftovers(dclient, tag) == []
    finally:
        dclient.images.remove(tag, force=True)
