"""What an import did: one report shared by every register importer.

Each importer counts what it created, updated or left unchanged, per kind of row ("sites",
"visits", "actors", "chain links"), and lists every row it skipped with where it is (a CSV
line, a GeoJSON feature, a spreadsheet row) and why, never dropping one silently. A dry run
does the same work and rolls it back, and the report says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from filon.errors import FilonError

MAX_DATASET_NAME = 64
OUTCOMES = ("created", "updated", "unchanged")


class ImportRefused(FilonError):
    """The file cannot be imported at all (unreadable, wrong shape, columns missing)."""


class RowError(ValueError):
    """One row cannot be imported; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """A row left out of the import (or imported with a warning), where it is and why."""

    where: str  # "line 7", "feature 3", "Smelter List row 12"
    reason: str


@dataclass
class ImportReport:
    """What an import did, or would do in a dry run."""

    dataset: str
    dry_run: bool
    rows: int = 0
    kinds: tuple[str, ...] = ()
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            self.counts.setdefault(kind, dict.fromkeys(OUTCOMES, 0))

    def count(self, kind: str, outcome: str) -> None:
        """Count one row of ``kind`` as created, updated or unchanged."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.counts.setdefault(kind, dict.fromkeys(OUTCOMES, 0))[outcome] += 1

    def created(self, kind: str) -> int:
        """How many rows of ``kind`` were (or would be) created."""
        return self.counts.get(kind, {}).get("created", 0)

    def updated(self, kind: str) -> int:
        """How many rows of ``kind`` were (or would be) updated."""
        return self.counts.get(kind, {}).get("updated", 0)

    def unchanged(self, kind: str) -> int:
        """How many rows of ``kind`` were already as the file has them."""
        return self.counts.get(kind, {}).get("unchanged", 0)

    def skip(self, where: str, reason: str) -> None:
        """Leave a row out, saying where and why."""
        self.skipped.append(Skipped(where, reason))

    def warn(self, where: str, reason: str) -> None:
        """Import a row but flag something doubtful about it."""
        self.warnings.append(Skipped(where, reason))

    def render(self) -> str:
        """The report as the command line prints it."""
        verb = "would be " if self.dry_run else ""
        lines = [
            f"{'DRY RUN: nothing written. ' if self.dry_run else ''}"
            f"dataset {self.dataset}: {self.rows} row(s) read"
        ]
        lines += [
            f"{kind}: {c['created']} {verb}created, {c['updated']} {verb}updated, "
            f"{c['unchanged']} unchanged"
            for kind, c in self.counts.items()
        ]
        lines.append(f"skipped: {len(self.skipped)} row(s)")
        lines += [f"  skipped {s.where}: {s.reason}" for s in self.skipped]
        lines += [f"  warning {w.where}: {w.reason}" for w in self.warnings]
        return "\n".join(lines)


def check_dataset(dataset: str) -> str:
    """The dataset name, stripped; :class:`ImportRefused` unless it is 1 to 64 characters."""
    name = dataset.strip()
    if not name or len(name) > MAX_DATASET_NAME:
        raise ImportRefused(f"the dataset name must be 1 to {MAX_DATASET_NAME} characters")
    return name


def check_size(path: Path, limit: int) -> None:
    """Refuse a file larger than ``limit`` bytes before reading any of it."""
    if path.stat().st_size > limit:
        raise ImportRefused(f"{path.name}: larger than {limit // 2**20} MiB")


@contextmanager
def import_session(sessions: sessionmaker[Session], *, dry_run: bool) -> Iterator[Session]:
    """A session whose work is committed, or rolled back in a dry run (or on any error)."""
    with sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
