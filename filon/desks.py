"""Desks: cryptographic compartments whose content is sealed to the desk key."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.keys import BoxKeyPair
from crypto.sealing import open_sealed, seal
from filon.accounts import add_member
from filon.db import current_day
from filon.errors import AlreadyExists, InvalidName, NotFound
from filon.models import Desk, User

SLUG = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")


def create_desk(
    session: Session,
    *,
    slug: str,
    name: str,
    recovery_public_key: bytes,
    members: Sequence[tuple[User, bool]] = (),
    keeps_originals: bool = False,
    retention_days: int | None = None,
) -> tuple[Desk, BoxKeyPair]:
    """Create a desk with a fresh key, sealed to the recovery key and to each member.

    Returns the desk and its key pair, which the caller drops once done with it.
    """
    if not SLUG.match(slug):
        raise InvalidName("a desk slug is lower-case letters, digits and inner hyphens")
    if not name.strip() or len(name) > 200:
        raise InvalidName("a desk name is 1-200 characters")
    if retention_days is not None and retention_days < 1:
        raise InvalidName("retention is at least one day")
    if session.scalar(select(Desk.id).where(Desk.slug == slug)) is not None:
        raise AlreadyExists(f"a desk {slug!r} already exists")
    key = BoxKeyPair.generate()
    desk = Desk(
        slug=slug,
        name=name.strip(),
        public_key=key.public,
        sealed_for_recovery=seal(key.private, recovery_public_key),
        keeps_originals=keeps_originals,
        retention_days=retention_days,
        created_day=current_day(),
    )
    session.add(desk)
    session.flush()
    for user, can_export in members:
        add_member(session, desk=desk, desk_key=key, user=user, can_export=can_export)
    return desk, key


def get_desk(session: Session, slug: str) -> Desk:
    """A desk by slug (a string that is no slug names no desk, and never reaches the database)."""
    if not SLUG.match(slug):
        raise NotFound(f"no desk {slug!r}")
    desk = session.scalars(select(Desk).where(Desk.slug == slug)).first()
    if desk is None:
        raise NotFound(f"no desk {slug!r}")
    return desk


def open_desk_key_with_recovery(desk: Desk, recovery: BoxKeyPair) -> BoxKeyPair:
    """Open a desk key with the offline recovery key."""
    key = BoxKeyPair.from_private(open_sealed(desk.sealed_for_recovery, recovery))
    if key.public != desk.public_key:
        raise ValueError("the recovered desk key does not match the desk")
    return key
