"""Import smelters and refiners: a filled RMI CMRT or EMRT (.xlsx), or a plain smelter CSV.

**Spreadsheets.** The Responsible Minerals Initiative's Conflict Minerals Reporting Template
(CMRT, tin, tantalum, tungsten, gold) and Extended Minerals Reporting Template (EMRT, cobalt,
copper, graphite, lithium, mica, nickel) list a company's smelters on the sheet
"Smelter List", whose column names sit in row 4. Each row with a smelter id (``CID001234``)
becomes an actor of kind ``refiner`` (gold) or ``smelter`` (the others), keyed by the dataset
(``rmi``) and the id. The EMRT's "Mine List" sheet (from EMRT 2.0) names mines and the smelters
sourcing from them: each row becomes a mine site (by mine id, or name and country) and a chain
link mine → smelter carrying the metal as its mineral, created once however often the file
is imported.

The file is untrusted: it is refused unless it is a ZIP of a sane size and expansion, and
openpyxl reads it in read-only mode, cell values only (never formulas run), through defusedxml
(openpyxl uses it when installed: no entity expansion, no external entities).

**CSV.** ``smelter_id,name,metal,country,status`` — the RMI's published facility lists reduced
to the columns that matter here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import (
    MAX_EXTERNAL_ID_CHARS,
    MAX_PLACE_CHARS,
    MAX_TITLE_CHARS,
    Actor,
    ActorKind,
    ChainLink,
    MineSite,
)
from casework.registers.actors import ActorRow, check_external_id, csv_rows, upsert_actors
from casework.registers.countries import centre, country_name
from casework.registers.minerals import fold, normalise
from casework.registers.report import (
    ImportRefused,
    ImportReport,
    RowError,
    check_dataset,
    check_size,
    import_session,
)
from filon.db import current_hour

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_SMELTERS_CSV = SAMPLES / "smelters_sample.csv"
DATASET = "rmi"
SMELTER_SHEET = "Smelter List"
MINE_SHEET = "Mine List"
HEADER_ROW = 4  # the templates' column names are in row 4; rows 1-3 are titles and notes

# The Smelter List's columns, as the templates name them (CMRT 6.x, EMRT 1.x-2.x).
COL_ID_INPUT = "Smelter Identification Number Input Column"
COL_METAL = "Metal (*)"
COL_LOOKUP = "Smelter Look-up (*)"
COL_NAME = "Smelter Name (1)"  # EMRT 2.0 and later: "Smelter Name (*)"
COL_COUNTRY = "Smelter Country (*)"
COL_ID = "Smelter Identification"
COL_ID_SOURCE = "Source of Smelter Identification Number"
COL_STREET = "Smelter Street "  # sic: the template's name ends with a space
COL_CITY = "Smelter City"
COL_PROVINCE = "Smelter Facility Location: State / Province"
COL_RECYCLED = "Does 100% of the smelter’s feedstock originate from recycled or scrap sources?"
SMELTER_COLUMNS = (
    COL_ID_INPUT,
    COL_METAL,
    COL_LOOKUP,
    COL_NAME,
    COL_COUNTRY,
    COL_ID,
    COL_ID_SOURCE,
    COL_STREET,
    COL_CITY,
    COL_PROVINCE,
    "Smelter Contact Name",
    "Smelter Contact Email",
    "Proposed next steps",
    'Name of Mine(s) or if recycled or scrap sourced, enter "recycled" or "scrap"',
    'Location (Country) of Mine(s) or if recycled or scrap sourced, enter "recycled" or "scrap"',
    COL_RECYCLED,
    "Comments",
)
# The EMRT's Mine List columns (EMRT 2.0 and later).
MINE_METAL = "Metal"
MINE_SMELTERS = "Name of Smelter(s) sourcing from this Mine Facility"
MINE_NAME = "Mine Facility (Site) Name"
MINE_ID = "Mine Identification"
MINE_ID_SOURCE = "Source of Mine Identification Number"
MINE_COUNTRY = "Mine Facility (Site) Country"
MINE_CITY = "Mine Facility City"
MINE_PROVINCE = "Mine Facility Location: State / Province"
MINE_COLUMNS = (
    MINE_METAL,
    MINE_SMELTERS,
    MINE_NAME,
    MINE_ID,
    MINE_ID_SOURCE,
    MINE_COUNTRY,
    "Mine Facility Street",
    MINE_CITY,
    MINE_PROVINCE,
    "Mine Facility Contact Name",
    "Mine Facility Contact Email",
    "Proposed next steps",
    "Comments",
)
# The columns a person fills in (the others are looked up by the template's formulas).
SMELTER_ENTERED = (COL_ID_INPUT, COL_METAL, COL_LOOKUP, COL_NAME, COL_COUNTRY)
MINE_ENTERED = (MINE_METAL, MINE_SMELTERS, MINE_NAME, MINE_ID, MINE_COUNTRY)
CSV_COLUMNS = ("smelter_id", "name", "metal", "country", "status")

# Limits: a filled template is well under 5 MiB and a few thousand rows; anything far larger
# is a mistake or an attack (a ZIP bomb expands a small file into gigabytes of XML).
MAX_XLSX_BYTES = 25 * 1024 * 1024
MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
MAX_ZIP_ENTRIES = 5_000
MAX_ROWS = 20_000  # rows with content, per sheet
MAX_SCANNED_ROWS = 200_000  # rows read at all (templates carry thousands of empty, formatted rows)
MAX_COLUMNS = 64

SMELTER_ID = re.compile(r"^CID[0-9]{6}$")
# Look-up choices that are not a smelter.
NOT_A_SMELTER = {"smelter not listed", "smelter not yet identified", "unknown"}
REFINED_METALS = {"gold"}  # the RMI's "refiners"; the other metals have smelters


# -- reading the workbook ---------------------------------------------------------------------


def check_xlsx(path: Path) -> None:
    """Refuse a file that is not a plausible .xlsx: size, ZIP signature, entries, expansion."""
    check_size(path, MAX_XLSX_BYTES)
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04" or not zipfile.is_zipfile(path):
        raise ImportRefused(f"{path.name}: not an .xlsx file (an .xlsx is a ZIP archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = {e.filename for e in entries}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused(f"{path.name}: a damaged ZIP archive ({exc})") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ImportRefused(f"{path.name}: more than {MAX_ZIP_ENTRIES} parts in the archive")
    if sum(e.file_size for e in entries) > MAX_UNCOMPRESSED_BYTES:
        raise ImportRefused(
            f"{path.name}: expands to more than {MAX_UNCOMPRESSED_BYTES // 2**20} MiB"
        )
    if "xl/workbook.xml" not in names:
        raise ImportRefused(f"{path.name}: a ZIP archive but not an Excel workbook (.xlsx)")


def open_workbook(path: Path) -> Any:
    """The workbook, read-only, cached values only; :class:`ImportRefused` if unreadable."""
    from openpyxl import load_workbook  # noqa: PLC0415 - only the spreadsheet import needs it

    check_xlsx(path)
    try:
        with warnings.catch_warnings():
            # The templates use Excel extensions openpyxl skips with a warning (data
            # validation lists, conditional formats): the values we read are unaffected.
            warnings.simplefilter("ignore", UserWarning)
            return load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken file; each is a refusal
        raise ImportRefused(
            f"{path.name}: not a readable .xlsx workbook ({type(exc).__name__})"
        ) from None


def header_key(text: Any) -> str:
    """A column name compared loosely: folded, no "(*)" marks, one space between words."""
    value = fold(str(text or "")).replace("(*)", " ").replace("’", "'")
    return " ".join(value.split())


def find_column(header: list[str], name: str) -> int | None:
    """The index of a template column: exact name, then loose, then a loose prefix."""
    if name in header:
        return header.index(name)
    keys = [header_key(h) for h in header]
    wanted = header_key(name)
    if wanted in keys:
        return keys.index(wanted)
    for index, key in enumerate(keys):
        if key.startswith(wanted):
            return index
    return None


def sheet_rows(
    workbook: Any, sheet: str, required: tuple[str, ...], filename: str, entered: tuple[str, ...]
) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """A sheet's header (row 4, or the first of rows 1-10 with the required columns) and rows.

    A row counts only if one of the ``entered`` columns (those a person fills in) has a value:
    the templates carry thousands of rows whose helper columns hold formulas' results.
    """
    worksheet = workbook[sheet]
    rows = worksheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    header: list[str] | None = None
    number = 0
    for number, values in enumerate(rows, start=1):
        cells = ["" if v is None else str(v) for v in values]
        if all(find_column(cells, c) is not None for c in required):
            header = cells
            break
        if number >= 10:
            break
    if header is None:
        names = ", ".join(f"'{c}'" for c in required)
        raise ImportRefused(
            f"{filename}: sheet '{sheet}' has no header row with the column(s) {names}"
        )
    header_number = number
    columns = [i for i in (find_column(header, c) for c in entered) if i is not None]

    def data() -> Iterator[tuple[int, list[Any]]]:
        filled = 0
        for row_number, values in enumerate(rows, start=header_number + 1):
            if row_number > MAX_SCANNED_ROWS:
                raise ImportRefused(f"{filename}: sheet '{sheet}' has too many rows")
            cells = list(values)
            if not any(_cell(cells[i]) for i in columns if i < len(cells)):
                continue
            filled += 1
            if filled > MAX_ROWS:
                raise ImportRefused(f"{filename}: sheet '{sheet}' has more than {MAX_ROWS:,} rows")
            yield row_number, cells

    return header, data()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _getter(header: list[str], columns: tuple[str, ...]) -> Any:
    index = {name: find_column(header, name) for name in columns}

    def get(cells: list[Any], name: str) -> str:
        i = index.get(name)
        return _cell(cells[i]) if i is not None and i < len(cells) else ""

    return get


# -- smelters ---------------------------------------------------------------------------------


def smelter_kind(metal_code: str) -> ActorKind:
    """Gold goes to refiners; tin, tantalum, tungsten, cobalt… to smelters."""
    return ActorKind.REFINER if metal_code in REFINED_METALS else ActorKind.SMELTER


def parse_metal(text: str, where: str, report: ImportReport) -> str:
    """The mineral code of a template's metal ("Tin" → cassiterite); unknown ones kept."""
    if not text:
        raise RowError("the metal is empty")
    code = normalise(text)
    if code is None:
        report.warn(where, f"metal {text[:40]!r} is not a known mineral")
        code = fold(text)[:64]
    return code


def parse_smelter_id(text: str, column: str) -> str:
    """A smelter id in the RMI's form, ``CID`` and six digits."""
    value = text.strip().upper()
    if not value:
        raise RowError(f"{column} is empty (a smelter is matched by its RMI id, CID000000)")
    if not SMELTER_ID.match(value):
        raise RowError(f"{column} {text[:40]!r} is not an RMI smelter id (CID and 6 digits)")
    return value


@dataclass(frozen=True)
class Smelter:
    """A valid Smelter List or CSV row."""

    row: ActorRow
    metal: str  # as written


def parse_template_smelter(where: str, cells: list[Any], get: Any, report: ImportReport) -> Smelter:
    """One Smelter List row; :class:`RowError` names the first problem."""
    lookup = get(cells, COL_LOOKUP)
    if fold(lookup) in NOT_A_SMELTER and not (get(cells, COL_ID) or get(cells, COL_ID_INPUT)):
        raise RowError(f"'{lookup}': no smelter identified, nothing to import")
    metal = get(cells, COL_METAL)
    code = parse_metal(metal, where, report)
    column = COL_ID if get(cells, COL_ID) else COL_ID_INPUT
    smelter_id = parse_smelter_id(get(cells, column), column.strip())
    name = get(cells, COL_NAME) or get(cells, "Smelter Name (*)")
    if not name and fold(lookup) not in NOT_A_SMELTER:
        name = lookup
    if not name:
        raise RowError("the smelter name is empty")
    details = {
        "metal": metal,
        "street": get(cells, COL_STREET),
        "city": get(cells, COL_CITY),
        "province": get(cells, COL_PROVINCE),
        "id_source": get(cells, COL_ID_SOURCE),
        "recycled_or_scrap": get(cells, COL_RECYCLED),
    }
    return Smelter(
        ActorRow(
            where=where,
            kind=smelter_kind(code),
            external_id=smelter_id,
            name=name[:MAX_TITLE_CHARS],
            country=get(cells, COL_COUNTRY)[:MAX_PLACE_CHARS],
            minerals=[code],
            details={k: v[:MAX_TITLE_CHARS] for k, v in details.items() if v},
        ),
        metal,
    )


def parse_csv_smelter(where: str, row: dict[str, str], report: ImportReport) -> Smelter:
    """One row of the smelter CSV; :class:`RowError` names the first problem."""
    if "__error__" in row:
        raise RowError(row["__error__"])
    smelter_id = parse_smelter_id(row.get("smelter_id", ""), "smelter_id")
    name = row.get("name", "")
    if not name:
        raise RowError("name is empty")
    metal = row.get("metal", "")
    code = parse_metal(metal, where, report)
    return Smelter(
        ActorRow(
            where=where,
            kind=smelter_kind(code),
            external_id=smelter_id,
            name=name[:MAX_TITLE_CHARS],
            country=row.get("country", "")[:MAX_PLACE_CHARS],
            minerals=[code],
            status=row.get("status", ""),
            details={"metal": metal[:MAX_TITLE_CHARS]},
        ),
        metal,
    )


def _collect(
    smelters: dict[str, Smelter], smelter: Smelter, where: str, report: ImportReport
) -> None:
    key = smelter.row.external_id
    if key in smelters:
        report.skip(where, f"smelter id {key} repeats {smelters[key].row.where}")
    else:
        smelters[key] = smelter


# -- mines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mine:
    """A valid Mine List row: a mine, its metal, and the smelters it supplies."""

    where: str
    key: str
    name: str
    country: str
    province: str
    mineral: str
    smelters: list[str]  # names or ids as written


def mine_key(mine_id: str, name: str, country: str) -> str:
    """The site's external id: the mine id, else its name and country (hashed if long)."""
    if mine_id:
        return check_external_id(mine_id, MINE_ID)
    key = f"{fold(name)}|{fold(country_name(country) or country)}"
    if len(key) <= MAX_EXTERNAL_ID_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def parse_mine(where: str, cells: list[Any], get: Any, report: ImportReport) -> Mine:
    """One Mine List row; :class:`RowError` names the first problem."""
    mineral = parse_metal(get(cells, MINE_METAL), where, report)
    name = get(cells, MINE_NAME)
    mine_id = get(cells, MINE_ID)
    if not name and not mine_id:
        raise RowError("neither the mine's name nor its identification is given")
    country = get(cells, MINE_COUNTRY)
    if not country:
        raise RowError("the mine's country is empty")
    smelters = [s.strip() for s in re.split(r"[;\n]", get(cells, MINE_SMELTERS)) if s.strip()]
    if not smelters:
        raise RowError("no smelter sourcing from this mine is named")
    return Mine(
        where=where,
        key=mine_key(mine_id, name, country),
        name=(name or mine_id)[:MAX_TITLE_CHARS],
        country=country,
        province=get(cells, MINE_PROVINCE)[:MAX_PLACE_CHARS],
        mineral=mineral,
        smelters=smelters,
    )


def import_mines(
    session: Session,
    mines: list[Mine],
    *,
    dataset: str,
    source: str,
    smelters: dict[str, Actor],
    report: ImportReport,
) -> None:
    """Sites for the mines (placed at the country's centre until corrected) and chain links."""
    by_name: dict[str, Actor] = {fold(a.name): a for a in _dataset_actors(session, dataset)}
    by_name.update({fold(a.name): a for a in smelters.values()})
    by_id = {a.external_id: a for a in by_name.values()} | smelters
    hour = current_hour()
    sites: dict[str, MineSite] = {}
    for mine in mines:
        targets: list[Actor] = []
        missing = []
        for written in mine.smelters:
            actor = by_id.get(written.upper()) or by_name.get(fold(written))
            if actor is None:
                missing.append(written)
            elif actor not in targets:
                targets.append(actor)
        if missing:
            names = ", ".join(repr(m[:60]) for m in missing)
            report.skip(mine.where, f"smelter {names} is not in the Smelter List")
            continue
        site = sites.get(mine.key) or _site(session, dataset, mine.key)
        if site is None:
            position = centre(mine.country)
            if position is None:
                report.skip(
                    mine.where,
                    f"country {mine.country[:60]!r} has no known position: add the site with"
                    " its coordinates first",
                )
                continue
            site = MineSite(
                dataset=dataset,
                external_id=mine.key,
                name=mine.name,
                latitude=position[0],
                longitude=position[1],
                province=mine.province,
                minerals=[mine.mineral],
                source=f"{source} (Mine List: position unknown, placed at the centre of"
                f" {country_name(mine.country)})"[:MAX_TITLE_CHARS],
                updated_hour=hour,
            )
            session.add(site)
            session.flush()
            report.count("sites", "created")
            report.warn(
                mine.where,
                f"mine {mine.name[:60]!r} has no coordinates: placed at the centre of"
                f" {country_name(mine.country)} until corrected",
            )
        elif mine.key not in sites:
            # Its position stays as it is: an investigator may have corrected it.
            changed = site.name != mine.name or mine.mineral not in site.minerals
            if changed:
                site.name = mine.name
                site.minerals = [*site.minerals, mine.mineral]
                site.updated_hour = hour
            report.count("sites", "updated" if changed else "unchanged")
        elif mine.mineral not in site.minerals:
            site.minerals = [*site.minerals, mine.mineral]
        sites[mine.key] = site
        for actor in targets:
            _link(session, site, actor, mine.mineral, report)
    session.flush()


def _dataset_actors(session: Session, dataset: str) -> list[Actor]:
    return list(session.scalars(select(Actor).where(Actor.dataset == dataset)))


def _site(session: Session, dataset: str, key: str) -> MineSite | None:
    return session.scalars(
        select(MineSite).where(MineSite.dataset == dataset, MineSite.external_id == key)
    ).first()


def _link(
    session: Session, site: MineSite, actor: Actor, mineral: str, report: ImportReport
) -> None:
    """A chain link mine → smelter for the mineral, unless there is one already."""
    existing = session.scalars(
        select(ChainLink).where(
            ChainLink.from_site_id == site.id,
            ChainLink.from_actor_id.is_(None),
            ChainLink.to_actor_id == actor.id,
            ChainLink.mineral == mineral,
        )
    ).first()
    if existing is not None:
        report.count("chain links", "unchanged")
        return
    session.add(
        ChainLink(
            from_site_id=site.id, to_actor_id=actor.id, mineral=mineral, created_hour=current_hour()
        )
    )
    session.flush()
    report.count("chain links", "created")


# -- importing --------------------------------------------------------------------------------


def import_workbook(
    session: Session, path: Path, *, dataset: str, dry_run: bool = False
) -> ImportReport:
    """Import a CMRT or EMRT: its Smelter List, and its Mine List if it has one."""
    workbook = open_workbook(path)
    try:
        if SMELTER_SHEET not in workbook.sheetnames:
            raise ImportRefused(f"{path.name}: no '{SMELTER_SHEET}' sheet (is it a CMRT or EMRT?)")
        has_mines = MINE_SHEET in workbook.sheetnames
        kinds = ("actors", "sites", "chain links") if has_mines else ("actors",)
        report = ImportReport(dataset=dataset, dry_run=dry_run, kinds=kinds)
        header, rows = sheet_rows(
            workbook, SMELTER_SHEET, (COL_METAL, COL_LOOKUP), path.name, SMELTER_ENTERED
        )
        get = _getter(header, SMELTER_COLUMNS + ("Smelter Name (*)",))
        smelters: dict[str, Smelter] = {}
        for number, cells in rows:
            where = f"{SMELTER_SHEET} row {number}"
            report.rows += 1
            try:
                _collect(smelters, parse_template_smelter(where, cells, get, report), where, report)
            except RowError as exc:
                report.skip(where, str(exc))
        actors = upsert_actors(
            session, [s.row for s in smelters.values()], dataset=dataset, report=report
        )
        if has_mines:
            header, rows = sheet_rows(
                workbook, MINE_SHEET, (MINE_METAL, MINE_NAME), path.name, MINE_ENTERED
            )
            get = _getter(header, MINE_COLUMNS)
            mines: list[Mine] = []
            for number, cells in rows:
                where = f"{MINE_SHEET} row {number}"
                report.rows += 1
                try:
                    mines.append(parse_mine(where, cells, get, report))
                except RowError as exc:
                    report.skip(where, str(exc))
            import_mines(
                session, mines, dataset=dataset, source=path.name, smelters=actors, report=report
            )
    finally:
        workbook.close()
    return report


def import_smelter_csv(
    session: Session, path: Path, *, dataset: str, dry_run: bool = False
) -> ImportReport:
    """Import a ``smelter_id,name,metal,country,status`` CSV."""
    check_size(path, MAX_CSV_BYTES)
    header, rows = csv_rows(path.name, path.read_bytes())
    missing = [c for c in ("smelter_id", "name", "metal") if c not in header]
    if missing:
        raise ImportRefused(f"{path.name}: missing column(s) {', '.join(missing)}")
    report = ImportReport(dataset=dataset, dry_run=dry_run, kinds=("actors",))
    smelters: dict[str, Smelter] = {}
    for where, row in rows:
        report.rows += 1
        try:
            _collect(smelters, parse_csv_smelter(where, row, report), where, report)
        except RowError as exc:
            report.skip(where, str(exc))
    upsert_actors(session, [s.row for s in smelters.values()], dataset=dataset, report=report)
    return report


def import_file(
    sessions: sessionmaker[Session], path: Path, *, dataset: str = DATASET, dry_run: bool = False
) -> ImportReport:
    """Import a CMRT/EMRT .xlsx or a smelter CSV; a dry run writes nothing."""
    dataset = check_dataset(dataset)
    with import_session(sessions, dry_run=dry_run) as session:
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            return import_workbook(session, path, dataset=dataset, dry_run=dry_run)
        return import_smelter_csv(session, path, dataset=dataset, dry_run=dry_run)
