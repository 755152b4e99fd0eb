"""Global rate limits kept in the database, so every app process shares them.

The intake keeps no client addresses, so limits are global: they cap how fast the whole
server accepts work (a flood of no-JavaScript submissions, which carry no proof of work),
not who sends it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filon.db import utc_now
from filon.models import RateCounter


def hit(session: Session, name: str, *, limit: int, window: dt.timedelta) -> bool:
    """Count one request against ``name``; return whether it is within ``limit`` per window."""
    now = utc_now()
    seconds = int(window.total_seconds())
    start = dt.datetime.fromtimestamp(
        int(now.replace(tzinfo=dt.UTC).timestamp()) // seconds * seconds, dt.UTC
    ).replace(tzinfo=None)
    updated = session.execute(
        update(RateCounter)
        .where(RateCounter.name == name, RateCounter.window_start == start)
        .values(count=RateCounter.count + 1)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(RateCounter(name=name, window_start=start, count=1))
        except IntegrityError:  # another process opened the window first
            session.execute(
                update(RateCounter)
                .where(RateCounter.name == name, RateCounter.window_start == start)
                .values(count=RateCounter.count + 1)
            )
        session.execute(
            delete(RateCounter).where(RateCounter.name == name, RateCounter.window_start < start)
        )
    count = session.scalar(
        select(RateCounter.count).where(RateCounter.name == name, RateCounter.window_start == start)
    )
    return (count or 0) <= limit
