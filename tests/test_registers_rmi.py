"""Smelters and refiners: a CMRT/EMRT spreadsheet, a smelter CSV, a plain actors CSV.

The spreadsheets are built here with openpyxl, laid out as the RMI templates are: sheet
"Smelter List" with the template's own column names in row 4 (``Smelter Street `` ends with
a space), and the EMRT's "Mine List".
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from casework.models import Actor, ActorKind, ChainLink, MineSite
from casework.registers import rmi
from casework.registers.actors import SAMPLE_ACTORS_CSV
from casework.registers.detect import import_actors_file
from casework.registers.report import ImportRefused
from casework.registers.rmi import SAMPLE_SMELTERS_CSV
from casework.registers.samples.make_rmi_sample import SMELTER_HEADER
from filon import schema
from filon.db import make_engine
from filon.instance import Instance
from tests.command import filon

MINE_HEADER = [
    "Metal",
    "Name of Smelter(s) sourcing from this Mine Facility",
    "Mine Facility (Site) Name",
    "Mine Identification",
    "Source of Mine Identification Number",
    "Mine Facility (Site) Country",
    "Mine Facility Street",
    "Mine Facility City",
    "Mine Facility Location: State / Province",
]
DRC = "Congo, Democratic Republic of the"


def smelter(
    cid: str | None, metal: str, name: str, country: str, *, lookup: str | None = None, **extra: str
) -> list[Any]:
    """A Smelter List row as a filled template has it (the id input column and the look-up)."""
    row: list[Any] = [cid, metal, lookup or name, name, country, cid, "RMI"]
    row += [extra.get("street"), extra.get("city"), extra.get("province")]
    return row


CMRT_ROWS = [
    smelter("CID900001", "Tin", "Étain Exemple (synthetic)", "Malaysia", street="Jalan 1"),
    smelter("CID900002", "Tantalum", "Tantalum Works (synthetic)", "China", city="Exampleville"),
    smelter("CID900003", "Tungsten", "Tungsten Smelter (synthetic)", "Viet Nam"),
    smelter("CID900004", "Gold", "Gold Refinery (synthetic)", "Switzerland"),
]


def workbook(path: Path, smelters: list[list[Any]], mines: list[list[Any]] | None = None) -> Path:
    """A filled CMRT (or an EMRT with ``mines``), written with openpyxl."""
    book = Workbook()
    book.active.title = "Declaration"
    book.active["B8"] = "Company (synthetic)"
    sheet = book.create_sheet("Smelter List")
    sheet["A1"] = "Smelter List"
    sheet["A3"] = "Columns with (*) are mandatory fields"
    for column, name in enumerate(SMELTER_HEADER, start=1):
        sheet.cell(row=4, column=column, value=name)
    for number, row in enumerate(smelters, start=5):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=number, column=column, value=value)
    if mines is not None:
        mine_sheet = book.create_sheet("Mine List")
        for column, name in enumerate(MINE_HEADER, start=1):
            mine_sheet.cell(row=4, column=column, value=name)
        for number, row in enumerate(mines, start=5):
            for column, value in enumerate(row, start=1):
                mine_sheet.cell(row=number, column=column, value=value)
    book.save(path)
    return path


@pytest.fixture
def sessions(instance: Instance) -> sessionmaker[Session]:
    return instance.sessions


def actors(sessions: sessionmaker[Session], dataset: str = "rmi") -> dict[str, Actor]:
    with sessions() as session:
        rows = session.scalars(select(Actor).where(Actor.dataset == dataset)).all()
        return {actor.external_id or "": actor for actor in rows}


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Actor, MineSite, ChainLink)
        )


def test_a_cmrt_built_with_the_template_columns_imports_its_smelters(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = workbook(tmp_path / "cmrt.xlsx", CMRT_ROWS)
    first = rmi.import_file(sessions, path)
    assert (first.rows, first.created("actors"), first.skipped) == (4, 4, [])
    stored = actors(sessions)
    assert set(stored) == {"CID900001", "CID900002", "CID900003", "CID900004"}
    tin = stored["CID900001"]
    assert (tin.kind, tin.name, tin.country, tin.minerals) == (
        ActorKind.SMELTER,
        "Étain Exemple (synthetic)",
        "Malaysia",
        ["cassiterite"],
    )
    assert tin.details["street"] == "Jalan 1"  # from "Smelter Street " (trailing space)
    assert tin.details["metal"] == "Tin"
    assert stored["CID900002"].minerals == ["coltan"]
    assert stored["CID900002"].details["city"] == "Exampleville"
    assert stored["CID900003"].minerals == ["wolframite"]
    gold = stored["CID900004"]
    assert (gold.kind, gold.minerals) == (ActorKind.REFINER, ["gold"])

    # The next year's CMRT: one smelter renamed, one added; the others as they were.
    rows = [list(r) for r in CMRT_ROWS]
    rows[1][2] = rows[1][3] = "Tantalum Works Renamed (synthetic)"
    rows.append(smelter("CID900011", "Tin", "New Tin Smelter (synthetic)", "Indonesia"))
    second = rmi.import_file(sessions, workbook(tmp_path / "cmrt2.xlsx", rows))
    assert (second.created("actors"), second.updated("actors"), second.unchanged("actors")) == (
        1,
        1,
        3,
    )
    after = actors(sessions)
    assert len(after) == 5
    assert after["CID900002"].id == stored["CID900002"].id
    assert after["CID900002"].name == "Tantalum Works Renamed (synthetic)"


def test_malformed_smelter_rows_are_reported_by_row_and_never_dropped(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [
        CMRT_ROWS[0],
        [None] * 7,  # an empty row of the template: not a row at all
        smelter("CID12", "Tin", "Short Id (synthetic)", "Peru"),
        smelter(None, "Gold", "No Id (synthetic)", "Peru"),
        smelter(None, "Tin", "", "", lookup="Smelter not yet identified"),
        smelter("CID900021", None, "No Metal (synthetic)", "Peru"),  # type: ignore[arg-type]
        smelter("CID900001", "Tin", "Repeated (synthetic)", "Malaysia"),
        smelter("CID900022", "Unobtainium", "Odd Metal (synthetic)", "Peru"),
        # The template's helper columns (beyond "Comments") hold formula results on every row:
        # a row nobody filled in is still not a row.
        [None] * 17 + ["Unknown", 0, "Smelter Not Listed"],
    ]
    report = rmi.import_file(sessions, workbook(tmp_path / "bad.xlsx", rows))
    assert [(s.where, s.reason) for s in report.skipped] == [
        (
            "Smelter List row 7",
            "Smelter Identification 'CID12' is not an RMI smelter id (CID and 6 digits)",
        ),
        (
            "Smelter List row 8",
            "Smelter Identification Number Input Column is empty (a smelter is matched by its"
            " RMI id, CID000000)",
        ),
        (
            "Smelter List row 9",
            "'Smelter not yet identified': no smelter identified, nothing to import",
        ),
        ("Smelter List row 10", "the metal is empty"),
        ("Smelter List row 11", "smelter id CID900001 repeats Smelter List row 5"),
    ]
    assert [(w.where, w.reason) for w in report.warnings] == [
        ("Smelter List row 12", "metal 'Unobtainium' is not a known mineral")
    ]
    assert report.rows == 7 == report.created("actors") + len(report.skipped)
    assert "skipped Smelter List row 7: Smelter Identification 'CID12'" in report.render()


def test_an_emrt_mine_list_makes_chain_links_once(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    smelters = [
        smelter("CID900005", "Cobalt", "Cobalt Refinery (synthetic)", "China"),
        smelter("CID900010", "Copper", "Copper Processor (synthetic)", "Zambia"),
    ]
    mines = [
        ["Cobalt", "Cobalt Refinery (synthetic)", "Kasulo-Exemple (synthetic)", None, None, DRC],
        ["Copper", "copper processor (SYNTHETIC)", "Kamoto-Sud (synthetic)", None, None, "DRC"],
        [
            "Cobalt",
            "CID900005; Copper Processor (synthetic)",
            "Mutoshi (synthetic)",
            "M-3",
            "X",
            DRC,
        ],
        ["Cobalt", "Nobody Refinery (synthetic)", "Orphan (synthetic)", None, None, DRC],
        ["Cobalt", "Cobalt Refinery (synthetic)", "Far Away (synthetic)", None, None, "Atlantis"],
        ["Cobalt", "Cobalt Refinery (synthetic)", None, None, None, DRC],
    ]
    path = workbook(tmp_path / "emrt.xlsx", smelters, mines)
    first = rmi.import_file(sessions, path)
    assert (first.created("actors"), first.created("sites"), first.created("chain links")) == (
        2,
        3,
        4,
    )
    # Rows that cannot be read are reported first, then rows whose smelter or place is unknown.
    assert [(s.where, s.reason) for s in first.skipped] == [
        ("Mine List row 10", "neither the mine's name nor its identification is given"),
        ("Mine List row 8", "smelter 'Nobody Refinery (synthetic)' is not in the Smelter List"),
        (
            "Mine List row 9",
            "country 'Atlantis' has no known position: add the site with its coordinates first",
        ),
    ]
    assert len(first.warnings) == 3  # each new site is placed at its country's centre
    with sessions() as session:
        found = session.execute(
            select(MineSite.external_id, MineSite.minerals, Actor.external_id, ChainLink.mineral)
            .join(MineSite, ChainLink.from_site_id == MineSite.id)
            .join(Actor, ChainLink.to_actor_id == Actor.id)
            .order_by(MineSite.external_id, Actor.external_id)
        ).all()
    assert [tuple(r) for r in found] == [
        ("M-3", ["cobalt"], "CID900005", "cobalt"),
        ("M-3", ["cobalt"], "CID900010", "cobalt"),
        (f"kamoto-sud (synthetic)|{DRC.lower()}", ["copper"], "CID900010", "copper"),
        (f"kasulo-exemple (synthetic)|{DRC.lower()}", ["cobalt"], "CID900005", "cobalt"),
    ]
    # An investigator corrects a site's position; the next import keeps it.
    with sessions() as session:
        site = session.scalars(select(MineSite).where(MineSite.external_id == "M-3")).one()
        site.latitude, site.longitude = -10.6, 25.4
        session.commit()
    again = rmi.import_file(sessions, path)
    assert (again.created("sites"), again.created("chain links")) == (0, 0)
    assert (again.unchanged("sites"), again.unchanged("chain links")) == (3, 4)
    assert counts(sessions) == (2, 3, 4)
    with sessions() as session:
        site = session.scalars(select(MineSite).where(MineSite.external_id == "M-3")).one()
        assert (site.latitude, site.longitude) == (-10.6, 25.4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"smelter_id,name\n", "not an .xlsx file"),
        (b"", "not an .xlsx file"),
        (b"PK\x03\x04 truncated", "not an .xlsx file"),
    ],
)
def test_a_file_that_is_not_an_xlsx_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "smelters.xlsx"
    path.write_bytes(content)
    with pytest.raises(ImportRefused, match=message):
        rmi.import_file(sessions, path)


def test_archives_that_are_not_templates_are_refused(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain.xlsx"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(ImportRefused, match="a ZIP archive but not an Excel workbook"):
        rmi.import_file(sessions, plain)
    other = tmp_path / "other.xlsx"
    book = Workbook()
    book.active.title = "Declaration"
    book.save(other)
    with pytest.raises(ImportRefused, match="no 'Smelter List' sheet"):
        rmi.import_file(sessions, other)
    wrong = tmp_path / "wrong.xlsx"
    book = Workbook()
    book.active.title = "Smelter List"
    book.active["A4"] = "Something else"
    book.save(wrong)
    with pytest.raises(ImportRefused, match="no header row with the column"):
        rmi.import_file(sessions, wrong)
    # The limits: what a part expands to, and how many rows a sheet may fill.
    cmrt = workbook(tmp_path / "cmrt.xlsx", CMRT_ROWS)
    monkeypatch.setattr(rmi, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(ImportRefused, match="expands to more than"):
        rmi.import_file(sessions, cmrt)
    monkeypatch.undo()
    monkeypatch.setattr(rmi, "MAX_ROWS", 3)
    with pytest.raises(ImportRefused, match="has more than 3 rows"):
        rmi.import_file(sessions, cmrt)
    monkeypatch.setattr(rmi, "MAX_XLSX_BYTES", 100)
    with pytest.raises(ImportRefused, match="larger than"):
        rmi.import_file(sessions, cmrt)
    assert counts(sessions) == (0, 0, 0)


def test_the_smelter_and_actor_samples_import_once_then_stay(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first = import_actors_file(sessions, SAMPLE_SMELTERS_CSV, dataset=None, dry_run=False)
    assert (first.dataset, first.rows, first.created("actors")) == ("rmi", 9, 7)
    assert [(s.where, s.reason) for s in first.skipped] == [
        ("line 8", "smelter_id 'CID90007' is not an RMI smelter id (CID and 6 digits)"),
        ("line 9", "name is empty"),
    ]
    stored = actors(sessions)
    assert (stored["CID900001"].status, stored["CID900003"].status) == ("Conformant", "Active")
    second = import_actors_file(sessions, SAMPLE_SMELTERS_CSV, dataset=None, dry_run=False)
    assert (second.created("actors"), second.unchanged("actors")) == (0, 7)

    people = import_actors_file(sessions, SAMPLE_ACTORS_CSV, dataset=None, dry_run=False)
    assert (people.dataset, people.created("actors")) == ("actors", 12)
    assert [s.where for s in people.skipped] == ["line 14", "line 15"]
    assert "kind 'wizard' is not one of" in people.skipped[0].reason
    kinds = {a.external_id: a.kind for a in actors(sessions, "actors").values()}
    assert kinds["TRD-003"] == ActorKind.TRADER  # "négociant"
    assert kinds["CMP-002"] == ActorKind.COMPONENT_MAKER  # "component maker"
    assert {ActorKind.COMPTOIR, ActorKind.EXPORTER, ActorKind.BRAND} <= set(kinds.values())
    edited = tmp_path / "actors.csv"
    edited.write_text(
        SAMPLE_ACTORS_CSV.read_text(encoding="utf-8").replace(
            "Comptoir Goma Exemple", "Comptoir Goma Renamed"
        ),
        encoding="utf-8",
    )
    again = import_actors_file(sessions, edited, dataset=None, dry_run=False)
    assert (again.created("actors"), again.updated("actors"), again.unchanged("actors")) == (
        0,
        1,
        11,
    )


def test_import_actors_dry_run_writes_nothing_and_bad_files_exit_nonzero(
    instance: Instance, tmp_path: Path
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return filon("import-actors", "--instance", str(instance.settings.instance_dir), *args)

    cmrt = workbook(tmp_path / "cmrt.xlsx", CMRT_ROWS)
    dry = run(str(cmrt), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "DRY RUN: nothing written. dataset rmi: 4 row(s) read" in dry.stdout
    assert "actors: 4 would be created" in dry.stdout
    dry_csv = run(str(SAMPLE_ACTORS_CSV), "--dry-run")
    assert dry_csv.returncode == 0, dry_csv.stderr
    assert "actors: 12 would be created" in dry_csv.stdout
    assert "skipped line 15: name is empty" in dry_csv.stdout
    assert counts(instance.sessions) == (0, 0, 0)

    applied = run(str(cmrt), "--dataset", "rmi-2026")
    assert applied.returncode == 0, applied.stderr
    assert "actors: 4 created" in applied.stdout
    assert len(actors(instance.sessions, "rmi-2026")) == 4

    fake = tmp_path / "fake.xlsx"
    fake.write_text("this is not a spreadsheet", encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    for path, message in (
        (fake, "fake.xlsx: not an .xlsx file (an .xlsx is a ZIP archive)"),
        (other, "other.csv: neither a smelter CSV"),
    ):
        refused = run(str(path))
        assert refused.returncode == 1
        assert message in refused.stderr
        assert "Traceback" not in refused.stderr
    assert counts(instance.sessions) == (4, 0, 0)


def test_upgrade_to_0011_keeps_actors_and_gives_them_details(db_url: str) -> None:
    engine: Engine = make_engine(db_url)
    try:
        schema.upgrade(engine, "0008")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO actors (kind, name, country, dataset, external_id, updated_hour)"
                    " VALUES ('smelter', 'Kept', 'MY', 'rmi', 'CID900001', '2026-11-22 10:00:00')"
                )
            )
        schema.upgrade(engine, "0011")
        with engine.begin() as connection:
            row = connection.execute(
                text("SELECT name, external_id, minerals, status, details FROM actors")
            ).one()
        assert (row.name, row.external_id, row.status) == ("Kept", "CID900001", "")
        assert row.minerals in ([], "[]")  # JSON: decoded on PostgreSQL, text on SQLite
        assert row.details in ({}, "{}")
    finally:
        engine.dispose()
