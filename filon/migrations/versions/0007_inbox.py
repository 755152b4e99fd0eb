"""The inbox: case labels (tags, minerals, risks one row each), saved searches, seek indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The cases as 0004 left them: only what the back-fill reads.
_cases = sa.table(
    "cases",
    sa.column("id", sa.Integer()),
    sa.column("tags", sa.JSON()),
    sa.column("minerals", sa.JSON()),
    sa.column("risk_categories", sa.JSON()),
)
_labels = sa.table(
    "case_labels",
    sa.column("case_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("value", sa.String()),
)
_BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "case_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "tag",
                "mineral",
                "risk",
                name="labelkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_labels_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_labels")),
        sa.UniqueConstraint("case_id", "kind", "value", name=op.f("uq_case_labels_case_id")),
    )
    op.create_index(
        "ix_case_labels_kind_value_case", "case_labels", ["kind", "value", "case_id"], unique=False
    )
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("desk_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["desk_id"],
            ["desks.id"],
            name=op.f("fk_saved_searches_desk_id_desks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_saved_searches_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
        sa.UniqueConstraint("user_id", "desk_id", "name", name=op.f("uq_saved_searches_user_id")),
    )
    op.create_index(op.f("ix_saved_searches_desk_id"), "saved_searches", ["desk_id"], unique=False)
    op.create_index(
        "ix_submissions_desk_received",
        "submissions",
        ["desk_id", "received_hour", "id"],
        unique=False,
    )
    op.create_index(
        "ix_submissions_desk_status_received",
        "submissions",
        ["desk_id", "status", "received_hour", "id"],
        unique=False,
    )
    op.create_index(
        "ix_evidence_submission_cleaning",
        "evidence",
        ["submission_id", "cleaning_status"],
        unique=False,
    )
    op.create_index("ix_cases_desk_priority", "cases", ["desk_id", "priority"], unique=False)
    _backfill_labels()


def _backfill_labels() -> None:
    # The same folding as casework.inbox.label_rows: trimmed, lower-cased, distinct per case.
    connection = op.get_bind()
    rows: list[dict[str, object]] = []
    for case_id, tags, minerals, risks in connection.execute(
        sa.select(_cases.c.id, _cases.c.tags, _cases.c.minerals, _cases.c.risk_categories)
    ):
        labels = {
            (kind, str(value).strip().lower()[:64])
            for kind, values in (("tag", tags), ("mineral", minerals), ("risk", risks))
            for value in values or []
            if str(value).strip()
        }
        rows.extend({"case_id": case_id, "kind": k, "value": v} for k, v in sorted(labels))
        if len(rows) >= _BATCH:
            connection.execute(_labels.insert(), rows)
            rows = []
    if rows:
        connection.execute(_labels.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_cases_desk_priority", table_name="cases")
    op.drop_index("ix_evidence_submission_cleaning", table_name="evidence")
    op.drop_index("ix_submissions_desk_status_received", table_name="submissions")
    op.drop_index("ix_submissions_desk_received", table_name="submissions")
    op.drop_index(op.f("ix_saved_searches_desk_id"), table_name="saved_searches")
    op.drop_table("saved_searches")
    op.drop_index("ix_case_labels_kind_value_case", table_name="case_labels")
    op.drop_table("case_labels")
