"""Geotags: investigator-authored places for a submission, one of its files, or a case

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 19:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "geotags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("desk_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("precision_m", sa.Integer(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "consented",
                "investigator",
                "text",
                name="geotagmethod",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_hour", sa.DateTime(), nullable=False),
        sa.Column("updated_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_geotags_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_geotags_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["desk_id"], ["desks.id"], name=op.f("fk_geotags_desk_id_desks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_geotags_evidence_id_evidence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_geotags_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geotags")),
    )
    with op.batch_alter_table("geotags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_geotags_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_geotags_desk_lat_lon", ["desk_id", "latitude", "longitude"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_geotags_evidence_id"), ["evidence_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_geotags_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("geotags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_geotags_submission_id"))
        batch_op.drop_index(batch_op.f("ix_geotags_evidence_id"))
        batch_op.drop_index("ix_geotags_desk_lat_lon")
        batch_op.drop_index(batch_op.f("ix_geotags_case_id"))

    op.drop_table("geotags")
