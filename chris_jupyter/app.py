"""The Jupyter server extension: configuration traits, the backend, the REST handlers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Enum, Float, Int, List, Type, Unicode, default, validate

from ._version import __version__

if TYPE_CHECKING:  # the backend (SQLAlchemy, pydicom, numpy: ~0.6 s to import) loads only when
    from .backend import Settings  # this server runs it, not in a hub user's client-mode server
    from .identity import Principal
from .compute.runners.base import Runner
from .compute.runners.docker import DockerRunner
from .compute.runners.kubernetes import KubernetesRunner
from .compute.runners.local import LocalRunner
from .compute.runners.slurm import SlurmRunner
from .compute.runners.swarm import SwarmRunner


class ChrisApp(ExtensionApp):
    """ChRIS for Jupyter: the library, DICOM and compute APIs inside a Jupyter server."""

    name = "chris_jupyter"
    description = __doc__
    version = __version__
    load_other_extensions = True
    #: Configurable classes of this extension, so that ``--DockerRunner.pids_limit=…`` and
    #: ``c.DockerRunner.pids_limit`` are known (and listed by ``--help-all``).
    classes = [*ExtensionApp.classes, LocalRunner, DockerRunner, SwarmRunner, SlurmRunner, KubernetesRunner]
    #: Whether the Jupyter server's identity provider is the hub (the ChRIS hub service). Then the
    #: hub is the one source of identity: routes that take credentials from headers (the
    #: CUBE-compatible ``api/v1/``) accept hub tokens only, never backend ``chris_…`` tokens or
    #: ChRIS passwords. Not a config option: :class:`chris_jupyter.hub.app.ChrisHubApp` sets it.
    identity_from_hub = False

    data_dir = Unicode(
        help="""Folder that holds the library tree (``library/``), uploads in progress (``tmp/``)
        and, with the default database, ``chris.db``. Every runner mounts ``library/`` so that
        plugins run next to the data. Defaults to ``<jupyter data dir>/chris``; the CHRIS_DATA_DIR
        environment variable overrides the default.""",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        import os

        return os.environ.get("CHRIS_DATA_DIR") or str(Path(jupyter_data_dir()) / "chris")

    db_url = Unicode(
        "",
        help="""SQLAlchemy URL of the metadata database. Empty (the default) means an SQLite file
        ``chris.db`` in ``data_dir``, which serves one machine. For several users or large
        libraries use PostgreSQL, e.g. ``postgresql+psycopg://chris:secret@db:5432/chris``
        (install the ``postgres`` extra). The schema is created and upgraded at start.""",
    ).tag(config=True)

    runner = Enum(
        ["auto", "local", "docker", "swarm", "slurm", "kubernetes"],
        default_value="auto",
        help="""Where plugin jobs run. ``local`` runs plugins as subprocesses of the server (only
        for plugins installed in its Python environment); ``docker`` runs each job in a container
        without network, as a non-root user, with the plugin's CPU and memory limits, the input
        folder mounted read-only and the output folder read-write straight from the library.
        ``auto`` picks ``docker`` when a Docker engine answers and ``local`` otherwise. The
        ``swarm`` runs each job as a one-shot Docker Swarm service, ``slurm`` as a SLURM batch
        job and ``kubernetes`` as a Kubernetes Job (configured on ``SwarmRunner``,
        ``SlurmRunner`` and ``KubernetesRunner``; usually added as further compute
        resources instead, see ``compute_resources``). The
        ``local`` runner does not confine jobs, so with it the server serves only ``embedded_user``
        and administrators (see ``unsafe_unconfined_jobs_for_all_users``). Each runner's own
        settings are configured on its class (``c.DockerRunner.pids_limit = 256``,
        ``c.LocalRunner.kill_grace = 10``).""",
    ).tag(config=True)

    runner_class = Type(
        None,
        klass=Runner,
        allow_none=True,
        help="""A runner class (a subclass of ``chris_jupyter.compute.runners.base.Runner``, or its
        dotted import path) that runs plugin jobs instead of the one ``runner`` names. It is
        configured like the built-in ones, from its own section (``c.MyRunner.setting = …``).""",
    ).tag(config=True)

    compute_resources = List(
        Dict(),
        help="""Compute resources besides this server's own runner, added (or updated to match) at
        start: ``[{"name": "cluster", "kind": "slurm", "settings": {"partition": "debug"},
        "description": "the lab's cluster", "max_job_time": 86400}]``. ``kind`` is ``local``,
        ``docker``, ``swarm``, ``slurm`` or a dotted path to a Runner class; ``settings`` are
        that runner's traits (on top of ``c.<RunnerClass>.…``). Administrators can also add and
        remove resources over REST, the client and ``chris-jupyter compute-resource``.""",
    ).tag(config=True)

    embedded_user = Unicode(
        help="""ChRIS username of whoever is logged in to this Jupyter server (embedded mode, one
        person per server). That user is an administrator of the embedded backend. Defaults to
        the operating-system user name (``chris`` for root).""",
    ).tag(config=True)

    @default("embedded_user")
    def _default_embedded_user(self) -> str:
        from .sample import default_user

        return default_user()

    @validate("embedded_user")
    def _check_user(self, proposal: dict[str, Any]) -> str:
        from .paths import check_name

        return check_name(proposal["value"])

    hub_service_url = Unicode(
        help="""Client mode (a JupyterHub user's server): URL of the ChRIS hub service, e.g.
        ``http://127.0.0.1:8000/services/chris/``. When set, this server runs no backend of its
        own: its ``chris/api/v1/`` routes forward to the service with the server's hub token
        (``JUPYTERHUB_API_TOKEN``), so the panels, widgets and viewer act as the server's user on
        the shared library. The ChRIS spawner sets it through the CHRIS_HUB_SERVICE_URL
        environment variable (the default).""",
    ).tag(config=True)

    @default("hub_service_url")
    def _default_hub_service_url(self) -> str:
        import os

        return os.environ.get("CHRIS_HUB_SERVICE_URL", "")

    unsafe_unconfined_jobs_for_all_users = Bool(
        False,
        help="""UNSAFE. Serve every user even when the runner does not confine plugin jobs (the
        ``local`` runner, also when ``auto`` falls back to it). Such a job runs with the server's
        own rights: a plugin parameter (a file-name prefix such as ``../../home/alice/x``) can
        write into any user's home, or anywhere else the server's account can. By default such a
        server serves only ``embedded_user`` and administrators: creating other users, issuing
        them tokens and their requests are refused with a message saying why. Turn this on only
        when every user of the server may act as the server's operating-system account.""",
    ).tag(config=True)

    pacs_group = Unicode(
        "pacs_users",
        help="""Members of this group may read everything received from or pulled out of PACS
        (``SERVICES/PACS``). Administrators always may. Empty: only administrators.""",
    ).tag(config=True)

    max_upload_size = Int(
        1024**4,
        help="""Largest upload accepted, in bytes (default 1 TiB). Uploads stream to disk, so
        size costs no memory.""",
    ).tag(config=True)

    fsync_uploads = Bool(
        False,
        help="""Flush every finished upload to stable storage before it appears. Uploads always
        appear atomically (never half-written, also when the server is killed); this adds
        safety against power loss at the cost of upload speed.""",
    ).tag(config=True)

    job_timeout = Float(
        0,
        help="""Seconds a plugin job may run before it is cancelled (0: no limit). A run request
        may ask for less.""",
    ).tag(config=True)

    max_parallel_jobs = Int(
        4,
        help="""Plugin jobs running at once on this server; further jobs wait, ``scheduled``.""",
    ).tag(config=True)

    dicom_ae_title = Unicode(
        "CHRIS",
        help="""Our DICOM application entity title: the calling AE of queries and retrieves, and the
        AE title of the receiver (the PACS must know it, with our host and receiver port, to send
        C-MOVE results here).""",
    ).tag(config=True)

    dicom_receiver_port = Int(
        0,
        help="""TCP port of the DICOM C-STORE receiver (e.g. 11112); 0 (the default) starts none.
        Received instances are written as sent under ``SERVICES/PACS/<pacs>/…`` and indexed in
        batches.""",
    ).tag(config=True)

    dicom_receiver_host = Unicode(
        "127.0.0.1",
        help="""Address the DICOM receiver listens on. The default accepts only this machine; use
        ``0.0.0.0`` to receive from a PACS on the hospital network.""",
    ).tag(config=True)

    dicom_receiver_accept_any_called_ae = Bool(
        False,
        help="""Accept associations to the DICOM receiver whatever called AE title they name. By
        default only ``dicom_ae_title`` is accepted; any other is refused (A-ASSOCIATE-RJ, reason
        "called AE title not recognized") and logged, so that a sender configured for another
        node does not file its data here.""",
    ).tag(config=True)

    dicom_receiver_calling_aes = List(
        Unicode(),
        help="""If not empty, only these calling AE titles may send to the DICOM receiver (others
        are refused with "calling AE title not recognized" and logged), e.g. ``["ORTHANC",
        "MODALITY1"]``. Empty (the default): any sender that reaches the port.""",
    ).tag(config=True)

    @validate("dicom_receiver_calling_aes")
    def _check_calling_aes(self, proposal: dict[str, Any]) -> list[str]:
        from .dicom.net.ul import check_ae_title

        return [check_ae_title(a) for a in proposal["value"]]

    dicom_receiver_artim_timeout = Float(
        5.0,
        help="""Seconds a new connection to the DICOM receiver has to send its association request
        (the ARTIM timer) before it is closed. Connections that never associate cannot hold the
        receiver.""",
    ).tag(config=True)

    dicom_receiver_max_associations = Int(
        32,
        help="""Associations the DICOM receiver serves at once; further requests are refused as
        "local limit exceeded" (senders retry). Connections still waiting to associate do not
        count.""",
    ).tag(config=True)

    dicom_receiver_max_associations_per_peer = Int(
        8,
        help="""Connections (associated or still waiting to associate) the DICOM receiver keeps
        from one network address at once; further ones are closed at once and logged. Raise it
        for a PACS that sends on many parallel associations.""",
    ).tag(config=True)

    dicom_receiver_idle_timeout = Float(
        60.0,
        help="""Seconds an association with the DICOM receiver may stay silent before it is
        aborted.""",
    ).tag(config=True)

    @validate("dicom_receiver_artim_timeout", "dicom_receiver_idle_timeout",
              "dicom_receiver_max_associations", "dicom_receiver_max_associations_per_peer")
    def _check_positive(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] <= 0:
            raise ValueError(f"ChrisApp.{proposal['trait'].name} must be positive, not {proposal['value']}")
        return proposal["value"]

    pacs_nodes = Dict(
        help="""The PACS this deployment may query and retrieve from, by name:
        ``{"pacs1": {"ae_title": "ORTHANC", "host": "10.0.0.5", "port": 4242}}``. Only
        administrators set this; members of ``pacs_group`` may use them.""",
    ).tag(config=True)

    def _receiver_settings(self) -> dict[str, Any] | None:
        if not self.dicom_receiver_port:
            return None
        return {
            "host": self.dicom_receiver_host, "port": self.dicom_receiver_port,
            "accept_any_called_ae": self.dicom_receiver_accept_any_called_ae,
            "calling_aes": list(self.dicom_receiver_calling_aes),
            "artim_timeout": self.dicom_receiver_artim_timeout,
            "max_associations": self.dicom_receiver_max_associations,
            "max_associations_per_peer": self.dicom_receiver_max_associations_per_peer,
            "idle_timeout": self.dicom_receiver_idle_timeout,
        }

    def _wire_logging(self) -> None:
        """Send the package's log records (``chris_jupyter.*``) to the server's log.

        The core logs through plain ``logging.getLogger(__name__)`` loggers (it never imports
        the server). The server's log does not propagate to the root logger, so without this
        "DICOM receiver ... listening", refused associations and bad instances go nowhere. As
        jupyter_server does for tornado's loggers, the package logger becomes a child of the
        server's log: same handler and format, and its level follows ``--log-level``.
        Idempotent.
        """
        serverapp = getattr(self, "serverapp", None)
        server_log = serverapp.log if serverapp is not None else self.log
        pkg = logging.getLogger("chris_jupyter")
        if pkg.parent is not server_log:
            pkg.parent = server_log
            pkg.propagate = True

    # A configuration error must stop the server: jupyter_server only logs an extension that fails
    # to link or load ("error linking extension") and serves on without it, or, worse, with the
    # traits it did manage to read. SystemExit passes its ``except Exception``.
    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        try:
            super()._link_jupyter_server_extension(serverapp)
        except Exception as e:
            self._refuse_to_start(serverapp, "configuration error", e)

    @classmethod
    def _load_jupyter_server_extension(cls, serverapp: Any) -> Any:
        try:
            return super()._load_jupyter_server_extension(serverapp)
        except Exception as e:
            cls._refuse_to_start(serverapp, "cannot start", e)

    @staticmethod
    def _refuse_to_start(serverapp: Any, what: str, exc: Exception) -> None:
        message = f"chris_jupyter: {what}: {exc}; the server does not start"
        serverapp.log.critical(message)
        raise SystemExit(message)

    def backend_settings(self) -> Settings:
        """The backend's settings from this app's traits (hub mode adjusts them)."""
        from .backend import Settings

        return Settings(
            data_root=Path(self.data_dir),
            db_url=self.db_url or None,
            pacs_group=self.pacs_group,
            fsync_uploads=self.fsync_uploads,
            runner=self.runner,
            runner_class=self.runner_class,
            config=self.config,
            compute_resources=list(self.compute_resources),
            job_timeout=self.job_timeout or None,
            max_parallel_jobs=self.max_parallel_jobs,
            start_services=True,
            dicom_ae_title=self.dicom_ae_title,
            pacs_nodes=dict(self.pacs_nodes),
            dicom_receiver=self._receiver_settings(),
            embedded_user=self.embedded_user,
            unsafe_unconfined_jobs_for_all_users=self.unsafe_unconfined_jobs_for_all_users,
        )

    def initialize_settings(self) -> None:
        self._wire_logging()
        if self.hub_service_url:
            self.backend = None
            self.log.info("ChRIS in client mode: chris/api/v1/ forwards to the hub service %s", self.hub_service_url)
            return
        from .backend import Backend

        settings = self.backend_settings()
        self.backend = Backend(settings)
        if settings.embedded_user:
            self.backend.users.ensure_user(settings.embedded_user, is_admin=True)
        if self.unsafe_unconfined_jobs_for_all_users and not self.backend.compute.confines_jobs:
            self.log.warning("ChrisApp.unsafe_unconfined_jobs_for_all_users is on: every user's plugins "
                             "run unconfined, with this server's rights")
        self.log.info("ChRIS backend: data in %s, database %s", self.data_dir,
                      settings.resolved_db_url().split("@")[-1])

    def principal_for_jupyter_user(self, user: Any) -> Principal:
        """The ChRIS principal of a user the Jupyter server authenticated (embedded mode)."""
        return self.backend.principal(self.embedded_user, via="jupyter")

    def initialize_handlers(self) -> None:
        if self.hub_service_url:
            from .api.forward import client_mode_handlers

            self.handlers.extend(client_mode_handlers(self.hub_service_url))
            return
        from .api import all_handlers
        from .api.cube import all_handlers as cube_handlers

        kwargs = {"backend": self.backend, "chris_app": self}
        self.handlers.extend((pattern, cls, kwargs) for pattern, cls in all_handlers())
        # The CUBE-compatible API (api/v1/) for the existing ChRIS clients.
        self.handlers.extend((pattern, cls, kwargs) for pattern, cls in cube_handlers())

    async def stop_extension(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()


main = launch_new_instance = ChrisApp.launch_instance
