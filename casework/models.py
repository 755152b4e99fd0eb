"""The casework's own tables (DESIGN.md §6), on the shared declarative base.

Investigator-authored case fields (title, summary, minerals, risks, tags) are plaintext on
purpose, so the back office can search them; notes may quote a source, so they are sealed to
the desk key like everything a source sent.

A staff session row holds the user key sealed under a session key that only the browser has,
so a copy of the database opens nothing; the row is found by a hash of that key, never by the
key itself.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from filon.db import Base, hex_digest, hour, intpk, sealed
from filon.models import Evidence, Submission, string_enum

MAX_TITLE_CHARS = 200
MAX_LABEL_CHARS = 64  # casework.cases.MAX_ITEM_CHARS
MAX_SEARCH_NAME_CHARS = 80


class StaffSession(Base):
    """A signed-in staff member: their user key, sealed under the browser's session key."""

    __tablename__ = "staff_sessions"

    id: Mapped[intpk]
    # SHA-256 of the session key: a database reader cannot turn it back into a cookie.
    key_hash: Mapped[hex_digest] = mapped_column(unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sealed_user_key: Mapped[sealed]  # crypto_secretbox under the session key
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False), index=True)
    # When the staff member last re-entered password and code (casework.stepup): key
    # operations and exports ask for that again after a few minutes, so a browser left
    # signed in cannot hand a desk to someone else.
    stepped_up_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=False))


class TotpStep(Base):
    """The last TOTP time step accepted for a user: a code works once, then never again."""

    __tablename__ = "totp_steps"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_step: Mapped[int] = mapped_column(BigInteger)


class CaseStatus(enum.StrEnum):
    """Where a case stands: new → triage → investigating → a finding → archived."""

    NEW = "new"
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    DISMISSED = "dismissed"
    ARCHIVED = "archived"


class CasePriority(enum.StrEnum):
    """How urgently a case needs work."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Case(Base):
    """An investigation on one desk, built from one or more of its submissions."""

    __tablename__ = "cases"

    id: Mapped[intpk]
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id"), index=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    status: Mapped[CaseStatus] = mapped_column(
        string_enum(CaseStatus), default=CaseStatus.NEW, index=True
    )
    priority: Mapped[CasePriority] = mapped_column(
        string_enum(CasePriority), default=CasePriority.NORMAL
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    minerals: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk_categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # casework.risks codes
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_hour: Mapped[hour]
    updated_hour: Mapped[hour]

    def fields(self) -> dict[str, Any]:
        """The editable fields as plain values (for the audit trail's before/after)."""
        return {
            "title": self.title,
            "priority": str(self.priority),
            "assignee_id": self.assignee_id,
            "summary": self.summary,
            "minerals": list(self.minerals),
            "risk_categories": list(self.risk_categories),
            "tags": list(self.tags),
        }


class CaseSubmission(Base):
    """A submission attached to a case."""

    __tablename__ = "case_submissions"
    __table_args__ = (UniqueConstraint("case_id", "submission_id"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )


class CaseNote(Base):
    """An investigator's note on a case, sealed to the desk key (it may quote a source)."""

    __tablename__ = "case_notes"

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sealed_text: Mapped[sealed]
    created_hour: Mapped[hour]


class CaseEvidence(Base):
    """One evidence file linked to a case, with an optional comment sealed to the desk key.

    The comment is sealed like a note, not plaintext like the case fields: a remark on a
    photo ("the man on the left is the source's brother") can say as much as the photo.
    """

    __tablename__ = "case_evidence"
    __table_args__ = (UniqueConstraint("case_id", "evidence_id"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    evidence_id: Mapped[int] = mapped_column(
        ForeignKey("evidence.id", ondelete="CASCADE"), index=True
    )
    sealed_comment: Mapped[bytes | None] = mapped_column(LargeBinary)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_hour: Mapped[hour]


class CaseMerge(Base):
    """A case merged into another: the merged case stays as a tombstone pointing here."""

    __tablename__ = "case_merges"

    id: Mapped[intpk]
    # Unique: a case is merged once; afterwards it is closed to every change.
    merged_case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), unique=True
    )
    into_case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    merged_hour: Mapped[hour]


class LabelKind(enum.StrEnum):
    """Which of a case's list fields a label comes from."""

    TAG = "tag"
    MINERAL = "mineral"
    RISK = "risk"


class CaseLabel(Base):
    """One tag, mineral or risk code of a case, lower-cased: the inbox's index of those lists.

    The lists stay on :class:`Case` (JSON, as the case page edits them); this table repeats
    them one row per value so a filter is an index lookup on any database, and
    :func:`casework.inbox.sync_labels` keeps it in step whenever a case's lists are set.
    """

    __tablename__ = "case_labels"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "value"),
        Index("ix_case_labels_kind_value_case", "kind", "value", "case_id"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[LabelKind] = mapped_column(string_enum(LabelKind))
    value: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS))


class SavedSearch(Base):
    """A user's named set of inbox filters on one desk (the inbox's query string, validated)."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("user_id", "desk_id", "name"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_SEARCH_NAME_CHARS))
    query: Mapped[str] = mapped_column(Text)
    created_hour: Mapped[hour]


# The inbox's queries on the shared record: a desk's submissions newest first (all, or of one
# status) by seek on (received_hour, id), and "has a file we could not clean" per submission.
Index("ix_submissions_desk_received", Submission.desk_id, Submission.received_hour, Submission.id)
Index(
    "ix_submissions_desk_status_received",
    Submission.desk_id,
    Submission.status,
    Submission.received_hour,
    Submission.id,
)
Index("ix_evidence_submission_cleaning", Evidence.submission_id, Evidence.cleaning_status)
Index("ix_cases_desk_priority", Case.desk_id, Case.priority)


# -- registers (DESIGN.md §7) ----------------------------------------------------------------

MAX_DATASET_CHARS = 64
MAX_EXTERNAL_ID_CHARS = 64
MAX_PLACE_CHARS = 120


class MineSite(Base):
    """A mine site from a register: its latest known state, keyed by source dataset and id.

    A re-import of the same dataset updates the row found by ``(dataset, external_id)``
    (IPIS: the ``pcode``) instead of adding another; every visit stays in
    :class:`MineSiteVisit`.
    """

    __tablename__ = "mine_sites"
    __table_args__ = (
        UniqueConstraint("dataset", "external_id"),
        # Bounding-box queries (the map's visible area, the nearest sites to a geotag).
        Index("ix_mine_sites_lat_lon", "latitude", "longitude"),
        Index("ix_mine_sites_lon_lat", "longitude", "latitude"),
    )

    id: Mapped[intpk]
    dataset: Mapped[str] = mapped_column(String(MAX_DATASET_CHARS))
    external_id: Mapped[str] = mapped_column(String(MAX_EXTERNAL_ID_CHARS))
    name: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    province: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    territoire: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    village: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    minerals: Mapped[list[str]] = mapped_column(JSON, default=list)  # registers.minerals codes
    last_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    workers: Mapped[int | None] = mapped_column(Integer)
    armed_presence: Mapped[bool | None] = mapped_column(Boolean)
    itsci: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS), default="")
    qualification: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS), default="")
    source: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS), default="")  # provenance
    updated_hour: Mapped[hour]


class MineSiteVisit(Base):
    """One visit to a mine site as the register recorded it: an observation, never overwritten."""

    __tablename__ = "mine_site_visits"
    __table_args__ = (UniqueConstraint("dataset", "external_id"),)

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(
        ForeignKey("mine_sites.id", ondelete="CASCADE"), index=True
    )
    dataset: Mapped[str] = mapped_column(String(MAX_DATASET_CHARS))
    external_id: Mapped[str] = mapped_column(String(MAX_EXTERNAL_ID_CHARS))  # IPIS: vid
    visit_date: Mapped[dt.date | None] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    province: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    territoire: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    village: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    minerals: Mapped[list[str]] = mapped_column(JSON, default=list)
    workers: Mapped[int | None] = mapped_column(Integer)
    armed_presence: Mapped[bool | None] = mapped_column(Boolean)
    interference: Mapped[bool | None] = mapped_column(Boolean)
    armed_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    armed_group_type: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    state_services: Mapped[list[str]] = mapped_column(JSON, default=list)
    itsci: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS), default="")
    qualification: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS), default="")
    row: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the row as it came


class ActorKind(enum.StrEnum):
    """Who stands in a supply chain (DESIGN.md §7)."""

    MINE_OPERATOR = "mine_operator"
    COOPERATIVE = "cooperative"
    TRADER = "trader"  # négociant
    COMPTOIR = "comptoir"
    EXPORTER = "exporter"
    SMELTER = "smelter"
    REFINER = "refiner"
    COMPONENT_MAKER = "component_maker"
    MANUFACTURER = "manufacturer"
    BRAND = "brand"
    ARMED_GROUP = "armed_group"
    SECURITY_FORCE = "security_force"
    AUTHORITY = "authority"


class Actor(Base):
    """A company, group or authority; imported ones keep their dataset and external id."""

    __tablename__ = "actors"
    __table_args__ = (UniqueConstraint("dataset", "external_id"),)

    id: Mapped[intpk]
    kind: Mapped[ActorKind] = mapped_column(string_enum(ActorKind))
    name: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS), index=True)
    country: Mapped[str] = mapped_column(String(MAX_PLACE_CHARS), default="")
    dataset: Mapped[str | None] = mapped_column(String(MAX_DATASET_CHARS))
    external_id: Mapped[str | None] = mapped_column(String(MAX_EXTERNAL_ID_CHARS))  # CID…
    # What an actor handles (registers.minerals codes: a tin smelter has "cassiterite") and
    # its standing in the source (RMI: "Conformant", "Active"); both are filtered and shown.
    minerals: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS), default="")
    # Everything else the source says (street, city, the source of the id, the metal as
    # written): shown, never queried, and different from one source to the next.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_hour: Mapped[hour]


class ChainLink(Base):
    """Minerals pass from an actor or a mine site to an actor, over a period."""

    __tablename__ = "chain_links"

    id: Mapped[intpk]
    from_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("mine_sites.id", ondelete="CASCADE"), index=True
    )
    from_actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), index=True
    )
    to_actor_id: Mapped[int] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), index=True
    )
    mineral: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS), default="")
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    created_hour: Mapped[hour]
    # NULL: the shared register (imported links), seen by every staff member. Set: made by
    # that desk's investigators from its evidence; who buys from whom is itself a lead the
    # desk may not want other desks to see (DESIGN.md §1: desks are compartments).
    desk_id: Mapped[int | None] = mapped_column(
        ForeignKey("desks.id", ondelete="CASCADE"), index=True
    )


class EvidenceLink(Base):
    """A piece of evidence (or a case) that documents a mine site or an actor, or supports a link.

    Exactly one target is set (a CHECK holds it). ``desk_id`` is the desk whose evidence or
    case it is, copied here so a page filters the links a viewer may see without joining
    through evidence and submissions; a row without one is shown to nobody (fail closed).
    """

    __tablename__ = "evidence_links"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN chain_link_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN site_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN actor_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
    )

    id: Mapped[intpk]
    chain_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("chain_links.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("mine_sites.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), index=True
    )
    evidence_id: Mapped[int | None] = mapped_column(
        ForeignKey("evidence.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    desk_id: Mapped[int | None] = mapped_column(
        ForeignKey("desks.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_hour: Mapped[hour]


# -- geotags (DESIGN.md §6, §7) --------------------------------------------------------------

MAX_GEOTAG_NOTE_CHARS = 200


class GeotagMethod(enum.StrEnum):
    """How a geotag's position was obtained."""

    CONSENTED = "consented"  # a file's GPS position, which its source consented to share
    INVESTIGATOR = "investigator"  # placed or corrected by hand
    TEXT = "text"  # read from the report's text by an investigator


class Geotag(Base):
    """A place on the map for a submission, one of its files, or a case of its desk.

    Investigator-authored and plaintext on purpose (DESIGN.md §6), so the map and the
    nearest-site proposals can query it: turning a consented location into a geotag copies
    it out of the sealed metadata, and the page says so before the click.
    """

    __tablename__ = "geotags"
    __table_args__ = (
        # The map's visible area, within the desks a staff member may see.
        Index("ix_geotags_desk_lat_lon", "desk_id", "latitude", "longitude"),
    )

    id: Mapped[intpk]
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    evidence_id: Mapped[int | None] = mapped_column(
        ForeignKey("evidence.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    precision_m: Mapped[int] = mapped_column(Integer)
    method: Mapped[GeotagMethod] = mapped_column(string_enum(GeotagMethod))
    note: Mapped[str] = mapped_column(String(MAX_GEOTAG_NOTE_CHARS), default="")  # provenance
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_hour: Mapped[hour]
    updated_hour: Mapped[hour]
