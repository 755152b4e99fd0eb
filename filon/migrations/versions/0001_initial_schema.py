"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:31:42.991095
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custody_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=96), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_custody_events_hash")),
        sa.UniqueConstraint("subject", "seq", name=op.f("uq_custody_events_subject")),
    )
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_events_subject"), ["subject"], unique=False)

    op.create_table(
        "desks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed_for_recovery", sa.LargeBinary(), nullable=False),
        sa.Column("keeps_originals", sa.Boolean(), nullable=False),
        sa.Column("custodian_public_key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desks")),
        sa.UniqueConstraint("slug", name=op.f("uq_desks_slug")),
    )
    op.create_table(
        "org_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed_for_recovery", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_keys")),
        sa.UniqueConstraint("purpose", name=op.f("uq_org_keys_purpose")),
    )
    op.create_table(
        "pow_challenges",
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("challenge_hash", name=op.f("pk_pow_challenges")),
    )
    with op.batch_alter_table("pow_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pow_challenges_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("last_seen_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("lookup_hash", name=op.f("uq_sources_lookup_hash")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "investigator",
                "journalist",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("wrapped_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "desk_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("desk_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sealed_desk_key", sa.LargeBinary(), nullable=False),
        sa.Column("can_export", sa.Boolean(), nullable=False),
        sa.Column("sealed_custodian_key", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["desk_id"],
            ["desks.id"],
            name=op.f("fk_desk_memberships_desk_id_desks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_desk_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_memberships")),
        sa.UniqueConstraint("desk_id", "user_id", name=op.f("uq_desk_memberships_desk_id")),
    )
    with op.batch_alter_table("desk_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_memberships_desk_id"), ["desk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "org_key_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_key_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_key_id"],
            ["org_keys.id"],
            name=op.f("fk_org_key_grants_org_key_id_org_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_org_key_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_key_grants")),
        sa.UniqueConstraint("org_key_id", "user_id", name=op.f("uq_org_key_grants_org_key_id")),
    )
    with op.batch_alter_table("org_key_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_key_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("desk_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("sealed_for_source", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_for_desk", sa.LargeBinary(), nullable=False),
        sa.Column("created_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_replies_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["desk_id"], ["desks.id"], name=op.f("fk_replies_desk_id_desks")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_replies_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replies_desk_id"), ["desk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_replies_source_id"), ["source_id"], unique=False)

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("desk_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("received_hour", sa.DateTime(), nullable=False),
        sa.Column("sealed_metadata", sa.LargeBinary(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "read",
                "attached",
                "dismissed",
                name="submissionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["desk_id"], ["desks.id"], name=op.f("fk_submissions_desk_id_desks")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_submissions_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("reference", name=op.f("uq_submissions_reference")),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_submissions_desk_id"), ["desk_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_submissions_received_hour"), ["received_hour"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_submissions_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_submissions_status"), ["status"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("blob_id", sa.String(length=64), nullable=False),
        sa.Column("sealed_file_key", sa.LargeBinary(), nullable=False),
        sa.Column(
            "cleaning_status",
            sa.Enum(
                "cleaned",
                "nothing_to_clean",
                "not_cleaned",
                name="cleaningstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ciphertext_size", sa.BigInteger(), nullable=False),
        sa.Column("original_blob_id", sa.String(length=64), nullable=True),
        sa.Column("sealed_original_key", sa.LargeBinary(), nullable=True),
        sa.Column("original_ciphertext_size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_evidence_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("blob_id", name=op.f("uq_evidence_blob_id")),
        sa.UniqueConstraint("original_blob_id", name=op.f("uq_evidence_original_blob_id")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_submission_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_status"))
        batch_op.drop_index(batch_op.f("ix_submissions_source_id"))
        batch_op.drop_index(batch_op.f("ix_submissions_received_hour"))
        batch_op.drop_index(batch_op.f("ix_submissions_desk_id"))

    op.drop_table("submissions")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replies_source_id"))
        batch_op.drop_index(batch_op.f("ix_replies_desk_id"))

    op.drop_table("replies")
    with op.batch_alter_table("org_key_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_key_grants_user_id"))

    op.drop_table("org_key_grants")
    with op.batch_alter_table("desk_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_desk_memberships_desk_id"))

    op.drop_table("desk_memberships")
    op.drop_table("users")
    op.drop_table("sources")
    with op.batch_alter_table("pow_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pow_challenges_expires_at"))

    op.drop_table("pow_challenges")
    op.drop_table("org_keys")
    op.drop_table("desks")
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_events_subject"))

    op.drop_table("custody_events")
