"""The ChRIS extension as it runs inside the hub service, and the Jupyter server under it.

Why a Jupyter server and not a plain tornado app: the REST handlers (``chris_jupyter.api``) are
jupyter_server ``APIHandler`` subclasses that rely on its identity provider, authorizer, XSRF,
CORS and host checks. Running them in a stripped-down Jupyter server (:class:`ServiceServerApp`:
no contents, kernels, terminals or other extensions) and plugging the hub in as the
``IdentityProvider`` and ``Authorizer`` (:mod:`.auth`) serves the *same* handlers with hub
identities, with no second copy of that machinery.
"""

from __future__ import annotations

import dataclasses
import html
import os
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.serverapp import ServerApp
from tornado import web
from traitlets import Unicode, default

from .._version import __version__
from ..app import ChrisApp
from ..backend import Settings
from ..identity import Principal
from .auth import HubAuthorizer, HubIdentityProvider, HubUser
from .identity import HubDirectory, HubPrincipals


class HealthHandler(APIHandler):
    """``GET /services/chris/health``: unauthenticated liveness check that tells nothing secret."""

    @allow_unauthenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish({"status": "ok", "service": "chris"})

    def check_xsrf_cookie(self) -> None:  # GET only; nothing to protect
        return


class LoginPageHandler(JupyterHandler):
    """``/services/chris/login``: a browser lands here through the hub's OAuth login."""

    @web.authenticated
    def get(self) -> None:
        user = self.current_user
        assert isinstance(user, HubUser)
        base = self.base_url
        self.set_header("Content-Type", "text/html; charset=utf-8")
        # the XSRF token (also set as the ``_xsrf`` cookie) that cookie-authenticated writes must send
        xsrf = self.xsrf_token.decode() if isinstance(self.xsrf_token, bytes) else str(self.xsrf_token)
        self.finish(
            "<!doctype html><title>ChRIS</title>"
            f"<meta name='chris-xsrf' content='{html.escape(xsrf)}'>"
            f"<p>ChRIS {html.escape(__version__)}: logged in through JupyterHub as "
            f"<b id='user'>{html.escape(user.username)}</b>.</p>"
            f"<p>REST API: <a href='{html.escape(base)}chris/api/v1/'>{html.escape(base)}chris/api/v1/</a></p>"
        )


class ChrisHubApp(ChrisApp):
    """The ChRIS backend as a JupyterHub service: the same API, hub identities.

    The environment gives the defaults a deployer usually changes (``CHRIS_DATA_ROOT``,
    ``CHRIS_DB_URL``, ``CHRIS_RUNNER``); ``--ChrisApp.<trait>`` on the command line still wins.
    There is no embedded user: every caller is a hub user. The runner defaults to ``docker``,
    which confines jobs; with ``local`` the backend serves only administrators (the one-user
    rule of ``ChrisApp.unsafe_unconfined_jobs_for_all_users``).
    """

    name = "chris_jupyter_hub"
    auth_required_message = ("authentication required: send a JupyterHub token (Authorization: token …) "
                             "with the scope access:services!service=chris, or log in at /services/chris/login")
    load_other_extensions = False
    extension_url = "/login"
    identity_from_hub = True

    reference_plugins = Unicode(
        config=True,
        help="Image prefix of the reference plugin images (`images/build-reference-plugins.sh` builds "
             "chris-jupyter/pl-dircopy, pl-dcm2nifti, …) that the service registers at start when its "
             "runner is docker, so that a new hub's catalog is not empty; the ones not built are named "
             "in the log. Empty: register none (an admin registers plugins). Default from "
             "CHRIS_REFERENCE_PLUGINS, else chris-jupyter/.",
    )

    @default("reference_plugins")
    def _default_reference_plugins(self) -> str:
        return os.environ.get("CHRIS_REFERENCE_PLUGINS", "chris-jupyter/")

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.environ.get("CHRIS_DATA_ROOT") or super()._default_data_dir()

    @default("hub_service_url")
    def _default_hub_service_url(self) -> str:
        return ""  # the service itself is never in client mode

    @default("db_url")
    def _default_db_url(self) -> str:
        return os.environ.get("CHRIS_DB_URL", "")

    @default("runner")
    def _default_runner(self) -> str:
        return os.environ.get("CHRIS_RUNNER") or "docker"

    def backend_settings(self) -> Settings:
        return dataclasses.replace(super().backend_settings(), embedded_user=None)

    def initialize_settings(self) -> None:
        super().initialize_settings()
        self.hub_principals = HubPrincipals(self.backend)
        hub_auth = self.serverapp.identity_provider.hub_auth
        self.backend.sharing.directory = HubDirectory(self.hub_principals, hub_auth.api_url, hub_auth.api_token)
        if self.reference_plugins and self.runner == "docker":
            from ..sample import seed_plugins

            try:
                seed_plugins(self.backend, "docker", image_prefix=self.reference_plugins)
            except SystemExit as exc:  # no engine answers: jobs will say so; the API still serves
                self.log.warning("reference plugins not registered: %s", exc)

    def principal_for_jupyter_user(self, user: Any) -> Principal:
        """The ChRIS principal of a hub user (created on first request, admin and groups from the hub)."""
        if not isinstance(user, HubUser):
            raise web.HTTPError(403, "not a JupyterHub user")
        return self.hub_principals.principal(user.identity)

    def initialize_handlers(self) -> None:
        super().initialize_handlers()
        self.handlers.extend([(r"/health", HealthHandler), (r"/login", LoginPageHandler)])


class ServiceServerApp(ServerApp):
    """A Jupyter server that serves only the ChRIS extension, authenticated by the hub.

    It offers none of a notebook server's services (contents, kernels, terminals, sessions): this
    process owns the Docker engine, and users reach it only through the ChRIS API. Whatever
    extensions the environment enables, only ``chris_jupyter.hub`` is loaded.
    """

    name = "chris-jupyter-hub-service"
    default_services = ()

    @default("identity_provider_class")
    def _default_identity_provider_class(self) -> type:
        return HubIdentityProvider

    @default("authorizer_class")
    def _default_authorizer_class(self) -> type:
        return HubAuthorizer

    def init_server_extensions(self) -> None:
        self.jpserver_extensions = {"chris_jupyter.hub": True}
        super().init_server_extensions()
