"""Global rate limits kept in the database, so every app process shares them.

The intake keeps no client addresses, so limits are global: they cap how fast the whole
server accepts work (a flood of no-JavaScript submissions, which carry no proof of work),
not who sends it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from filon.db import dialect_insert, utc_now
from filon.models import RateCounter


def hit(session: Session, name: str, *, limit: int, window: dt.timedelta) -> bool:
    """Count one request against ``name``; return whether it is within ``limit`` per window."""
    now = utc_now()
    seconds = int(window.total_seconds())
    start = dt.datetime.fromtimestamp(
        int(now.replace(tzinfo=dt.UTC).timestamp()) // seconds * seconds, dt.UTC
    ).replace(tzinfo=None)
    # One atomic upsert: two processes opening the same window at once both count.
    counters = RateCounter.__table__
    session.execute(
        dialect_insert(session)(RateCounter)
        .values(name=name, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=[counters.c.name, counters.c.window_start],
            set_={"count": counters.c.count + 1},
        )
    )
    session.execute(
        delete(RateCounter).where(RateCounter.name == name, RateCounter.window_start < start)
    )
    count = session.scalar(
        select(RateCounter.count).where(RateCounter.name == name, RateCounter.window_start == start)
    )
    return (count or 0) <= limit
