"""Import chain links from a CSV: mine site or actor → actor, mineral, period.

Columns ``from_type`` (``site`` or ``actor``), ``from_dataset``, ``from_id``, ``to_dataset``,
``to_id`` (the registers' own keys: dataset and external id), ``mineral``, ``period_start``,
``period_end`` (``YYYY-MM-DD``, either may be empty). A link is the same link when its two ends,
mineral and start agree; a re-import updates its end date instead of adding another. Links
made here carry no evidence: investigators attach evidence on the desk, where it belongs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import Actor, ChainLink, MineSite
from casework.registers.actors import csv_rows
from casework.registers.minerals import fold, normalise
from casework.registers.report import (
    ImportRefused,
    ImportReport,
    RowError,
    check_size,
    import_session,
)
from filon.db import current_hour

SAMPLE_LINKS_CSV = Path(__file__).resolve().parent / "samples" / "links_sample.csv"
COLUMNS = ("from_type", "from_dataset", "from_id", "to_dataset", "to_id", "mineral")
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Link:
    """A valid row, its ends resolved."""

    where: str
    from_site_id: int | None
    from_actor_id: int | None
    to_actor_id: int
    mineral: str
    period_start: dt.date | None
    period_end: dt.date | None


def _date(text: str, column: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RowError(f"{column} {text[:40]!r} is not a date (YYYY-MM-DD)") from None


class _Ends:
    """Finds sites and actors by (dataset, external id), remembering what it found."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[str, str, str], int | None] = {}

    def find(self, kind: str, dataset: str, key: str) -> int:
        if (kind, dataset, key) not in self.cache:
            model = MineSite if kind == "site" else Actor
            self.cache[kind, dataset, key] = self.session.scalar(
                select(model.id).where(model.dataset == dataset, model.external_id == key)
            )
        found = self.cache[kind, dataset, key]
        if found is None:
            raise RowError(f"no {kind} {key[:64]!r} in dataset {dataset[:64]!r}")
        return found


def parse_link(where: str, row: dict[str, str], ends: _Ends, report: ImportReport) -> Link:
    """One row, both ends found; :class:`RowError` names the first problem."""
    if "__error__" in row:
        raise RowError(row["__error__"])
    from_type = fold(row.get("from_type", ""))
    if from_type not in {"site", "actor"}:
        raise RowError(f"from_type {row.get('from_type', '')[:40]!r} is not site or actor")
    for column in ("from_dataset", "from_id", "to_dataset", "to_id"):
        if not row.get(column):
            raise RowError(f"{column} is empty")
    source = ends.find(from_type, row["from_dataset"], row["from_id"])
    target = ends.find("actor", row["to_dataset"], row["to_id"])
    if from_type == "actor" and source == target:
        raise RowError("a link from an actor to itself")
    written = row.get("mineral", "")
    mineral = normalise(written) if written else ""
    if mineral is None:
        report.warn(where, f"mineral {written[:40]!r} is not a known mineral")
        mineral = fold(written)[:64]
    start = _date(row.get("period_start", ""), "period_start")
    end = _date(row.get("period_end", ""), "period_end")
    if start and end and end < start:
        raise RowError("period_end is before period_start")
    return Link(
        where=where,
        from_site_id=source if from_type == "site" else None,
        from_actor_id=source if from_type == "actor" else None,
        to_actor_id=target,
        mineral=mineral,
        period_start=start,
        period_end=end,
    )


def import_links(session: Session, path: Path, *, dry_run: bool = False) -> ImportReport:
    """Import a chain-links CSV into ``session`` (flushed, not committed)."""
    check_size(path, MAX_FILE_BYTES)
    header, rows = csv_rows(path.name, path.read_bytes())
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportRefused(f"{path.name}: missing column(s) {', '.join(missing)}")
    report = ImportReport(dataset="(as named in each row)", dry_run=dry_run, kinds=("chain links",))
    ends = _Ends(session)
    seen: dict[tuple[object, ...], str] = {}
    for where, row in rows:
        report.rows += 1
        try:
            link = parse_link(where, row, ends, report)
        except RowError as exc:
            report.skip(where, str(exc))
            continue
        key = (
            link.from_site_id,
            link.from_actor_id,
            link.to_actor_id,
            link.mineral,
            link.period_start,
        )
        if key in seen:
            report.skip(where, f"the same link as {seen[key]}")
            continue
        seen[key] = where
        _write(session, link, report)
    session.flush()
    return report


def _write(session: Session, link: Link, report: ImportReport) -> None:
    stored = session.scalars(
        select(ChainLink).where(
            ChainLink.from_site_id.is_(None)
            if link.from_site_id is None
            else ChainLink.from_site_id == link.from_site_id,
            ChainLink.from_actor_id.is_(None)
            if link.from_actor_id is None
            else ChainLink.from_actor_id == link.from_actor_id,
            ChainLink.to_actor_id == link.to_actor_id,
            ChainLink.mineral == link.mineral,
            ChainLink.period_start.is_(None)
            if link.period_start is None
            else ChainLink.period_start == link.period_start,
        )
    ).first()
    if stored is None:
        session.add(
            ChainLink(
                from_site_id=link.from_site_id,
                from_actor_id=link.from_actor_id,
                to_actor_id=link.to_actor_id,
                mineral=link.mineral,
                period_start=link.period_start,
                period_end=link.period_end,
                created_hour=current_hour(),
            )
        )
        report.count("chain links", "created")
    elif stored.period_end != link.period_end:
        stored.period_end = link.period_end
        report.count("chain links", "updated")
    else:
        report.count("chain links", "unchanged")


def import_file(
    sessions: sessionmaker[Session], path: Path, *, dry_run: bool = False
) -> ImportReport:
    """Import a chain-links CSV; a dry run writes nothing."""
    with import_session(sessions, dry_run=dry_run) as session:
        return import_links(session, path, dry_run=dry_run)
