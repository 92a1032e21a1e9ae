"""The plugin tests share the compute fixtures (DB, plugin venv, runners, coordinators)."""

from tests.compute.conftest import (  # noqa: F401
    cdb,
    data_root,
    dclient,
    docker_plugins,
    docker_runner,
    events,
    local_plugins,
    local_runner,
    make_coordinator,
    plugin_bin,
    plugin_image,
    registrar,
)
