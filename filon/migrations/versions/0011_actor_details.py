"""Actor details: the minerals an actor handles, its status in the source, other details

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-22 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the actors already there; the models give new rows their values.
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("minerals", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("details", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.drop_column("details")
        batch_op.drop_column("status")
        batch_op.drop_column("minerals")
