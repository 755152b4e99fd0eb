"""Retention: expired submissions not attached to a case are destroyed, with a dry run first."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select, update

from filon.custody import chain
from filon.db import transaction
from filon.instance import Instance
from filon.models import CustodyEvent, Desk, Evidence, Submission, SubmissionStatus
from intake.demo import seed_submissions
from tests.conftest import DeskSetup


@pytest.fixture
def aged(instance: Instance, desk: DeskSetup) -> list[str]:
    """The two demo submissions, received 40 days ago, on a desk that keeps 30 days."""
    receipts = [o.receipt for o in seed_submissions(instance, desk.slug)]
    with transaction(instance.sessions) as session:
        session.execute(update(Desk).values(retention_days=30))
        session.execute(
            update(Submission).values(received_hour=dt.datetime(2026, 1, 1) - dt.timedelta(days=40))
        )
    return receipts


def filon_purge(instance: Instance, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "filon",
            "purge",
            "--instance",
            str(instance.settings.instance_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def counts(instance: Instance) -> tuple[int, int]:
    with instance.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Submission)) or 0,
            session.scalar(select(func.count()).select_from(Evidence)) or 0,
        )


def test_dry_run_lists_and_keeps_everything(instance: Instance, aged: list[str]) -> None:
    before = (counts(instance), sorted(instance.store.ids()))
    result = filon_purge(instance, "--dry-run")
    assert result.returncode == 0, result.stderr
    for receipt in aged:
        assert f"would purge {receipt}" in result.stdout
    assert "2 submission(s) would be purged" in result.stdout
    assert (counts(instance), sorted(instance.store.ids())) == before


def test_purge_destroys_rows_blobs_and_custody_and_audits_it(
    instance: Instance, aged: list[str]
) -> None:
    assert list(instance.store.ids())  # the photo's cleaned blob
    result = filon_purge(instance)
    assert result.returncode == 0, result.stderr
    assert "2 submission(s) purged" in result.stdout
    assert counts(instance) == (0, 0)
    assert list(instance.store.ids()) == []
    with instance.sessions() as session:
        for receipt in aged:
            assert not session.scalars(
                select(CustodyEvent).where(CustodyEvent.subject == f"submission:{receipt}")
            ).all()
        audit = chain(session, "audit:drc-minerals")
    assert [(e.actor, e.action) for e in audit] == [("retention", "purged")] * 2
    assert all(receipt in e.details for e, receipt in zip(audit, aged, strict=True))


def test_attached_recent_and_unlimited_submissions_stay(
    instance: Instance, aged: list[str]
) -> None:
    with transaction(instance.sessions) as session:
        session.execute(
            update(Submission)
            .where(Submission.reference == aged[0])
            .values(status=SubmissionStatus.ATTACHED)
        )
        session.execute(
            update(Submission)
            .where(Submission.reference == aged[1])
            .values(received_hour=dt.datetime.now(dt.UTC).replace(tzinfo=None))
        )
    result = filon_purge(instance)
    assert "0 submission(s) purged" in result.stdout
    assert counts(instance)[0] == 2
    with transaction(instance.sessions) as session:
        session.execute(update(Desk).values(retention_days=None))
        session.execute(update(Submission).values(status=SubmissionStatus.NEW))
    assert "0 submission(s) purged" in filon_purge(instance).stdout
