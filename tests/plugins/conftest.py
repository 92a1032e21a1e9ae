"""The plugin tests share the compute fixtures (DB, plugin venv)."""

from tests.compute.conftest import cdb, plugin_bin  # noqa: F401
from tests.compute.conftest import (  # noqa: F401, E402
    data_root,
    dclient,
    docker_plugins,
    docker_runner,
    events,
    local_plugins,
    local_runner,
    make_coordinator,
    plugin_image,
    registrar,
)
