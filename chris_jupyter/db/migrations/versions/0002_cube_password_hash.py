"""users.password_hash: optional argon2 password hashes (CUBE-compatible login)

Revision ID: 0002_cube
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002_cube'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('password_hash')
