"""A jupyter_server ``Authorizer`` for tests: allows every ChRIS API area but compute."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer


class NoCompute(Authorizer):
    """Refuses the ``chris:compute`` resource (plugin instances), allows everything else."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "chris:compute"
