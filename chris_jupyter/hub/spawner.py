"""The ChRIS spawner: a DockerSpawner whose user servers run the extension in client mode.

Registered as the ``jupyterhub.spawners`` entry point ``chris-docker``
(``c.JupyterHub.spawner_class = "chris-docker"``). On top of DockerSpawner it

- mounts the user's ChRIS home (``<library_root>/library/home/<user>``) **read-only** at
  ``~/library`` and a persistent, writable work folder (``<homes_root>/<user>``) as the home
  directory. Read-only because every write to the library must go through the service: it keeps
  the metadata database, the DICOM index, permissions, audit and events in step, which a file
  dropped straight on disk would bypass. Kernels still *read* library files at disk speed.
- creates those host folders before the spawn with the container user's uid/gid (Docker would
  create a missing bind source as ``root:root``, and the user could then write nothing),
- sets ``CHRIS_HUB_SERVICE_URL``, which puts the extension in the user's server in client mode
  (``chris/api/v1/…`` forwarded to the service with the server's own hub token) and lets
  :class:`chris_jupyter.Client` in kernels reach the service as the user (``JUPYTERHUB_API_TOKEN``,
  scoped by ``c.Spawner.server_token_scopes``): no password or long-lived secret in the container,
- gets per-group images and CPU/memory limits through JupyterHub's ``Spawner.group_overrides``
  (:mod:`.limits` builds them from ``CHRIS_HUB_GROUP_LIMITS``),
- refuses to mount the Docker socket or pass a Docker endpoint (only the service drives the engine),
- removes containers on stop (``remove=True``), and names a missing image clearly,
- on ``network_name="host"`` (everything on loopback) binds each server on 127.0.0.1 and a port of
  its own, chosen per spawn.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import docker
from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port
from traitlets import Int, Unicode, default

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
SERVICE_URL_ENV = "CHRIS_HUB_SERVICE_URL"


class SpawnError(RuntimeError):
    """A spawn that cannot go ahead; the hub shows the message to the user."""


class ChrisDockerSpawner(DockerSpawner):
    """DockerSpawner for ChRIS users: library home read-only, work folder, client mode, no socket."""

    library_root = Unicode(
        help="""Host folder of the ChRIS service's data (its ``CHRIS_DATA_ROOT``): the user's
        library home is ``<library_root>/library/home/<user>``. Defaults to ``CHRIS_DATA_ROOT``.""",
    ).tag(config=True)

    @default("library_root")
    def _default_library_root(self) -> str:
        return os.environ.get("CHRIS_DATA_ROOT", "")

    homes_root = Unicode(
        help="""Host folder of the users' writable work folders: ``<homes_root>/<user>`` is the
        user's home directory in the container (notebooks live there and survive the container).
        Defaults to ``CHRIS_HUB_HOMES``.""",
    ).tag(config=True)

    @default("homes_root")
    def _default_homes_root(self) -> str:
        return os.environ.get("CHRIS_HUB_HOMES", "")

    container_home = Unicode(
        "/home/chris", help="The home directory of the image's user (where the work folder is mounted)."
    ).tag(config=True)

    library_mount = Unicode(
        "library", help="Where the library home appears, relative to ``container_home``."
    ).tag(config=True)

    container_uid = Int(1000, help="uid of the image's user: the owner given to the user's host folders.").tag(
        config=True
    )
    container_gid = Int(1000, help="gid of the image's user: the group given to the user's host folders.").tag(
        config=True
    )

    service_url = Unicode(
        help="""URL of the ChRIS service as seen from inside the user's container, e.g.
        ``http://127.0.0.1:8000/services/chris/``. Becomes ``CHRIS_HUB_SERVICE_URL`` in the
        container, which turns on client mode. Defaults to the hub's own environment variable.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self) -> str:
        return os.environ.get(SERVICE_URL_ENV, "")

    @default("remove")
    def _default_remove(self) -> bool:
        return True

    @default("pull_policy")
    def _default_pull_policy(self) -> str:
        return "never"  # images are built locally (spawners/singleuser/build.sh)

    @default("image")
    def _default_image(self) -> str:
        return os.environ.get("CHRIS_HUB_IMAGE", "chris-jupyter/singleuser:latest")

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return ["jupyterhub-singleuser"]

    @default("notebook_dir")
    def _default_notebook_dir(self) -> str:
        return self.container_home

    # -- the spawn ---------------------------------------------------------------------------------
    def _host_folders(self) -> tuple[Path, Path]:
        """(library home, work folder) of this user on the host."""
        if not self.library_root or not self.homes_root:
            raise SpawnError("the ChRIS spawner needs library_root (CHRIS_DATA_ROOT) and homes_root "
                             "(CHRIS_HUB_HOMES): host folders for the library and the users' work folders")
        name = self.user.name
        return Path(self.library_root) / "library" / "home" / name, Path(self.homes_root) / name

    def _prepare_host_folders(self) -> None:
        """Create the user's host folders before Docker would create them as root (blocking)."""
        library_home, work = self._host_folders()
        # the library home belongs to the service (it writes there); readable for the container's user
        library_home.mkdir(parents=True, exist_ok=True)
        mountpoint = work / self.library_mount
        for folder in (work, mountpoint):
            folder.mkdir(parents=True, exist_ok=True)
            st = folder.stat()
            if (st.st_uid, st.st_gid) != (self.container_uid, self.container_gid):
                try:
                    os.chown(folder, self.container_uid, self.container_gid)
                except PermissionError as e:
                    raise SpawnError(f"cannot give {folder} to uid {self.container_uid}: run the hub as root, "
                                     f"or create it with that owner beforehand") from e
        work.chmod(0o700)  # other host accounts have no business in a user's notebooks

    def _check_no_docker_access(self, env: dict[str, str]) -> None:
        """No user container may drive the engine: no socket mount, no Docker endpoint in its env."""
        for host_path in list(self.volume_binds) + [m.get("Source") or "" for m in self.mount_binds]:
            real = os.path.realpath(host_path) if host_path else ""
            for sock in DOCKER_SOCKETS:
                if real and (real == sock or sock.startswith(real.rstrip("/") + "/")):
                    raise SpawnError(f"refusing to mount {host_path} into a user's container: it exposes the "
                                     f"Docker socket; only the ChRIS service may use the engine")
        leaked = [k for k in env if k.startswith("DOCKER_")]
        if leaked:
            raise SpawnError(f"refusing to pass {', '.join(leaked)} to a user's container")

    async def pull_image(self, image: str) -> None:
        try:
            await super().pull_image(image)
        except docker.errors.NotFound:
            raise SpawnError(
                f"the image {image!r} is not on this Docker engine; build it (spawners/singleuser/build.sh "
                f"{image}) or pull it, or set CHRIS_HUB_IMAGE") from None

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        if self.service_url:
            env[SERVICE_URL_ENV] = self.service_url
        env.pop("CHRIS_URL", None)
        env.pop("CHRIS_TOKEN", None)
        return env

    async def start(self) -> tuple[str, int]:
        library_home, work = self._host_folders()
        self.volumes = {
            **self.volumes,
            str(work): {"bind": self.container_home, "mode": "rw"},
            str(library_home): {"bind": f"{self.container_home}/{self.library_mount}", "mode": "ro"},
        }
        if self.network_name == "host":
            # loopback: the server binds 127.0.0.1 on a port of its own (the container shares the host's ports)
            self.use_internal_ip = True
            self.ip = "127.0.0.1"
            self.port = random_port()
        self._check_no_docker_access(self.get_env())
        await asyncio.to_thread(self._prepare_host_folders)
        return await super().start()

    async def get_ip_and_port(self) -> tuple[str, int]:
        if self.network_name == "host":
            return "127.0.0.1", self.port
        return await super().get_ip_and_port()
