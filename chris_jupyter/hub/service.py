"""Entry point of the hub service: ``python -m chris_jupyter.hub.service [--ChrisApp.x=…]``.

JupyterHub starts it (``c.JupyterHub.services`` in ``jupyterhub_config.py``) with
``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX`` (``/services/chris/``),
``JUPYTERHUB_API_TOKEN`` and the OAuth settings in its environment.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlparse


def server_args(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The Jupyter server's arguments from the hub's ``JUPYTERHUB_*`` environment."""
    missing = [k for k in ("JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN")
               if not environ.get(k)]
    if missing:
        raise SystemExit(f"chris_jupyter.hub.service runs as a JupyterHub-managed service; "
                         f"{', '.join(missing)} not set (start it through jupyterhub -f jupyterhub_config.py)")
    url = urlparse(environ["JUPYTERHUB_SERVICE_URL"])
    return [
        f"--ServerApp.ip={url.hostname or '127.0.0.1'}",
        f"--ServerApp.port={url.port or 80}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={environ['JUPYTERHUB_SERVICE_PREFIX']}",
        "--ServerApp.open_browser=False",
        # the hub's proxy forwards the public Host header; credentials come from the hub
        "--ServerApp.allow_remote_access=True",
        "--ServerApp.trust_xheaders=False",
        # this server runs no kernels or terminals (ServiceServerApp has none), so running it under
        # the hub's account, root included, gives users nothing to run code with
        "--ServerApp.allow_root=True",
    ]


def main(argv: list[str] | None = None) -> None:
    from jupyter_core.paths import jupyter_runtime_dir

    # Its own runtime folder: the service's `jpserver-*.json` in the shared one would make Client()
    # and view() on this machine take the service for "the only local Jupyter server".
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(jupyter_runtime_dir(), "chris-hub-service")
    from .app import ChrisHubApp, ServiceServerApp

    args = server_args() + list(sys.argv[1:] if argv is None else argv)
    app = ServiceServerApp.instance()
    app.initialize(argv=args, find_extensions=False, starter_extension=ChrisHubApp.name)
    app.start()


if __name__ == "__main__":
    main()
