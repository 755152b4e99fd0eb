"""Evidence files linked to cases, and merged cases

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 17:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("sealed_comment", sa.LargeBinary(), nullable=True),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("created_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_evidence_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_case_evidence_evidence_id_evidence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"],
            ["users.id"],
            name=op.f("fk_case_evidence_linked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
        sa.UniqueConstraint("case_id", "evidence_id", name=op.f("uq_case_evidence_case_id")),
    )
    op.create_index(op.f("ix_case_evidence_case_id"), "case_evidence", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_case_evidence_evidence_id"), "case_evidence", ["evidence_id"], unique=False
    )
    op.create_table(
        "case_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merged_case_id", sa.Integer(), nullable=False),
        sa.Column("into_case_id", sa.Integer(), nullable=False),
        sa.Column("merged_by_id", sa.Integer(), nullable=True),
        sa.Column("merged_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["into_case_id"],
            ["cases.id"],
            name=op.f("fk_case_merges_into_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_by_id"],
            ["users.id"],
            name=op.f("fk_case_merges_merged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_case_id"],
            ["cases.id"],
            name=op.f("fk_case_merges_merged_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_merges")),
        sa.UniqueConstraint("merged_case_id", name=op.f("uq_case_merges_merged_case_id")),
    )
    op.create_index(
        op.f("ix_case_merges_into_case_id"), "case_merges", ["into_case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_merges_into_case_id"), table_name="case_merges")
    op.drop_table("case_merges")
    op.drop_index(op.f("ix_case_evidence_evidence_id"), table_name="case_evidence")
    op.drop_index(op.f("ix_case_evidence_case_id"), table_name="case_evidence")
    op.drop_table("case_evidence")
