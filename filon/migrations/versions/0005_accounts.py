"""Step-up re-authentication: when a staff session last re-entered password and code

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch_op:
        batch_op.add_column(sa.Column("stepped_up_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch_op:
        batch_op.drop_column("stepped_up_at")
