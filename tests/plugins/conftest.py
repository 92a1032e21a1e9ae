"""The plugin tests share the compute fixtures (DB, plugin venv)."""

from tests.compute.conftest import cdb, plugin_bin  # noqa: F401
