"""The backend: every core service, built from plain settings, with no web framework in sight.

``ChrisApp`` (the Jupyter server extension, :mod:`chris_jupyter.app`), ``ChrisHubApp`` (the
same extension run once as a JupyterHub service, :mod:`chris_jupyter.hub.app`) and the
tests all build one ``Backend`` from :class:`Settings` and hand its services to whatever front
end they serve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compute.service import Compute
from .db import Database
from .dicom.collab import Collaboration
from .dicom.net.pacs_service import PacsService
from .dicom.service import DicomService
from .events import EventBus
from .feeds.service import Feeds
from .identity import Accounts, Principal, Users
from .library.service import Library
from .library.sharing import Sharing
from .library.store import Store

log = logging.getLogger("chris_jupyter")


@dataclass
class Settings:
    """Everything the backend needs to start, as plain values (``ChrisApp`` fills it from its traits)."""

    data_root: Path
    db_url: str | None = None  # default: SQLite file under data_root
    pacs_group: str = "pacs_users"
    fsync_uploads: bool = False
    migrate: bool = True  # Alembic upgrade at start; tests of the core may use create_all
    runner: str = "auto"  # "auto" | "local" | "docker"
    runner_class: type | None = None  # a Runner subclass; wins over ``runner``
    config: Any = None  # the server's traitlets Config: runners read their section of it
    compute_resources: list = field(default_factory=list)  # [{name, kind, settings, …}] ensured at start
    job_timeout: float | None = None
    max_parallel_jobs: int = 4
    start_services: bool = False  # compute + DICOM receiver: the server starts them, tools do not
    dicom_ae_title: str = "CHRIS"
    pacs_nodes: dict = field(default_factory=dict)  # name -> {"ae_title", "host", "port"}
    dicom_receiver: dict | None = None  # {"host", "port", StoreReceiver options} for C-STORE
    embedded_user: str | None = None  # the one non-admin user served when jobs are not confined
    unsafe_unconfined_jobs_for_all_users: bool = False  # see ChrisApp's trait of the same name

    def resolved_db_url(self) -> str:
        """The database URL: ``db_url``, else a SQLite file in the data root."""
        return self.db_url or f"sqlite:///{Path(self.data_root).resolve() / 'chris.db'}"


@dataclass
class Backend:
    """Every core service, built once from :class:`Settings`; :meth:`close` stops the background work."""

    settings: Settings
    db: Database = field(init=False)
    events: EventBus = field(init=False)
    store: Store = field(init=False)
    users: Users = field(init=False)
    accounts: Accounts = field(init=False)
    library: Library = field(init=False)
    sharing: Sharing = field(init=False)
    feeds: Feeds = field(init=False)
    dicom: DicomService = field(init=False)
    collab: Collaboration = field(init=False)
    compute: Compute = field(init=False)
    pacs: PacsService = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        Path(s.data_root).mkdir(parents=True, exist_ok=True)
        self.db = Database(s.resolved_db_url())
        if s.migrate:
            self.db.upgrade()
        else:
            self.db.create_all()
        self.events = EventBus()
        self.store = Store(Path(s.data_root))
        left = self.store.clean_tmp()
        if left:
            log.info("removed %d unfinished uploads left by an earlier run", left)
        self.library = Library(self.db, self.store, self.events, pacs_group=s.pacs_group,
                               fsync=s.fsync_uploads)
        self.users = Users(self.db, on_new_user=lambda u: self.library.init_home(u.username))
        self.accounts = Accounts(self.users)
        self.sharing = Sharing(self.db, self.events, pacs_group=s.pacs_group)
        self.feeds = Feeds(self.db, self.library, self.events)
        self.dicom = DicomService(self.db, self.library, self.events, Path(s.data_root) / "cache" / "volumes")
        self.collab = Collaboration(self.db, self.dicom, self.events)
        self.library.init_tree()
        self.compute = Compute(self.db, self.library, self.users, self.events, data_root=Path(s.data_root),
                               runner=s.runner, runner_cls=s.runner_class,
                               config=s.config, compute_resources=s.compute_resources,
                               default_timeout=s.job_timeout, max_parallel=s.max_parallel_jobs)
        self.pacs = PacsService(self.library, self.events, ae_title=s.dicom_ae_title, nodes=s.pacs_nodes,
                                receiver=s.dicom_receiver, pacs_group=s.pacs_group)
        if s.start_services:
            self.compute.start()
            self.pacs.start()
            self._limit_users_to_runner()

    def _limit_users_to_runner(self) -> None:
        """Serve only the embedded user and administrators when the runner does not confine jobs.

        A job of the local runner is a subprocess with the server's own rights: a parameter such
        as ``--prefix ../../../home/alice/…`` writes wherever the server can. Such a server is for
        the one person it belongs to; users created under another runner keep their data but are
        refused (with this message) until the server runs a confining runner again.
        """
        s = self.settings
        if self.compute.confines_jobs or s.unsafe_unconfined_jobs_for_all_users:
            return
        runner = self.compute.c.runner.name
        who = f"its embedded user {s.embedded_user!r}" if s.embedded_user else "no one"
        reason = (f"this server runs plugins with the {runner!r} runner, which does not confine them "
                  f"(a plugin parameter could write anywhere the server's account can), so it serves only "
                  f"{who} and administrators; run it with the Docker runner (--ChrisApp.runner=docker) "
                  f"to serve more people")
        self.users.serve_only({s.embedded_user} if s.embedded_user else set(), reason)
        others = [u.username for u in self.users.list_users()
                  if not u.is_admin and u.username != s.embedded_user]
        if others:
            log.warning("the %s runner does not confine plugins: %d existing user(s) are refused until "
                        "the server runs with a confining runner: %s", runner, len(others),
                        ", ".join(others[:20]) + (" …" if len(others) > 20 else ""))

    def principal(self, username: str, *, via: str = "token", is_admin: bool | None = None) -> Principal:
        """The principal of ``username``, creating the user on first sight."""
        self.users.ensure_user(username, is_admin=is_admin)
        return self.users.principal(username, via=via)

    def close(self) -> None:
        """Stop the compute coordinator and the PACS services, and release the database."""
        self.compute.stop()
        self.pacs.stop()
        self.db.dispose()
