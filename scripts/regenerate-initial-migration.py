"""Rewrite the initial Alembic revision from the models (development only, before the first release).

Autogenerate cannot see expression indexes on SQLite (``lower(name)``, ``coalesce(pacs, '')``),
so they are added to the revision from the model metadata, which is their one source of truth.
Usage: .venv/bin/python scripts/regenerate-initial-migration.py
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import Column

from chris_jupyter.db import Base, Database
from chris_jupyter.db.session import MIGRATIONS_DIR, alembic_config

REV = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"


def expression_indexes() -> list[tuple[str, str, list[str], bool]]:
    out = []
    for table in Base.metadata.sorted_tables:
        for ix in sorted(table.indexes, key=lambda i: i.name or ""):
            exprs = list(ix.expressions)
            if all(isinstance(e, Column) for e in exprs):
                continue
            kw = {"literal_binds": True, "include_table": False}
            cols = [e.name if isinstance(e, Column) else str(e.compile(compile_kwargs=kw)) for e in exprs]
            out.append((ix.name, table.name, cols, bool(ix.unique)))
    return out


def deferred_foreign_keys() -> list[str]:
    """Foreign keys of reference cycles (``use_alter``): added once both tables exist."""
    lines = []
    for table in Base.metadata.sorted_tables:
        for fk in sorted(table.foreign_key_constraints, key=lambda f: f.name or ""):
            if not fk.use_alter:
                continue
            ref = fk.elements[0].column.table.name
            local = [c.name for c in fk.columns]
            remote = [e.column.name for e in fk.elements]
            lines += [f"    with op.batch_alter_table({table.name!r}) as batch_op:",
                      f"        batch_op.create_foreign_key({fk.name!r}, {ref!r}, {local!r}, {remote!r},"
                      f" ondelete={fk.ondelete!r})"]
    return lines


def main() -> None:
    REV.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{Path(d) / 'gen.db'}")
        command.revision(alembic_config(db), message="initial schema", autogenerate=True, rev_id="0001")
        db.dispose()
    text = REV.read_text()
    ups, downs = [], []
    for name, table, cols, unique in expression_indexes():
        parts = ", ".join(repr(c) if re.fullmatch(r"\w+", c) else f"sa.text({c!r})" for c in cols)
        ups.append(f"    op.create_index({name!r}, {table!r}, [{parts}], unique={unique})")
        downs.append(f"    op.drop_index({name!r}, table_name={table!r})")
    text = "\n".join(ln for ln in text.splitlines() if "use_alter=True" not in ln) + "\n"
    ups += deferred_foreign_keys()
    marker = "    # ### end Alembic commands ###"
    up_at = text.index(marker)
    text = text[:up_at] + marker + "\n    # expression indexes (added by scripts/regenerate-initial-migration.py)\n" + \
        "\n".join(ups) + "\n" + text[up_at + len(marker) + 1:]
    down_at = text.index("def downgrade() -> None:\n") + len("def downgrade() -> None:\n")
    text = text[:down_at] + "\n".join(downs) + "\n" + text[down_at:]
    REV.write_text(text)
    print(f"wrote {REV}")


if __name__ == "__main__":
    main()
