"""Supply chains: desk-owned chain links; evidence links to a mine site, an actor or a link

Revision ID: 0010
Revises: 0008 (0009_geotags is written beside it; the merge re-chains this one onto 0009)
Create Date: 2026-11-22 20:00:00.000000

- ``chain_links.desk_id``: NULL for the shared register, set for a desk's own findings.
- ``evidence_links``: ``chain_link_id`` becomes nullable, ``site_id`` and ``actor_id`` join it
  with a CHECK that exactly one of the three is set (every existing row has a chain link, so
  it holds), and ``desk_id`` is back-filled from the linked file's submission or the case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ONE_TARGET = (
    "(CASE WHEN chain_link_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN site_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN actor_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # On SQLite a batch copies ``chain_links`` to a new table and drops the old one; with
        # foreign keys on (they are, and cannot be switched off inside the migration's
        # transaction), that drop deletes every evidence link that cascades from it. Keep
        # them aside and put them back.
        op.execute("CREATE TEMPORARY TABLE kept_evidence_links AS SELECT * FROM evidence_links")
    with op.batch_alter_table("chain_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("desk_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_chain_links_desk_id_desks"),
            "desks",
            ["desk_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_chain_links_desk_id"), ["desk_id"], unique=False)
    if sqlite:
        op.execute("DELETE FROM evidence_links")  # none are left; said for clarity
        op.execute("INSERT INTO evidence_links SELECT * FROM kept_evidence_links")
        op.execute("DROP TABLE kept_evidence_links")

    with op.batch_alter_table("evidence_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("actor_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("desk_id", sa.Integer(), nullable=True))
        batch_op.alter_column("chain_link_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_evidence_links_site_id_mine_sites"),
            "mine_sites",
            ["site_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_evidence_links_actor_id_actors"),
            "actors",
            ["actor_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_evidence_links_desk_id_desks"),
            "desks",
            ["desk_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_evidence_links_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_links_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_links_desk_id"), ["desk_id"], unique=False)
        batch_op.create_check_constraint("one_target", sa.text(ONE_TARGET))

    # Each existing link belongs to the desk of its file's submission, or of its case.
    op.execute(
        "UPDATE evidence_links SET desk_id = (SELECT submissions.desk_id FROM evidence"
        " JOIN submissions ON submissions.id = evidence.submission_id"
        " WHERE evidence.id = evidence_links.evidence_id) WHERE evidence_id IS NOT NULL"
    )
    op.execute(
        "UPDATE evidence_links SET desk_id = (SELECT cases.desk_id FROM cases"
        " WHERE cases.id = evidence_links.case_id) WHERE desk_id IS NULL AND case_id IS NOT NULL"
    )


def downgrade() -> None:
    # Links to a site or an actor have no place in the old shape.
    op.execute("DELETE FROM evidence_links WHERE chain_link_id IS NULL")
    with op.batch_alter_table("evidence_links", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_evidence_links_one_target"), type_="check")
        batch_op.drop_index(batch_op.f("ix_evidence_links_desk_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_links_actor_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_links_site_id"))
        batch_op.drop_constraint(batch_op.f("fk_evidence_links_desk_id_desks"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_evidence_links_actor_id_actors"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_evidence_links_site_id_mine_sites"), type_="foreignkey"
        )
        batch_op.alter_column("chain_link_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("desk_id")
        batch_op.drop_column("actor_id")
        batch_op.drop_column("site_id")

    with op.batch_alter_table("chain_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_links_desk_id"))
        batch_op.drop_constraint(batch_op.f("fk_chain_links_desk_id_desks"), type_="foreignkey")
        batch_op.drop_column("desk_id")
