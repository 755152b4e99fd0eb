"""Registers: mine sites and their visits, actors, chain links and the evidence behind them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 18:48:00.145652
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "mine_operator",
                "cooperative",
                "trader",
                "comptoir",
                "exporter",
                "smelter",
                "refiner",
                "component_maker",
                "manufacturer",
                "brand",
                "armed_group",
                "security_force",
                "authority",
                name="actorkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=120), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("updated_hour", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actors")),
        sa.UniqueConstraint("dataset", "external_id", name=op.f("uq_actors_dataset")),
    )
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actors_name"), ["name"], unique=False)

    op.create_table(
        "mine_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("province", sa.String(length=120), nullable=False),
        sa.Column("territoire", sa.String(length=120), nullable=False),
        sa.Column("village", sa.String(length=120), nullable=False),
        sa.Column("minerals", sa.JSON(), nullable=False),
        sa.Column("last_visit_date", sa.Date(), nullable=True),
        sa.Column("workers", sa.Integer(), nullable=True),
        sa.Column("armed_presence", sa.Boolean(), nullable=True),
        sa.Column("itsci", sa.String(length=64), nullable=False),
        sa.Column("qualification", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_hour", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mine_sites")),
        sa.UniqueConstraint("dataset", "external_id", name=op.f("uq_mine_sites_dataset")),
    )
    with op.batch_alter_table("mine_sites", schema=None) as batch_op:
        batch_op.create_index("ix_mine_sites_lat_lon", ["latitude", "longitude"], unique=False)
        batch_op.create_index("ix_mine_sites_lon_lat", ["longitude", "latitude"], unique=False)

    op.create_table(
        "chain_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_site_id", sa.Integer(), nullable=True),
        sa.Column("from_actor_id", sa.Integer(), nullable=True),
        sa.Column("to_actor_id", sa.Integer(), nullable=False),
        sa.Column("mineral", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("created_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_actor_id"],
            ["actors.id"],
            name=op.f("fk_chain_links_from_actor_id_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_site_id"],
            ["mine_sites.id"],
            name=op.f("fk_chain_links_from_site_id_mine_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_actor_id"],
            ["actors.id"],
            name=op.f("fk_chain_links_to_actor_id_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_links")),
    )
    with op.batch_alter_table("chain_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_links_from_actor_id"), ["from_actor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chain_links_from_site_id"), ["from_site_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chain_links_to_actor_id"), ["to_actor_id"], unique=False
        )

    op.create_table(
        "mine_site_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("province", sa.String(length=120), nullable=False),
        sa.Column("territoire", sa.String(length=120), nullable=False),
        sa.Column("village", sa.String(length=120), nullable=False),
        sa.Column("minerals", sa.JSON(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=True),
        sa.Column("armed_presence", sa.Boolean(), nullable=True),
        sa.Column("interference", sa.Boolean(), nullable=True),
        sa.Column("armed_groups", sa.JSON(), nullable=False),
        sa.Column("armed_group_type", sa.String(length=120), nullable=False),
        sa.Column("state_services", sa.JSON(), nullable=False),
        sa.Column("itsci", sa.String(length=64), nullable=False),
        sa.Column("qualification", sa.String(length=64), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["mine_sites.id"],
            name=op.f("fk_mine_site_visits_site_id_mine_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mine_site_visits")),
        sa.UniqueConstraint("dataset", "external_id", name=op.f("uq_mine_site_visits_dataset")),
    )
    with op.batch_alter_table("mine_site_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mine_site_visits_site_id"), ["site_id"], unique=False)

    op.create_table(
        "evidence_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_link_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_hour", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_evidence_links_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chain_link_id"],
            ["chain_links.id"],
            name=op.f("fk_evidence_links_chain_link_id_chain_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_evidence_links_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_links_evidence_id_evidence"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_links")),
    )
    with op.batch_alter_table("evidence_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_links_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evidence_links_chain_link_id"), ["chain_link_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evidence_links_evidence_id"), ["evidence_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_links_evidence_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_links_chain_link_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_links_case_id"))

    op.drop_table("evidence_links")
    with op.batch_alter_table("mine_site_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mine_site_visits_site_id"))

    op.drop_table("mine_site_visits")
    with op.batch_alter_table("chain_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_links_to_actor_id"))
        batch_op.drop_index(batch_op.f("ix_chain_links_from_site_id"))
        batch_op.drop_index(batch_op.f("ix_chain_links_from_actor_id"))

    op.drop_table("chain_links")
    with op.batch_alter_table("mine_sites", schema=None) as batch_op:
        batch_op.drop_index("ix_mine_sites_lon_lat")
        batch_op.drop_index("ix_mine_sites_lat_lon")

    op.drop_table("mine_sites")
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actors_name"))

    op.drop_table("actors")
