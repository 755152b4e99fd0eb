"""Replies from staff to a source: sealed to the source's key and to the desk's key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.sealing import seal
from filon.db import current_hour
from filon.models import Desk, Reply, Source, User

MAX_REPLY_CHARS = 20_000


def create_reply(
    session: Session, *, source: Source, desk: Desk, text: str, author: User | None = None
) -> Reply:
    """Seal a reply to the source (who opens it with their codename) and to the desk."""
    if not text.strip() or len(text) > MAX_REPLY_CHARS:
        raise ValueError(f"a reply is 1-{MAX_REPLY_CHARS} characters")
    body = text.encode("utf-8")
    reply = Reply(
        source_id=source.id,
        desk_id=desk.id,
        author_id=author.id if author else None,
        sealed_for_source=seal(body, source.public_key),
        sealed_for_desk=seal(body, desk.public_key),
        created_hour=current_hour(),
    )
    session.add(reply)
    session.flush()
    return reply


def replies_for_source(session: Session, source: Source) -> list[Reply]:
    """A source's replies, oldest first."""
    return list(
        session.scalars(select(Reply).where(Reply.source_id == source.id).order_by(Reply.id))
    )
