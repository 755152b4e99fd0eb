"""Actors in the registers: write them idempotently, and import a plain actors CSV.

Every importer of actors (the RMI smelter lists, this plain CSV) goes through
:func:`upsert_actors`: an actor is found by (dataset, external id) and updated in place, or
created. The plain CSV has the columns ``kind,name,country,external_id`` (and optionally
``minerals``, ``status``) for traders, comptoirs, exporters, component makers, brands and the
other kinds of DESIGN.md §7.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.models import (
    MAX_EXTERNAL_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_PLACE_CHARS,
    MAX_TITLE_CHARS,
    Actor,
    ActorKind,
)
from casework.registers.minerals import fold, normalise
from casework.registers.report import ImportRefused, ImportReport, RowError
from filon.db import current_hour

SAMPLE_ACTORS_CSV = Path(__file__).resolve().parent / "samples" / "actors_sample.csv"
ACTOR_COLUMNS = ("kind", "name", "country", "external_id")
MAX_ROWS = 100_000
# Other spellings of the kinds met in registers and spreadsheets, French ones included.
KIND_ALIASES = {
    "negociant": ActorKind.TRADER,
    "trader": ActorKind.TRADER,
    "comptoir": ActorKind.COMPTOIR,
    "comptoir d'achat": ActorKind.COMPTOIR,
    "exportateur": ActorKind.EXPORTER,
    "fonderie": ActorKind.SMELTER,
    "affineur": ActorKind.REFINER,
    "cooperative": ActorKind.COOPERATIVE,
    "operator": ActorKind.MINE_OPERATOR,
    "component maker": ActorKind.COMPONENT_MAKER,
    "maker": ActorKind.COMPONENT_MAKER,
    "marque": ActorKind.BRAND,
    "fabricant": ActorKind.MANUFACTURER,
    "groupe arme": ActorKind.ARMED_GROUP,
}


@dataclass
class ActorRow:
    """One valid actor from a file, ready to write."""

    where: str
    kind: ActorKind
    external_id: str
    name: str
    country: str = ""
    minerals: list[str] = field(default_factory=list)
    status: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def parse_kind(text: str) -> ActorKind:
    """An actor kind from its code or a common spelling ("Négociant", "component maker")."""
    folded = fold(text)
    for candidate in (folded, folded.replace(" ", "_").replace("-", "_")):
        try:
            return ActorKind(candidate)
        except ValueError:
            pass
    kind = KIND_ALIASES.get(folded.replace("_", " ").replace("-", " "))
    if kind is None:
        raise RowError(f"kind {text[:40]!r} is not one of {', '.join(k.value for k in ActorKind)}")
    return kind


def parse_minerals(text: str, where: str, report: ImportReport) -> list[str]:
    """Mineral codes from ``"tin; gold"`` (unknown names kept folded, with a warning)."""
    codes: list[str] = []
    for name in (n.strip() for n in text.replace(",", ";").split(";")):
        if not name:
            continue
        code = normalise(name)
        if code is None:
            report.warn(where, f"mineral {name[:40]!r} is not a known mineral")
            code = fold(name)[:MAX_LABEL_CHARS]
        if code not in codes:
            codes.append(code)
    return codes


def check_external_id(text: str, column: str) -> str:
    """A non-empty external id that fits the column."""
    value = text.strip()
    if not value:
        raise RowError(f"{column} is empty")
    if len(value) > MAX_EXTERNAL_ID_CHARS:
        raise RowError(f"{column} is longer than {MAX_EXTERNAL_ID_CHARS} characters")
    return value


# -- writing ----------------------------------------------------------------------------------


def upsert_actors(
    session: Session, rows: list[ActorRow], *, dataset: str, report: ImportReport
) -> dict[str, Actor]:
    """Create or update each actor by (dataset, external id); the actors by external id.

    A row's empty status leaves a stored status alone (a CMRT has none; the RMI list has).
    """
    keys = sorted({row.external_id for row in rows})
    stored: dict[str, Actor] = {}
    for i in range(0, len(keys), 500):
        for found in session.scalars(
            select(Actor).where(Actor.dataset == dataset, Actor.external_id.in_(keys[i : i + 500]))
        ):
            stored[found.external_id or ""] = found
    hour = current_hour()
    for row in rows:
        values: dict[str, Any] = {
            "kind": row.kind,
            "name": row.name[:MAX_TITLE_CHARS],
            "country": row.country[:MAX_PLACE_CHARS],
            "minerals": row.minerals,
            "details": row.details,
        }
        if row.status:
            values["status"] = row.status[:MAX_LABEL_CHARS]
        actor = stored.get(row.external_id)
        if actor is None:
            new = Actor(dataset=dataset, external_id=row.external_id, updated_hour=hour)
            for key, value in values.items():
                setattr(new, key, value)
            new.status = values.get("status", "")
            session.add(new)
            stored[row.external_id] = new
            report.count("actors", "created")
        elif any(getattr(actor, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(actor, key, value)
            actor.updated_hour = hour
            report.count("actors", "updated")
        else:
            report.count("actors", "unchanged")
    session.flush()
    return stored


# -- the plain actors CSV ---------------------------------------------------------------------


def decode(name: str, data: bytes) -> str:
    """A CSV's text: UTF-8 (with or without BOM), else Windows-1252 as spreadsheets save it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def csv_rows(name: str, data: bytes) -> tuple[list[str], Iterator[tuple[str, dict[str, str]]]]:
    """The header (lower-cased) and ``(where, row)`` for each non-blank line of a CSV."""
    text = decode(name, data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportRefused(f"{name}: the file is empty") from None

    def rows() -> Iterator[tuple[str, dict[str, str]]]:
        line = reader.line_num
        count = 0
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            count += 1
            if count > MAX_ROWS:
                raise ImportRefused(f"{name}: more than {MAX_ROWS:,} rows")
            if len(values) != len(header):
                yield (
                    f"line {start}",
                    {"__error__": f"{len(values)} fields, the header has {len(header)}"},
                )
                continue
            yield f"line {start}", {h: v.strip() for h, v in zip(header, values, strict=True)}

    return header, rows()


def parse_actor(where: str, row: dict[str, str], report: ImportReport) -> ActorRow:
    """One row of the plain actors CSV; :class:`RowError` names the first problem."""
    if "__error__" in row:
        raise RowError(row["__error__"])
    kind = parse_kind(row.get("kind", "")) if row.get("kind") else None
    if kind is None:
        raise RowError("kind is empty")
    name = row.get("name", "")
    if not name:
        raise RowError("name is empty")
    if len(name) > MAX_TITLE_CHARS:
        raise RowError(f"name is longer than {MAX_TITLE_CHARS} characters")
    return ActorRow(
        where=where,
        kind=kind,
        external_id=check_external_id(row.get("external_id", ""), "external_id"),
        name=name,
        country=row.get("country", "")[:MAX_PLACE_CHARS],
        minerals=parse_minerals(row.get("minerals", ""), where, report),
        status=row.get("status", "")[:MAX_LABEL_CHARS],
    )


def import_actor_rows(
    session: Session,
    rows: Iterator[tuple[str, dict[str, str]]],
    *,
    dataset: str,
    report: ImportReport,
) -> dict[str, Actor]:
    """Import plain-CSV actor rows into ``session`` (flushed, not committed)."""
    valid: dict[str, ActorRow] = {}
    for where, row in rows:
        report.rows += 1
        try:
            actor = parse_actor(where, row, report)
        except RowError as exc:
            report.skip(where, str(exc))
            continue
        if actor.external_id in valid:
            earlier = valid[actor.external_id].where
            report.skip(where, f"external_id {actor.external_id!r} repeats {earlier}")
            continue
        valid[actor.external_id] = actor
    return upsert_actors(session, list(valid.values()), dataset=dataset, report=report)
