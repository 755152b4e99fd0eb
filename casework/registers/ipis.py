"""Import IPIS-style mine-site visit data (CSV or GeoJSON) into the registers.

One row is one visit, keyed by ``vid``; the site is keyed by ``pcode``. A site takes the values
of its latest visit, and every visit is kept as an observation. Each import is reported:
sites and visits created, updated or unchanged, and every row skipped with its line (CSV) or
feature number (GeoJSON) and the reason, never dropped silently. A dry run does the same work
and rolls it back. Re-importing the same dataset updates rows found by (dataset, pcode) and
(dataset, vid) instead of adding new ones.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import (
    MAX_EXTERNAL_ID_CHARS,
    MAX_PLACE_CHARS,
    MAX_TITLE_CHARS,
    MineSite,
    MineSiteVisit,
)
from casework.registers.actors import csv_rows, decode
from casework.registers.minerals import fold, normalise
from casework.registers.report import (
    ImportRefused,
    ImportReport,
    RowError,
    Skipped,
    check_dataset,
    check_size,
    import_session,
)
from filon.db import current_hour

__all__ = ["ImportRefused", "Report", "RowError", "Skipped", "import_file", "import_rows"]

SAMPLE_CSV = Path(__file__).resolve().parent / "samples" / "ipis_sample.csv"
REQUIRED_COLUMNS = ("pcode", "vid", "visit_date", "longitude", "latitude")
MINERAL_COLUMNS = ("mineral1", "mineral2", "mineral3")
ARMED_GROUP_COLUMNS = ("armed_group1", "armed_group2", "armed_group3")
STATE_SERVICE_COLUMNS = tuple(f"state_service{i}" for i in range(1, 5))
MAX_FILE_BYTES = 200 * 1024 * 1024
_EARLIEST = dt.date(1990, 1, 1)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
)
# A box around the DRC and its borders: a position outside it is imported but warned about
# (most often latitude and longitude swapped, or a sign lost).
DRC_BOX = (-14.0, 6.0, 11.5, 32.0)  # south, north, west, east
_TRUE = {"1", "yes", "oui", "true", "y", "o", "vrai"}
_FALSE = {"0", "no", "non", "false", "n", "faux"}


class Report(ImportReport):
    """An IPIS import's report: sites and visits (see :class:`ImportReport`)."""

    def __init__(self, *, dataset: str, dry_run: bool) -> None:
        super().__init__(dataset=dataset, dry_run=dry_run, kinds=("sites", "visits"))

    @property
    def sites_created(self) -> int:
        """Sites created (or that would be)."""
        return self.created("sites")

    @property
    def sites_updated(self) -> int:
        """Sites updated (or that would be)."""
        return self.updated("sites")

    @property
    def sites_unchanged(self) -> int:
        """Sites already as the file has them."""
        return self.unchanged("sites")

    @property
    def visits_created(self) -> int:
        """Visits created (or that would be)."""
        return self.created("visits")

    @property
    def visits_updated(self) -> int:
        """Visits updated (or that would be)."""
        return self.updated("visits")

    @property
    def visits_unchanged(self) -> int:
        """Visits already as the file has them."""
        return self.unchanged("visits")


@dataclass(frozen=True)
class Visit:
    """One valid row: a visit to a site."""

    where: str
    pcode: str
    vid: str
    visit_date: dt.date
    name: str
    latitude: float
    longitude: float
    province: str
    territoire: str
    village: str
    workers: int | None
    minerals: list[str]
    armed_presence: bool | None
    interference: bool | None
    armed_groups: list[str]
    armed_group_type: str
    state_services: list[str]
    itsci: str
    qualification: str
    row: dict[str, str]


# -- reading ----------------------------------------------------------------------------------


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``(where, row)`` for each row of a CSV or GeoJSON file, every value a stripped string."""
    check_size(path, MAX_FILE_BYTES)
    data = path.read_bytes()
    if path.suffix.lower() in {".geojson", ".json"}:
        return _geojson_rows(path.name, data)
    return _csv_rows(path.name, data)


def _csv_rows(name: str, data: bytes) -> Iterator[tuple[str, dict[str, str]]]:
    header, rows = csv_rows(name, data)
    _check_columns(name, header)
    yield from rows


def _geojson_rows(name: str, data: bytes) -> Iterator[tuple[str, dict[str, str]]]:
    try:
        document = json.loads(decode(name, data))
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"{name}: not JSON ({exc.msg}, line {exc.lineno})") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ImportRefused(f"{name}: not a GeoJSON FeatureCollection")
    seen: set[str] = set()
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            yield where, {"__error__": "the feature has no properties"}
            continue
        row = {str(k).strip().lower(): _text(v) for k, v in properties.items()}
        geometry = feature.get("geometry")
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            coordinates = geometry.get("coordinates")
            if isinstance(coordinates, list) and len(coordinates) >= 2:
                row.setdefault("longitude", _text(coordinates[0]))
                row.setdefault("latitude", _text(coordinates[1]))
                if not row["longitude"]:
                    row["longitude"] = _text(coordinates[0])
                if not row["latitude"]:
                    row["latitude"] = _text(coordinates[1])
        seen.update(row)
        yield where, row
    if features and not any(c in seen for c in ("pcode", "vid")):
        raise ImportRefused(f"{name}: the features have no pcode or vid properties")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) > 1000:
        return str(int(value))  # an Excel serial date that came through as 42585.0
    return str(value).strip()


def _check_columns(name: str, header: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportRefused(f"{name}: missing column(s) {', '.join(missing)}")


# -- parsing a row ----------------------------------------------------------------------------


def parse_date(text: str, *, today: dt.date | None = None) -> dt.date:
    """A visit date in any of the formats registers use; :class:`RowError` if none fits."""
    value = text.strip()
    if not value:
        raise RowError("visit_date is empty")
    parsed: dt.date | None = None
    try:
        serial = float(value)
    except ValueError:
        serial = math.nan
    if math.isfinite(serial):
        if serial.is_integer() and 20000 <= serial <= 80000:  # Excel: days since 1899-12-30
            parsed = _EXCEL_EPOCH + dt.timedelta(days=int(serial))
    else:
        for pattern in _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(value, pattern).date()
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowError(f"visit_date {value[:40]!r} is not a date")
    if not _EARLIEST <= parsed <= (today or dt.date.today()) + dt.timedelta(days=1):
        raise RowError(f"visit_date {value[:40]!r} is out of range")
    return parsed


def parse_coordinate(text: str, column: str, limit: float) -> float:
    """A latitude or longitude in decimal degrees (a decimal comma is accepted)."""
    value = text.strip().replace(",", ".")
    if not value:
        raise RowError(f"{column} is empty")
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{column} {text[:40]!r} is not a number") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise RowError(f"{column} {text[:40]!r} is out of range (±{limit:g})")
    return number


def parse_flag(text: str, column: str) -> bool | None:
    """``1``/``0``, yes/no, oui/non; empty is unknown (None)."""
    value = fold(text)
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    try:
        return float(value) > 0
    except ValueError:
        raise RowError(f"{column} {text[:40]!r} is not yes or no") from None


def parse_count(text: str, column: str) -> int | None:
    value = text.strip().replace(" ", "")
    if not value:
        return None
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise RowError(f"{column} {text[:40]!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or number > 10_000_000:
        raise RowError(f"{column} {text[:40]!r} is out of range")
    return round(number)


def parse_row(where: str, row: dict[str, str], warnings: list[Skipped]) -> Visit:
    """Validate one row; :class:`RowError` names the first problem."""
    if "__error__" in row:
        raise RowError(row["__error__"])
    pcode = row.get("pcode", "")
    vid = row.get("vid", "")
    if not pcode:
        raise RowError("pcode is empty")
    if not vid:
        raise RowError("vid is empty")
    for column, value in (("pcode", pcode), ("vid", vid)):
        if len(value) > MAX_EXTERNAL_ID_CHARS:
            raise RowError(f"{column} is longer than {MAX_EXTERNAL_ID_CHARS} characters")
    latitude = parse_coordinate(row.get("latitude", ""), "latitude", 90)
    longitude = parse_coordinate(row.get("longitude", ""), "longitude", 180)
    if latitude == 0 and longitude == 0:
        raise RowError("latitude and longitude are both 0 (no position)")
    south, north, west, east = DRC_BOX
    if not (south <= latitude <= north and west <= longitude <= east):
        warnings.append(Skipped(where, f"position {latitude}, {longitude} is outside the DRC"))
    minerals: list[str] = []
    for column in MINERAL_COLUMNS:
        name = row.get(column, "")
        if not name:
            continue
        code = normalise(name)
        if code is None:
            warnings.append(Skipped(where, f"{column} {name[:40]!r} is not a known mineral"))
            code = fold(name)[:64]
        if code not in minerals:
            minerals.append(code)
    return Visit(
        where=where,
        pcode=pcode,
        vid=vid,
        visit_date=parse_date(row.get("visit_date", "")),
        name=(row.get("name") or pcode)[:MAX_TITLE_CHARS],
        latitude=latitude,
        longitude=longitude,
        province=row.get("province", "")[:MAX_PLACE_CHARS],
        territoire=row.get("territoire", "")[:MAX_PLACE_CHARS],
        village=row.get("village", "")[:MAX_PLACE_CHARS],
        workers=parse_count(row.get("workers_numb", ""), "workers_numb"),
        minerals=minerals,
        armed_presence=parse_flag(row.get("presence", ""), "presence"),
        interference=parse_flag(row.get("interference", ""), "interference"),
        armed_groups=[row[c][:MAX_PLACE_CHARS] for c in ARMED_GROUP_COLUMNS if row.get(c)],
        armed_group_type=row.get("type_armed_group1", "")[:MAX_PLACE_CHARS],
        state_services=[row[c][:MAX_PLACE_CHARS] for c in STATE_SERVICE_COLUMNS if row.get(c)],
        itsci=row.get("itsci", "")[:64],
        qualification=row.get("qualification", "")[:64],
        row=row,
    )


# -- applying ---------------------------------------------------------------------------------

_VISIT_FIELDS = (
    "visit_date",
    "name",
    "latitude",
    "longitude",
    "province",
    "territoire",
    "village",
    "workers",
    "minerals",
    "armed_presence",
    "interference",
    "armed_groups",
    "armed_group_type",
    "state_services",
    "itsci",
    "qualification",
    "row",
)
# What a site copies from its latest visit (visit field → site field).
_SITE_FIELDS = {
    "name": "name",
    "latitude": "latitude",
    "longitude": "longitude",
    "province": "province",
    "territoire": "territoire",
    "village": "village",
    "minerals": "minerals",
    "visit_date": "last_visit_date",
    "workers": "workers",
    "armed_presence": "armed_presence",
    "itsci": "itsci",
    "qualification": "qualification",
}
_CHUNK = 500


def import_rows(
    session: Session,
    rows: Iterable[tuple[str, dict[str, str]]],
    *,
    dataset: str,
    source: str,
    dry_run: bool = False,
) -> Report:
    """Import the rows into ``session`` (flushed, not committed) and report what changed."""
    report = Report(dataset=dataset, dry_run=dry_run)
    visits: dict[str, Visit] = {}
    for where, row in rows:
        report.rows += 1
        try:
            visit = parse_row(where, row, report.warnings)
        except RowError as exc:
            report.skipped.append(Skipped(where, str(exc)))
            continue
        if visit.vid in visits:
            earlier = visits[visit.vid].where
            report.skipped.append(Skipped(where, f"vid {visit.vid!r} repeats {earlier}"))
            continue
        visits[visit.vid] = visit

    pcodes = sorted({v.pcode for v in visits.values()})
    sites = _existing(session, MineSite, dataset, pcodes)
    existing_visits = _existing(session, MineSiteVisit, dataset, sorted(visits))
    before = {pcode: _site_state(site) for pcode, site in sites.items()}
    hour = current_hour()
    for pcode in pcodes:
        if pcode not in sites:
            first = next(v for v in visits.values() if v.pcode == pcode)
            site = MineSite(
                dataset=dataset,
                external_id=pcode,
                name=first.name,
                latitude=first.latitude,
                longitude=first.longitude,
                source=source[:MAX_TITLE_CHARS],
                updated_hour=hour,
            )
            session.add(site)
            sites[pcode] = site
    session.flush()

    for vid, visit in visits.items():
        site = sites[visit.pcode]
        values = {name: getattr(visit, name) for name in _VISIT_FIELDS}
        stored = existing_visits.get(vid)
        if stored is None:
            session.add(MineSiteVisit(site_id=site.id, dataset=dataset, external_id=vid, **values))
            report.count("visits", "created")
        elif stored.site_id != site.id or any(getattr(stored, k) != v for k, v in values.items()):
            stored.site_id = site.id
            for name, value in values.items():
                setattr(stored, name, value)
            report.count("visits", "updated")
        else:
            report.count("visits", "unchanged")
    session.flush()

    latest = _latest_visits(session, [site.id for site in sites.values()])
    for pcode, site in sites.items():
        for visit_field, site_field in _SITE_FIELDS.items():
            setattr(site, site_field, getattr(latest[site.id], visit_field))
        site.source = source[:MAX_TITLE_CHARS]
        if pcode not in before:
            report.count("sites", "created")
        elif _site_state(site) != before[pcode]:
            site.updated_hour = hour
            report.count("sites", "updated")
        else:
            report.count("sites", "unchanged")
    session.flush()
    return report


def _existing(session: Session, model: Any, dataset: str, keys: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        for item in session.scalars(
            select(model).where(model.dataset == dataset, model.external_id.in_(chunk))
        ):
            found[item.external_id] = item
    return found


def _latest_visits(session: Session, site_ids: list[int]) -> dict[int, MineSiteVisit]:
    """Each site's latest visit (by date, then the later row), a chunk of sites per query."""
    latest: dict[int, MineSiteVisit] = {}
    for i in range(0, len(site_ids), _CHUNK):
        chunk = site_ids[i : i + _CHUNK]
        for visit in session.scalars(select(MineSiteVisit).where(MineSiteVisit.site_id.in_(chunk))):
            best = latest.get(visit.site_id)
            if best is None or (visit.visit_date or dt.date.min, visit.id) > (
                best.visit_date or dt.date.min,
                best.id,
            ):
                latest[visit.site_id] = visit
    return latest


def _site_state(site: MineSite) -> tuple[Any, ...]:
    return tuple(getattr(site, f) for f in _SITE_FIELDS.values())


def import_file(
    sessions: sessionmaker[Session], path: Path, *, dataset: str = "ipis", dry_run: bool = False
) -> Report:
    """Import a CSV or GeoJSON file; a dry run rolls everything back and writes nothing."""
    dataset = check_dataset(dataset)
    rows = list(read_rows(path))
    with import_session(sessions, dry_run=dry_run) as session:
        return import_rows(session, rows, dataset=dataset, source=path.name, dry_run=dry_run)
