"""Alembic environment: the engine comes from ``Database`` (see ``alembic_config``)."""

from __future__ import annotations

from alembic import context

from chris_jupyter.db import models  # noqa: F401
from chris_jupyter.db.base import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic -x url=...` from a shell, for writing new revisions
    from sqlalchemy import create_engine

    engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
