"""The casework's own tables (DESIGN.md §6), on the shared declarative base.

A staff session row holds the user key sealed under a session key that only the browser has,
so a copy of the database opens nothing; the row is found by a hash of that key, never by the
key itself.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from filon.db import Base, hex_digest, intpk, sealed


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


class TotpStep(Base):
    """The last TOTP time step accepted for a user: a code works once, then never again."""

    __tablename__ = "totp_steps"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_step: Mapped[int] = mapped_column(BigInteger)
