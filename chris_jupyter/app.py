"""The Jupyter server extension: configuration traits, the backend, the REST handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Enum, Float, Int, Unicode, default, validate

from ._version import __version__
from .backend import Backend, Settings
from .identity import Principal


class ChrisApp(ExtensionApp):
    """ChRIS for Jupyter: the library, DICOM and compute APIs inside a Jupyter server."""

    name = "chris_jupyter"
    description = __doc__
    version = __version__
    load_other_extensions = True

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
        ["auto", "local", "docker"],
        default_value="auto",
        help="""Where plugin jobs run. ``local`` runs plugins as subprocesses of the server (only
        for plugins installed in its Python environment); ``docker`` runs each job in a container
        without network, as a non-root user, with the plugin's CPU and memory limits, the input
        folder mounted read-only and the output folder read-write straight from the library.
        ``auto`` picks ``docker`` when a Docker engine answers and ``local`` otherwise.""",
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
        from .library.paths import check_name

        return check_name(proposal["value"])

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

    pacs_nodes = Dict(
        help="""The PACS this deployment may query and retrieve from, by name:
        ``{"pacs1": {"ae_title": "ORTHANC", "host": "10.0.0.5", "port": 4242}}``. Only
        administrators set this; members of ``pacs_group`` may use them.""",
    ).tag(config=True)

    # A configuration error must stop the server: jupyter_server only logs an extension that fails
    # to link or load ("error linking extension") and serves on without it, or, worse, with the
    # traits it did manage to read. SystemExit passes its ``except Exception``.
    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        try:
            super()._link_jupyter_server_extension(serverapp)
        except Exception as e:  # noqa: BLE001  (linking only reads configuration)
            self._refuse_to_start(serverapp, "configuration error", e)

    @classmethod
    def _load_jupyter_server_extension(cls, serverapp: Any) -> Any:
        try:
            return super()._load_jupyter_server_extension(serverapp)
        except Exception as e:  # noqa: BLE001  (a backend that cannot start with this configuration)
            cls._refuse_to_start(serverapp, "cannot start", e)

    @staticmethod
    def _refuse_to_start(serverapp: Any, what: str, exc: Exception) -> None:
        message = f"chris_jupyter: {what}: {exc}; the server does not start"
        serverapp.log.critical(message)
        raise SystemExit(message)

    def initialize_settings(self) -> None:
        settings = Settings(
            data_root=Path(self.data_dir),
            db_url=self.db_url or None,
            pacs_group=self.pacs_group,
            fsync_uploads=self.fsync_uploads,
            runner=self.runner,
            job_timeout=self.job_timeout or None,
            max_parallel_jobs=self.max_parallel_jobs,
            start_services=True,
            dicom_ae_title=self.dicom_ae_title,
            pacs_nodes=dict(self.pacs_nodes),
            dicom_receiver=({"host": self.dicom_receiver_host, "port": self.dicom_receiver_port}
                            if self.dicom_receiver_port else None),
        )
        self.backend = Backend(settings)
        self.backend.users.ensure_user(self.embedded_user, is_admin=True)
        self.log.info("ChRIS backend: data in %s, database %s", self.data_dir,
                      settings.resolved_db_url().split("@")[-1])

    def principal_for_jupyter_user(self, user: Any) -> Principal:
        """The ChRIS principal of a user the Jupyter server authenticated (embedded mode)."""
        return self.backend.principal(self.embedded_user, via="jupyter")

    def initialize_handlers(self) -> None:
        from .api import all_handlers

        kwargs = {"backend": self.backend, "chris_app": self}
        self.handlers.extend((pattern, cls, kwargs) for pattern, cls in all_handlers())

    async def stop_extension(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()


main = launch_new_instance = ChrisApp.launch_instance
