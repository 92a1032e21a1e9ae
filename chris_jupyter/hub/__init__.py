"""Hub mode: the ChRIS backend run once, as a JupyterHub-managed service at ``/services/chris/``.

Start it with ``python -m chris_jupyter.hub.service`` (the repository's ``jupyterhub_config.py``
does). It serves the same ``chris/api/v1/…`` handlers as the embedded extension; the caller's
identity comes from the hub (:mod:`.auth`) and becomes a ChRIS principal (:mod:`.identity`).
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import ChrisHubApp

    return [{"module": "chris_jupyter.hub.app", "app": ChrisHubApp}]
