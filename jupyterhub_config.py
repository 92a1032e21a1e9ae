"""Multi-user ChRIS: JupyterHub with the ChRIS backend as a hub-managed service.

    jupyterhub -f jupyterhub_config.py

Everything a deployer changes comes from environment variables (the README's "Hub deployment"
section has the table); nothing here needs editing. The ChRIS backend runs once, as the service
``chris`` at ``/services/chris/``; users reach it with their hub identity (the OAuth cookie in a
browser, ``Authorization: token …`` from a kernel or script).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub provides it)

env = os.environ.get
STATE = Path(env("CHRIS_HUB_STATE_DIR") or Path.cwd()).resolve()  # hub DB, cookie secret, proxy token


def _split(value: str | None) -> set[str]:
    return {v.strip() for v in (value or "").split(",") if v.strip()}


# -- network: the hub and its proxy ------------------------------------------------------------------
c.JupyterHub.ip = env("CHRIS_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("CHRIS_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("CHRIS_HUB_API_PORT", "8081"))
if env("CHRIS_PUBLIC_URL"):
    c.JupyterHub.public_url = env("CHRIS_PUBLIC_URL")
c.JupyterHub.db_url = env("CHRIS_HUB_DB_URL") or f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# configurable-http-proxy, started by the hub. Run it with the real node binary: a Python shim for
# node is the only thing the hub stops, which would leave the proxy orphaned.
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(env('CHRIS_HUB_PROXY_API_PORT', '8001'))}"
_chp = shutil.which("configurable-http-proxy")
_node = shutil.which("node")
if _chp and _node:
    c.ConfigurableHTTPProxy.command = [_node, os.path.realpath(_chp)]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

# -- who may log in ------------------------------------------------------------------------------------
# CHRIS_HUB_AUTHENTICATOR picks the authenticator; "shared-password" (the default) is for a local
# demo only: everyone who knows the password can log in under any name. For a real deployment set it
# to one of these and configure it in CHRIS_HUB_EXTRA_CONFIG (a Python file loaded at the end):
#   CHRIS_HUB_AUTHENTICATOR=generic-oauth    (pip install oauthenticator)
#       c.GenericOAuthenticator.client_id / client_secret / oauth_callback_url / authorize_url / ...
#       c.GenericOAuthenticator.manage_groups = True   # hub groups from the identity provider
#   CHRIS_HUB_AUTHENTICATOR=ldapauthenticator.LDAPAuthenticator    (pip install jupyterhub-ldapauthenticator)
#       c.LDAPAuthenticator.server_address = "ldap.example.org"; c.LDAPAuthenticator.bind_dn_template = [...]
#   CHRIS_HUB_AUTHENTICATOR=nativeauthenticator.NativeAuthenticator    (pip install jupyterhub-nativeauthenticator)
#       sign-up with admin approval; c.NativeAuthenticator.open_signup = False
authenticator = env("CHRIS_HUB_AUTHENTICATOR", "shared-password")
c.JupyterHub.authenticator_class = authenticator
c.Authenticator.admin_users = _split(env("CHRIS_HUB_ADMINS"))
c.Authenticator.allow_all = env("CHRIS_HUB_ALLOWED_USERS") is None
if env("CHRIS_HUB_ALLOWED_USERS") is not None:
    c.Authenticator.allowed_users = _split(env("CHRIS_HUB_ALLOWED_USERS"))
if authenticator == "shared-password":
    password = env("CHRIS_HUB_PASSWORD")
    if not password:
        password = secrets.token_urlsafe(9)
        print(f"\n*** ChRIS hub: CHRIS_HUB_PASSWORD is not set; the demo password is {password!r} ***\n",
              file=sys.stderr)
    c.SharedPasswordAuthenticator.user_password = password
    if env("CHRIS_HUB_ADMIN_PASSWORD"):
        c.SharedPasswordAuthenticator.admin_password = env("CHRIS_HUB_ADMIN_PASSWORD")
    print("\n*** WARNING: ChRIS hub with the shared-password authenticator: anyone with the password can log "
          "in as any (non-admin) user. For a local demo only; set CHRIS_HUB_AUTHENTICATOR for real use. ***\n",
          file=sys.stderr)

# -- the ChRIS backend, once, as a hub-managed service -------------------------------------------------
SERVICE = "chris"
ACCESS = f"access:services!service={SERVICE}"
_service_env = {k: v for k, v in os.environ.items()
                if k.startswith("CHRIS_") and not k.startswith("CHRIS_HUB_")}
_service_env.setdefault("CHRIS_DATA_ROOT", str((STATE / "chris-data").resolve()))
_service_env.setdefault("CHRIS_RUNNER", "docker")  # confines jobs; `local` would serve admins only
if env("DOCKER_HOST"):
    _service_env["DOCKER_HOST"] = env("DOCKER_HOST")
c.JupyterHub.services = [{
    "name": SERVICE,
    "url": f"http://127.0.0.1:{int(env('CHRIS_SERVICE_PORT', '8765'))}",
    "command": [sys.executable, "-m", "chris_jupyter.hub.service"],
    "environment": _service_env,
    "oauth_no_confirm": True,  # our own service: no "authorize access" page for it
    "display": True,
}]
c.JupyterHub.load_roles = [
    # the service reads users' admin flag and groups (tokens limited to the access scope do not carry them)
    {"name": "chris-service", "services": [SERVICE], "scopes": ["read:users", "list:users", "read:groups"]},
    # every user may call the ChRIS service as themselves
    {"name": "user", "scopes": ["self", ACCESS]},
]
# the token in each user's server (and so in its kernels) reaches the service as that user
c.Spawner.server_token_scopes = ["users:activity!user", ACCESS]

# -- user servers --------------------------------------------------------------------------------------
# The ChRIS DockerSpawner subclass is still to come; until then a user server is a local process
# (SimpleLocalProcessSpawner: every user is the hub's OS account, homes under CHRIS_HUB_HOMES).
c.JupyterHub.spawner_class = env("CHRIS_HUB_SPAWNER", "simple")
c.SimpleLocalProcessSpawner.home_dir_template = str(Path(env("CHRIS_HUB_HOMES") or STATE / "homes") / "{username}")
c.Spawner.default_url = "/lab"
# Until client mode exists, user servers do not load the ChRIS extension: in them it would start a
# private embedded backend of its own, apart from the service's library.
c.Spawner.args = ["--ServerApp.jpserver_extensions=chris_jupyter=False"]
if os.geteuid() == 0:  # the local-process spawner runs user servers as the hub's account
    c.Spawner.args.append("--allow-root")
_public = (env("CHRIS_PUBLIC_URL") or f"http://127.0.0.1:{c.JupyterHub.port}").rstrip("/")
c.Spawner.environment = {"CHRIS_URL": f"{_public}/services/{SERVICE}/"}

if env("CHRIS_HUB_EXTRA_CONFIG"):
    load_subconfig(env("CHRIS_HUB_EXTRA_CONFIG"))  # type: ignore[name-defined]  # noqa: F821
