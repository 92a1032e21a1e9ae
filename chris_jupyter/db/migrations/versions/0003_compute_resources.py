"""compute resources, and the plugins registered for each

Revision ID: 0003_compute
Revises: 0002_cube
"""

import sqlalchemy as sa
from alembic import op

import chris_jupyter.db.types

revision = "0003_compute"
down_revision = "0002_cube"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("max_job_time", sa.Double(), nullable=True),
        sa.Column("created_at", chris_jupyter.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_resources")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_resources_name")),
    )
    op.create_table(
        "plugin_compute_resources",
        sa.Column("plugin_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plugin_id"], ["plugins.id"], ondelete="CASCADE",
                                name=op.f("fk_plugin_compute_resources_plugin_id_plugins")),
        sa.ForeignKeyConstraint(["resource_id"], ["compute_resources.id"], ondelete="CASCADE",
                                name=op.f("fk_plugin_compute_resources_resource_id_compute_resources")),
        sa.PrimaryKeyConstraint("plugin_id", "resource_id", name=op.f("pk_plugin_compute_resources")),
    )
    with op.batch_alter_table("plugin_compute_resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plugin_compute_resources_resource_id"), ["resource_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plugin_compute_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plugin_compute_resources_resource_id"))
    op.drop_table("plugin_compute_resources")
    op.drop_table("compute_resources")
