"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
and the server extension is installed and loads."""

from __future__ import annotations

import subprocess
import sys
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chris_jupyter.db import Base, Database


def test_migrations_match_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade()
        db.upgrade()  # idempotent
        with db.engine.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLite cannot reflect expression indexes
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    Base.metadata)
        assert diff == []
    finally:
        db.dispose()


def test_server_extension_is_enabled_and_loads() -> None:
    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                         capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    line = next(ln for ln in text.splitlines() if "chris_jupyter" in ln and "enabled" in ln)
    assert "enabled" in line
    assert "chris_jupyter" in text and "OK" in text.split("chris_jupyter", 1)[1].split("\n\n")[0]
