"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
and the server extension is installed and loads."""

from __future__ import annotations

import re
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
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # without the colours
    # "chris_jupyter enabled", then its own validation line "chris_jupyter <version> OK"
    assert re.search(r"^\s*chris_jupyter\s+enabled\s*$", text, re.M), text
    assert re.search(r"^\s*chris_jupyter \S+ OK\s*$", text, re.M), text
