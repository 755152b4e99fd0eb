"""Hash-chained custody events (DESIGN.md §5).

Each subject (a submission, an evidence file, a case) has its own chain: event ``seq`` stores
the SHA-256 of event ``seq - 1``, and its own hash covers every field. Removing, altering or
inserting an event breaks the chain, and the unique ``(subject, seq)`` pair makes two
processes that race to append fail loudly instead of forking the chain.

The hash is over canonical JSON so that a dossier's stand-alone ``verify.py`` can recompute
it with nothing but the standard library.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from filon.db import current_hour
from filon.errors import CustodyChainBroken
from filon.models import CustodyEvent

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(at: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second."""
    return at.replace(microsecond=0).isoformat() + "Z"


def hashed_fields(event: CustodyEvent) -> dict[str, Any]:
    """The fields an event's hash covers, as plain data (times as ISO text)."""
    return {
        "subject": event.subject,
        "seq": event.seq,
        "actor": event.actor,
        "action": event.action,
        "at": format_time(event.at),
        "details": event.details,
        "prev": event.prev_hash,
    }


def event_hash(event: CustodyEvent) -> str:
    """SHA-256 over the canonical JSON of an event's fields."""
    return hashlib.sha256(canonical_json(hashed_fields(event)).encode("utf-8")).hexdigest()


def record_event(
    session: Session,
    *,
    subject: str,
    actor: str,
    action: str,
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> CustodyEvent:
    """Append an event to a subject's chain, in the caller's transaction.

    ``at`` defaults to the current hour: plaintext custody times are rounded like every
    intake timestamp; an exact time, where needed, goes inside sealed metadata.
    """
    _lock_chain(session, subject)
    last = session.scalars(
        select(CustodyEvent)
        .where(CustodyEvent.subject == subject)
        .order_by(CustodyEvent.seq.desc())
        .limit(1)
    ).first()
    seq = 0 if last is None else last.seq + 1
    when = current_hour() if at is None else at.replace(microsecond=0)
    event = CustodyEvent(
        subject=subject,
        seq=seq,
        actor=actor,
        action=action,
        at=when,
        details=canonical_json(dict(details or {})),
        prev_hash=GENESIS if last is None else last.hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


def _lock_chain(session: Session, subject: str) -> None:
    """Serialize appenders to one chain until the transaction ends.

    Two requests appending at once would both read event N and both write N + 1; the unique
    ``(subject, seq)`` would then refuse one of them as an error. PostgreSQL takes an advisory
    lock named by the subject; SQLite takes its database write lock before the read (a write
    that changes nothing still takes it), so the second appender waits and reads N + 1.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        name = int.from_bytes(
            hashlib.sha256(subject.encode("utf-8")).digest()[:8], "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:name)"), {"name": name})
    elif dialect == "sqlite":
        session.execute(text("UPDATE custody_events SET seq = seq WHERE 0"))


def chain(session: Session, subject: str) -> list[CustodyEvent]:
    """A subject's events in order, after checking that every link holds."""
    events = list(
        session.scalars(
            select(CustodyEvent).where(CustodyEvent.subject == subject).order_by(CustodyEvent.seq)
        )
    )
    verify_events(events)
    return events


def verify_events(events: list[CustodyEvent]) -> None:
    """Raise :class:`CustodyChainBroken` unless the events form one unbroken chain."""
    prev = GENESIS
    for expected_seq, event in enumerate(events):
        if event.seq != expected_seq:
            raise CustodyChainBroken(f"{event.subject}: event {expected_seq} is missing")
        if event.prev_hash != prev:
            raise CustodyChainBroken(
                f"{event.subject}: event {event.seq} does not follow its predecessor"
            )
        if event_hash(event) != event.hash:
            raise CustodyChainBroken(f"{event.subject}: event {event.seq} was altered")
        prev = event.hash


def event_record(event: CustodyEvent) -> dict[str, Any]:
    """An event as plain data, for dossiers and the custody timeline."""
    return {**hashed_fields(event), "hash": event.hash}
