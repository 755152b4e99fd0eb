"""The shared record (DESIGN.md §6): desks, staff keys, sources, submissions, evidence, custody.

Nothing here holds source content in plaintext: answers, file names, metadata reports and file
keys are sealed; plaintext timestamps of intake records are rounded to the hour. Columns that
hold investigator-authored text (desk names) are plaintext on purpose.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from filon.db import Base, byte_count, hex_digest, hour, intpk, public_key, sealed, slug


class Role(enum.StrEnum):
    """What a staff account may do."""

    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    JOURNALIST = "journalist"


class CleaningStatus(enum.StrEnum):
    """What metadata cleaning achieved for one file."""

    CLEANED = "cleaned"
    NOTHING_TO_CLEAN = "nothing_to_clean"
    NOT_CLEANED = "not_cleaned"  # flagged: never passed off as clean


class SubmissionStatus(enum.StrEnum):
    """Where a submission stands in triage."""

    NEW = "new"
    READ = "read"
    ATTACHED = "attached"  # part of a case
    DISMISSED = "dismissed"


def string_enum(cls: type[enum.Enum]) -> Enum:
    """An enum column stored as plain strings with a CHECK, alike on SQLite and PostgreSQL."""
    return Enum(
        cls,
        name=cls.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Desk(Base):
    """A cryptographic compartment: its content is sealed to the desk key."""

    __tablename__ = "desks"

    id: Mapped[intpk]
    slug: Mapped[slug] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[public_key]
    # The desk's private key sealed to the recovery key, so a lost desk can be recovered.
    sealed_for_recovery: Mapped[sealed]
    keeps_originals: Mapped[bool] = mapped_column(Boolean, default=False)
    custodian_public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    retention_days: Mapped[int | None] = mapped_column(Integer)
    created_day: Mapped[dt.date] = mapped_column(Date)

    memberships: Mapped[list[DeskMembership]] = relationship(back_populates="desk")


class User(Base):
    """A staff account with its own X25519 user key, wrapped under its password."""

    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[slug] = mapped_column(unique=True)
    role: Mapped[Role] = mapped_column(string_enum(Role))
    # Argon2id verifier (argon2-cffi), separate from the key that wraps the user key.
    password_hash: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[public_key]
    wrapped_private_key: Mapped[sealed]  # crypto.kdf FWK1 blob
    totp_secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_day: Mapped[dt.date] = mapped_column(Date)
    # Where the daily digest goes (filon.digest); it carries no source content.
    email: Mapped[str | None] = mapped_column(String(254))

    memberships: Mapped[list[DeskMembership]] = relationship(back_populates="user")


class DeskMembership(Base):
    """A user's access to a desk: the desk key sealed to the user's key."""

    __tablename__ = "desk_memberships"
    __table_args__ = (UniqueConstraint("desk_id", "user_id"),)

    id: Mapped[intpk]
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sealed_desk_key: Mapped[sealed]
    can_export: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set only for custodians of a desk that keeps originals.
    sealed_custodian_key: Mapped[bytes | None] = mapped_column(LargeBinary)

    desk: Mapped[Desk] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class OrgKey(Base):
    """An organisation-wide key (the Ed25519 signing key) and its escrow to the recovery key."""

    __tablename__ = "org_keys"

    id: Mapped[intpk]
    purpose: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[public_key]
    sealed_for_recovery: Mapped[sealed]


class OrgKeyGrant(Base):
    """An org key's private part sealed to one admin's user key."""

    __tablename__ = "org_key_grants"
    __table_args__ = (UniqueConstraint("org_key_id", "user_id"),)

    id: Mapped[intpk]
    org_key_id: Mapped[int] = mapped_column(ForeignKey("org_keys.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sealed_private_key: Mapped[sealed]


class Source(Base):
    """A returning source, known only by a keyed hash of their codename's lookup id."""

    __tablename__ = "sources"

    id: Mapped[intpk]
    lookup_hash: Mapped[hex_digest] = mapped_column(unique=True)
    public_key: Mapped[public_key]
    last_seen_day: Mapped[dt.date] = mapped_column(Date)


class Submission(Base):
    """One sending by a source to a desk."""

    __tablename__ = "submissions"

    id: Mapped[intpk]
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # the receipt
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    received_hour: Mapped[hour] = mapped_column(index=True)
    # Sealed to the desk key: answers, file names and types, hashes, the metadata report,
    # consented location and time, and the exact time of receipt.
    sealed_metadata: Mapped[sealed]
    status: Mapped[SubmissionStatus] = mapped_column(
        string_enum(SubmissionStatus), default=SubmissionStatus.NEW, index=True
    )

    evidence: Mapped[list[Evidence]] = relationship(back_populates="submission")


class Evidence(Base):
    """One stored file of a submission: a ``filon-stream/1`` blob and its sealed file key."""

    __tablename__ = "evidence"

    id: Mapped[intpk]
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    blob_id: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_file_key: Mapped[sealed]  # sealed to the desk key
    cleaning_status: Mapped[CleaningStatus] = mapped_column(string_enum(CleaningStatus))
    kind: Mapped[str] = mapped_column(String(32))
    ciphertext_size: Mapped[byte_count]
    # The untouched original, sealed to the custodian key only, where the desk keeps originals.
    original_blob_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    sealed_original_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    original_ciphertext_size: Mapped[int | None] = mapped_column(BigInteger)

    submission: Mapped[Submission] = relationship(back_populates="evidence")


class Reply(Base):
    """A message from staff to a source, sealed to the source key and to the desk key."""

    __tablename__ = "replies"

    id: Mapped[intpk]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sealed_for_source: Mapped[sealed]
    sealed_for_desk: Mapped[sealed]
    created_hour: Mapped[hour]


class CustodyEvent(Base):
    """One step in a subject's chain of custody; each event hashes the one before it."""

    __tablename__ = "custody_events"
    __table_args__ = (UniqueConstraint("subject", "seq"),)

    id: Mapped[intpk]
    subject: Mapped[str] = mapped_column(String(96), index=True)  # e.g. "submission:<ref>"
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, no source content
    prev_hash: Mapped[hex_digest]
    hash: Mapped[hex_digest] = mapped_column(unique=True)


class PowChallenge(Base):
    """An issued proof-of-work challenge: single use, short-lived, shared by every process."""

    __tablename__ = "pow_challenges"

    challenge_hash: Mapped[hex_digest] = mapped_column(primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False), index=True)


class Upload(Base):
    """A file arriving chunk by chunk over the intake protocol (steps 2 and 3).

    The chunks are ciphertext the server cannot open yet: the file key travels only inside the
    sealed envelope of the submission that names this upload.
    """

    __tablename__ = "uploads"

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(64), unique=True)  # the protocol's upload_id
    blob_id: Mapped[str] = mapped_column(String(64), unique=True)  # where its bytes are kept
    key_id: Mapped[hex_digest]  # the intake key the client used
    header: Mapped[bytes] = mapped_column(LargeBinary(24))
    ciphertext_size: Mapped[byte_count]  # bytes of all chunks, without magic and header
    chunk_count: Mapped[int] = mapped_column(Integer)
    created_hour: Mapped[hour]
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class UploadChunk(Base):
    """One acknowledged chunk of an upload: written and fsynced before this row exists."""

    __tablename__ = "upload_chunks"
    __table_args__ = (UniqueConstraint("upload_id", "index"),)

    id: Mapped[intpk]
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)


class RateCounter(Base):
    """Requests counted per window for a global limit (no per-client state: we keep no IPs)."""

    __tablename__ = "rate_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
