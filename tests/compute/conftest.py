"""Fixtures for the compute tests: a fresh DB with users, a data root, plugins, coordinators."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chris_jupyter.compute.coordinator import Coordinator
from chris_jupyter.compute.runners.local import LocalRunner
from chris_jupyter.db import Database
from chris_jupyter.db.models.library import User
from chris_jupyter.plugins.registry import PluginRegistry

from .clusters import netns as netns_of_its_own
from .helpers import Events, Registrar, can_read, make_plugin_venv
from .remote_peer import Served, remove_served_containers


@pytest.fixture(scope="session")
def plugin_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin dir of a venv holding the reference and test plugins (built once per session)."""
    return make_plugin_venv(tmp_path_factory.mktemp("plugins") / "venv")


@pytest.fixture
def cdb(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    db.create_all()
    with db.session() as s:
        s.add_all([User(username="alice"), User(username="bob")])
    yield db
    db.dispose()


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "home" / "alice" / "uploads").mkdir(parents=True)
    (root / "home" / "bob" / "uploads").mkdir(parents=True)
    return root


@pytest.fixture
def registrar(data_root: Path) -> Registrar:
    return Registrar(data_root)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make_coordinator(
    cdb: Database, data_root: Path, registrar: Registrar, events: Events
) -> Iterator[Callable[..., Coordinator]]:
    made: list[Coordinator] = []

    def make(runner, **kw) -> Coordinator:
        c = Coordinator(cdb, data_root, runner, publish=events, register_outputs=registrar,
                        can_read=can_read, **kw)
        c.start()
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


class _Tracked:
    """Mixin: remember submitted jobs so a test leaves nothing running, even when it fails."""

    def submit(self, spec):
        self.submitted = [*getattr(self, "submitted", []), spec.job_id]
        return super().submit(spec)

    def reap(self) -> None:
        for job in getattr(self, "submitted", []):
            self.cancel(job)
            self.cleanup(job)


class TrackedLocalRunner(_Tracked, LocalRunner):
    pass


@pytest.fixture
def local_runner(tmp_path: Path) -> Iterator[LocalRunner]:
    runner = TrackedLocalRunner(tmp_path / "jobs", kill_grace=1.0)
    yield runner
    runner.reap()


@pytest.fixture
def local_plugins(cdb: Database, plugin_bin: Path) -> dict[str, int]:
    """The reference plugins and pl-testbox registered for the local runner (name -> id)."""
    reg = PluginRegistry(cdb)
    out = {}
    for exe in ("dircopy", "noop", "testbox", "tsbox", "dcm2nifti", "dcm2png"):
        p = reg.register_executable(str(plugin_bin / exe))
        out[p.name] = p.id
    return out


# -- Docker --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def dclient(docker_client):
    """The shared Docker client (tests.fixtures.services); the engine is started if needed."""
    return docker_client


@pytest.fixture(scope="session")
def plugin_image(build_image) -> Callable[[str], str]:
    """``plugin_image("pl-testbox")`` -> tag of the plugin's image, built offline once."""
    from .helpers import ALL_PLUGIN_SOURCES
    from .images import context_hash

    sources = {p.name: p for p in ALL_PLUGIN_SOURCES}
    cache: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in cache:
            src = sources[name]
            cache[name] = build_image(src, f"chris-jupyter-test/{name}:{context_hash(src)}")
        return cache[name]

    return get


@pytest.fixture
def docker_runner(dclient):
    from chris_jupyter.compute.runners.docker import DockerRunner

    class TrackedDockerRunner(_Tracked, DockerRunner):
        """Also keeps the engine's HostConfig of every container it creates (job id -> dict),
        read back before the start, so a test sees what the engine was asked for even when
        the start then fails and the container is removed."""

        created: dict

        def _create(self, spec, mounts, kwargs):
            container = super()._create(spec, mounts, kwargs)
            container.reload()
            self.created = {**getattr(self, "created", {}), spec.job_id: container.attrs["HostConfig"]}
            return container

    runner = TrackedDockerRunner(dclient, stop_grace=1)
    yield runner
    runner.reap()


@pytest.fixture
def docker_plugins(cdb, plugin_image, dclient) -> dict[str, int]:
    reg = PluginRegistry(cdb)
    out = {}
    for name in ("pl-dircopy", "pl-noop", "pl-testbox", "pl-tsbox"):
        p = reg.register_image(plugin_image(name), client=dclient)
        out[p.name] = p.id
    return out


# -- Swarm and SLURM: the same behaviour suite as Docker (test_coordinator_docker.py) ---------------
@pytest.fixture(scope="session")
def swarm_engine(dclient):
    """A one-node swarm on this engine for the session, left as found (tests/compute/clusters.py)."""
    from .clusters import swarm

    with swarm():
        yield dclient


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A one-node SLURM cluster for the session; yields its slurm.conf."""
    from .clusters import slurm

    with slurm(tmp_path_factory.mktemp("slurm")) as conf:
        yield conf


@pytest.fixture(scope="session")
def fake_k8s(dclient, tmp_path_factory):
    """The FAKE Kubernetes API server (tests/compute/fake_k8s.py): its pods run on the local
    Docker engine. Yields it; ``fake_k8s.kubeconfig_path`` points the runner at it."""
    from .fake_k8s import FakeKubernetes

    where = tmp_path_factory.mktemp("k8s-fake")
    fake = FakeKubernetes(dclient, claims={"library-claim": where / "claim"})
    fake.start()
    fake.kubeconfig_path = fake.kubeconfig(where / "kubeconfig")
    try:
        yield fake
    finally:
        fake.stop()


#: Tests of the suite that run on Docker only: the GPU device request is the Docker runner's own
#: (swarm: a generic resource, SLURM: --gres), and fan-out adds time, not behaviour.
DOCKER_ONLY = {"test_docker_fanout_and_ts", "test_docker_gpu_request_reaches_the_engine"}


def pytest_collection_modifyitems(config, items) -> None:
    """Swarm, SLURM and Kubernetes (fake API server) run the suite once, on SQLite (the database
    is not what they change), and without :data:`DOCKER_ONLY`: deselected, so that the suite
    stays within its time budget."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("engine") in ("swarm", "slurm", "k8s-fake") and (
                params.get("db_url") == "postgres" or item.originalname in DOCKER_ONLY):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=["docker", pytest.param("swarm", marks=pytest.mark.slow),
                        pytest.param("slurm", marks=pytest.mark.slow),
                        pytest.param("k8s-fake", marks=pytest.mark.slow)])
def engine(request) -> str:
    """The container runner kinds the behaviour suite runs on; ``k8s-fake`` is the Kubernetes
    runner against the FAKE API server of tests/compute/fake_k8s.py (no real cluster here)."""
    return request.param


@pytest.fixture
def make_engine_runner(engine, request, tmp_path):
    """``make()`` -> a new runner of ``engine`` (a restarted backend makes a second one)."""
    if engine == "docker":
        from chris_jupyter.compute.runners.docker import DockerRunner

        client = request.getfixturevalue("dclient")
        return lambda: DockerRunner(client, stop_grace=1)
    if engine == "swarm":
        from chris_jupyter.compute.runners.swarm import SwarmRunner

        client = request.getfixturevalue("swarm_engine")
        return lambda: SwarmRunner(client, stop_grace=1)
    if engine == "k8s-fake":
        from chris_jupyter.compute.runners.kubernetes import KubernetesRunner

        fake = request.getfixturevalue("fake_k8s")
        return lambda: KubernetesRunner(kubeconfig=str(fake.kubeconfig_path), stop_grace=1,
                                        poll_interval=0.2, image_pull_policy="Never")
    from chris_jupyter.compute.runners.slurm import SlurmRunner

    conf = request.getfixturevalue("slurm_cluster")
    return lambda: SlurmRunner(slurm_conf=str(conf), job_dir=str(tmp_path / "slurm-jobs"), stop_grace=1)


@pytest.fixture
def engine_runner(engine, make_engine_runner, docker_runner):
    """The runner under test; for Docker the tracked one of ``docker_runner``."""
    if engine == "docker":
        yield docker_runner
        return
    runner = make_engine_runner()
    tracked = type(f"Tracked{type(runner).__name__}", (_Tracked, type(runner)), {})
    runner.__class__ = tracked
    yield runner
    runner.reap()


# -- a remote compute resource: compute serve in a network namespace (module-scoped) ---------------
@pytest.fixture(scope="module")
def netns():
    """A network namespace joined to this one by a veth pair: (name, host address, its address)."""
    with netns_of_its_own() as n:
        yield n


@pytest.fixture(scope="module")
def served(netns, tmp_path_factory, dclient):
    """``compute serve`` in the module's namespace, on port 5005, with the test password."""
    ns, _, ns_ip = netns
    where = tmp_path_factory.mktemp("remote-resource")
    s = Served(ns, ns_ip, 5005, where / "data", where / "serve.log")
    yield s
    s.stop()
    remove_served_containers(dclient, s.data)
