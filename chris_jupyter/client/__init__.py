"""Python client of the ChRIS REST API, for notebooks, widgets, the CLI and remote scripts.

Inside a kernel started by a Jupyter server that runs the extension, ``Client()`` finds that
server and its token by itself. Elsewhere, give ``url`` and ``token`` (or set ``CHRIS_URL`` and
``CHRIS_TOKEN``). Errors are :class:`ChrisApiError` subclasses carrying the server's message.

The package never imports the server core (it runs in kernels and scripts far from it); what it
shares with the server lives in foundation modules (:mod:`chris_jupyter.states`,
:mod:`chris_jupyter.nifti`). Its modules, each building on :class:`~.http.Connection`:
``errors``, ``http``, ``events`` (the one event-stream reader), ``users``, ``library``,
``feeds``, ``compute``, ``dicom``, ``hubshare`` (share codes for a hub user's own server);
``results`` and ``progress`` are how answers and transfers show in a notebook.
"""

from __future__ import annotations

from .compute import ComputeClient
from .dicom import DicomClient
from .errors import (
    AuthenticationError,
    BadRequestError,
    ChrisApiError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    raise_for,
)
from .events import read_events
from .feeds import FeedsClient
from .http import API, CHUNK, Connection, discover_server
from .hubshare import HubServer, HubShareClient, NotInHubError
from .library import LibraryClient
from .results import Page, Record, Rows
from .users import UsersClient

__all__ = [
    "API",
    "CHUNK",
    "AuthenticationError",
    "BadRequestError",
    "ChrisApiError",
    "Client",
    "ConflictError",
    "Connection",
    "HubServer",
    "NotFoundError",
    "NotInHubError",
    "Page",
    "PermissionDeniedError",
    "Record",
    "Rows",
    "discover_server",
    "raise_for",
    "read_events",
]


class Client(UsersClient, LibraryClient, FeedsClient, ComputeClient, DicomClient, HubShareClient):
    """A connection to one ChRIS-for-Jupyter server.

    Parameters
    ----------
    url
        The Jupyter server (or JupyterHub service) URL, e.g. ``http://127.0.0.1:8888/``.
    token
        A ChRIS API token (``chris_…``) or the Jupyter server's own token.
    """
