"""Which importer a register file needs, told from its content (the command line's entry).

``filon import-sites`` takes IPIS-style CSV or GeoJSON and OpenStreetMap GeoJSON;
``filon import-actors`` takes a CMRT/EMRT spreadsheet, a smelter CSV, or a plain actors CSV.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from casework.registers import ipis, osm, rmi
from casework.registers.actors import csv_rows, import_actor_rows
from casework.registers.report import (
    ImportRefused,
    ImportReport,
    check_dataset,
    check_size,
    import_session,
)

ACTORS_DATASET = "actors"
MAX_ACTORS_CSV_BYTES = 50 * 1024 * 1024


def sites_format(path: Path) -> str:
    """``"osm"`` for OpenStreetMap GeoJSON, ``"ipis"`` for everything else (CSV, IPIS GeoJSON)."""
    if path.suffix.lower() in {".geojson", ".json"} and osm.looks_like_osm(osm.load_features(path)):
        return "osm"
    return "ipis"


def import_sites_file(
    sessions: sessionmaker[Session], path: Path, *, dataset: str | None, dry_run: bool
) -> ImportReport:
    """Import mine sites with the importer the file needs (dataset ``osm`` or ``ipis``)."""
    if sites_format(path) == "osm":
        return osm.import_file(sessions, path, dataset=dataset or osm.DATASET, dry_run=dry_run)
    return ipis.import_file(sessions, path, dataset=dataset or "ipis", dry_run=dry_run)


def actors_format(path: Path) -> str:
    """``"rmi-xlsx"``, ``"rmi-csv"`` (a smelter_id column) or ``"actors-csv"`` (a kind column)."""
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "rmi-xlsx"
    if suffix in {".xls", ".ods"}:
        raise ImportRefused(f"{path.name}: save the spreadsheet as .xlsx (Excel 2007 or later)")
    check_size(path, MAX_ACTORS_CSV_BYTES)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        raise ImportRefused(f"{path.name}: a ZIP archive; name an .xlsx file .xlsx")
    header, _ = csv_rows(path.name, path.read_bytes())
    if "smelter_id" in header:
        return "rmi-csv"
    if "kind" in header and "name" in header:
        return "actors-csv"
    raise ImportRefused(
        f"{path.name}: neither a smelter CSV ({', '.join(rmi.CSV_COLUMNS)}) nor an actors CSV"
        " (kind, name, country, external_id)"
    )


def import_actors_file(
    sessions: sessionmaker[Session], path: Path, *, dataset: str | None, dry_run: bool
) -> ImportReport:
    """Import actors: CMRT/EMRT .xlsx and smelter CSV (dataset ``rmi``), or a plain actors CSV."""
    kind = actors_format(path)
    if kind != "actors-csv":
        return rmi.import_file(sessions, path, dataset=dataset or rmi.DATASET, dry_run=dry_run)
    name = check_dataset(dataset or ACTORS_DATASET)
    header, rows = csv_rows(path.name, path.read_bytes())
    missing = [c for c in ("kind", "name", "external_id") if c not in header]
    if missing:
        raise ImportRefused(f"{path.name}: missing column(s) {', '.join(missing)}")
    report = ImportReport(dataset=name, dry_run=dry_run, kinds=("actors",))
    with import_session(sessions, dry_run=dry_run) as session:
        import_actor_rows(session, rows, dataset=name, report=report)
    return report
