"""Custody chains: each event hashes its predecessor; any edit, removal or insertion shows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from filon.custody import GENESIS, chain, event_hash, event_record, record_event
from filon.db import transaction
from filon.errors import CustodyChainBroken
from filon.instance import Instance
from filon.models import CustodyEvent

SUBJECT = "submission:demo-1"


def _record_steps(instance: Instance, subject: str = SUBJECT) -> None:
    with transaction(instance.sessions) as session:
        for action in ("received", "verified", "cleaned", "sealed"):
            record_event(
                session, subject=subject, actor="intake", action=action, details={"files": 2}
            )


def test_events_link_up(instance: Instance) -> None:
    _record_steps(instance)
    _record_steps(instance, "submission:other")
    with instance.sessions() as session:
        events = chain(session, SUBJECT)
    assert [e.action for e in events] == ["received", "verified", "cleaned", "sealed"]
    assert [e.seq for e in events] == [0, 1, 2, 3]
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    # Plaintext custody times are rounded to the hour, like every intake timestamp.
    assert all(e.at.minute == e.at.second == 0 for e in events)


def test_exported_record_recomputes_with_stdlib_only(instance: Instance) -> None:
    _record_steps(instance)
    with instance.sessions() as session:
        record = event_record(chain(session, SUBJECT)[2])
    fields = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    import hashlib

    assert hashlib.sha256(canonical.encode()).hexdigest() == record["hash"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "deleted"),
        ("actor", "someone-else"),
        ("details", '{"files":3}'),
        ("at", dt.datetime(2020, 1, 1)),
    ],
)
def test_an_altered_event_breaks_the_chain(instance: Instance, column: str, value: object) -> None:
    _record_steps(instance)
    with transaction(instance.sessions) as session:
        session.execute(
            update(CustodyEvent)
            .where(CustodyEvent.subject == SUBJECT, CustodyEvent.seq == 1)
            .values({column: value})
        )
    with pytest.raises(CustodyChainBroken, match="event 1 was altered"), instance.sessions() as s:
        chain(s, SUBJECT)


def test_a_removed_event_breaks_the_chain(instance: Instance) -> None:
    _record_steps(instance)
    with transaction(instance.sessions) as session:
        session.execute(
            delete(CustodyEvent).where(CustodyEvent.subject == SUBJECT, CustodyEvent.seq == 2)
        )
    with pytest.raises(CustodyChainBroken, match="missing"), instance.sessions() as s:
        chain(s, SUBJECT)


def test_a_rewritten_tail_does_not_link(instance: Instance) -> None:
    _record_steps(instance)
    with transaction(instance.sessions) as session:
        last = session.scalars(
            select(CustodyEvent).where(CustodyEvent.subject == SUBJECT, CustodyEvent.seq == 3)
        ).one()
        # A forger recomputes the event's own hash but cannot make it follow a changed parent.
        last.prev_hash = "f" * 64
        last.hash = event_hash(last)
    with pytest.raises(CustodyChainBroken, match="does not follow"), instance.sessions() as s:
        chain(s, SUBJECT)


def test_two_writers_cannot_fork_a_chain(instance: Instance) -> None:
    _record_steps(instance)
    with pytest.raises(IntegrityError), transaction(instance.sessions) as session:
        session.add(
            CustodyEvent(
                subject=SUBJECT,
                seq=3,
                actor="x",
                action="forked",
                at=dt.datetime(2026, 1, 1),
                details="{}",
                prev_hash="0" * 64,
                hash="1" * 64,
            )
        )


def test_concurrent_appenders_queue_instead_of_failing(instance: Instance) -> None:
    import threading

    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for step in range(5):
                with transaction(instance.sessions) as session:
                    record_event(
                        session,
                        subject=SUBJECT,
                        actor=f"w{worker}",
                        action="viewed",
                        details={"step": step},
                    )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with instance.sessions() as session:
        assert len(chain(session, SUBJECT)) == 20
