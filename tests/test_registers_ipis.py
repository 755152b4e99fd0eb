"""The IPIS-style importer: sites once, every visit kept, the latest visit wins, nothing lost."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import MineSite, MineSiteVisit
from casework.registers.ipis import (
    SAMPLE_CSV,
    ImportRefused,
    RowError,
    import_file,
    parse_date,
)
from casework.registers.minerals import normalise
from filon.instance import Instance
from tests.command import filon

SAMPLE_GEOJSON = SAMPLE_CSV.with_suffix(".geojson")
EXPECTED_SKIPS = [
    ("line 22", "visit_date '31/02/2017' is not a date"),
    ("line 43", "pcode is empty"),
    ("line 64", "latitude '200' is out of range (±90)"),
]


@pytest.fixture
def sessions(instance: Instance) -> sessionmaker[Session]:
    return instance.sessions


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(MineSite)) or 0,
            session.scalar(select(func.count()).select_from(MineSiteVisit)) or 0,
        )


def read_sample() -> tuple[list[str], list[dict[str, str]]]:
    with SAMPLE_CSV.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def site(sessions: sessionmaker[Session], pcode: str, dataset: str = "ipis") -> MineSite:
    with sessions() as session:
        return session.scalars(
            select(MineSite).where(MineSite.dataset == dataset, MineSite.external_id == pcode)
        ).one()


def test_importing_the_sample_twice_creates_each_site_once_and_then_updates(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first = import_file(sessions, SAMPLE_CSV)
    assert (first.sites_created, first.visits_created, first.rows) == (30, 60, 63)
    assert [(s.where, s.reason) for s in first.skipped] == EXPECTED_SKIPS
    assert counts(sessions) == (30, 60)

    # A copy where the latest visit of SYN-0002 now counts 999 workers, one site is renamed,
    # and one visit gets a new vid (a new observation).
    header, rows = read_sample()
    latest = max(
        (r for r in rows if r["pcode"] == "SYN-0002" and r["vid"].startswith("SYNV-0")),
        key=lambda r: parse_date(r["visit_date"]),
    )
    latest["workers_numb"] = "999"
    latest["mineral1"], latest["mineral2"] = "cuivre", "DIAMANT"
    for row in rows:
        if row["pcode"] == "SYN-0005":
            row["name"] = "Renamed (synthetic)"
    new_visit = dict(rows[0], vid="SYNV-5000", visit_date="2025-01-15", workers_numb="7")
    changed = write_csv(tmp_path / "changed.csv", header, [*rows, new_visit])

    second = import_file(sessions, changed)
    assert second.sites_created == 0
    assert second.sites_updated == 3  # SYN-0002, SYN-0005, and SYN-0001 by its new visit
    assert second.sites_unchanged == 27
    assert second.visits_created == 1
    assert second.visits_updated == 1 + sum(r["pcode"] == "SYN-0005" for r in rows)
    assert counts(sessions) == (30, 61)
    updated = site(sessions, "SYN-0002")
    assert (updated.workers, updated.minerals) == (999, ["copper", "diamond"])
    assert site(sessions, "SYN-0005").name == "Renamed (synthetic)"
    newest = site(sessions, "SYN-0001")
    assert (newest.last_visit_date, newest.workers) == (dt.date(2025, 1, 15), 7)

    third = import_file(sessions, changed)
    assert (third.sites_created, third.sites_updated, third.sites_unchanged) == (0, 0, 30)
    assert (third.visits_created, third.visits_updated, third.visits_unchanged) == (0, 0, 61)


def test_the_latest_visit_wins_and_every_visit_is_kept(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    header, _ = read_sample()
    base = dict.fromkeys(header, "")
    base.update(pcode="P1", name="Old name", province="Sud-Kivu", latitude="-2.5")
    rows = [
        dict(base, vid="V2", visit_date="03/08/2016", longitude="28.1", workers_numb="50"),
        dict(base, vid="V1", visit_date="42000", longitude="28.0", workers_numb="10"),
        dict(base, vid="V3", visit_date="2015/01/02", longitude="28.2", name="Older"),
    ]
    rows[0]["name"] = "Newest name"
    rows[0]["presence"] = "1"
    rows[0]["mineral1"] = "Cassitérite"
    import_file(sessions, write_csv(tmp_path / "v.csv", header, rows))
    found = site(sessions, "P1")
    assert found.name == "Newest name"
    assert found.last_visit_date == dt.date(2016, 8, 3)  # day first, not 8 March
    assert (found.longitude, found.workers, found.armed_presence) == (28.1, 50, True)
    assert found.minerals == ["cassiterite"]
    with sessions() as session:
        dates = session.execute(
            select(MineSiteVisit.external_id, MineSiteVisit.visit_date).order_by(
                MineSiteVisit.visit_date
            )
        ).all()
    # 42000 is an Excel serial: 2014-12-27.
    assert [tuple(d) for d in dates] == [
        ("V1", dt.date(2014, 12, 27)),
        ("V3", dt.date(2015, 1, 2)),
        ("V2", dt.date(2016, 8, 3)),
    ]


def test_a_dry_run_reports_the_same_and_writes_nothing(sessions: sessionmaker[Session]) -> None:
    dry = import_file(sessions, SAMPLE_CSV, dry_run=True)
    assert (dry.sites_created, dry.visits_created) == (30, 60)
    assert [(s.where, s.reason) for s in dry.skipped] == EXPECTED_SKIPS
    assert "DRY RUN: nothing written" in dry.render()
    assert counts(sessions) == (0, 0)
    import_file(sessions, SAMPLE_CSV)
    again = import_file(sessions, SAMPLE_CSV, dry_run=True)
    assert (again.sites_created, again.sites_unchanged) == (0, 30)


def test_geojson_gives_the_same_records_as_csv(sessions: sessionmaker[Session]) -> None:
    from_csv = import_file(sessions, SAMPLE_CSV, dataset="from-csv")
    from_geojson = import_file(sessions, SAMPLE_GEOJSON, dataset="from-geojson")
    assert (from_geojson.sites_created, from_geojson.visits_created) == (30, 60)
    assert [s.reason for s in from_geojson.skipped] == [s.reason for s in from_csv.skipped]
    assert [s.where for s in from_geojson.skipped] == ["feature 21", "feature 42", "feature 63"]

    def snapshot(dataset: str) -> list[tuple[object, ...]]:
        with sessions() as session:
            return [
                (
                    s.external_id,
                    s.name,
                    s.latitude,
                    s.longitude,
                    s.minerals,
                    s.last_visit_date,
                    s.workers,
                    s.armed_presence,
                )
                for s in session.scalars(
                    select(MineSite)
                    .where(MineSite.dataset == dataset)
                    .order_by(MineSite.external_id)
                )
            ]

    assert snapshot("from-csv") == snapshot("from-geojson")
    assert len(snapshot("from-csv")) == 30


def test_malformed_rows_are_reported_by_line_and_never_dropped(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    header, rows = read_sample()
    good = rows[0]
    lines = [
        good,
        dict(good, vid="B1", visit_date="not a date"),
        dict(good, vid="B2", presence="maybe"),
        dict(good, vid="B3", latitude="0", longitude="0"),
        dict(good, vid="B4", visit_date="2099-01-01"),
        dict(good, vid="SYNV-0001", visit_date="2016-01-01"),
        dict(good, vid="B5", longitude="east"),
        dict(good, vid=""),
        dict(good, vid="B6", workers_numb="many"),
    ]
    report = import_file(sessions, write_csv(tmp_path / "bad.csv", header, lines))
    assert [(s.where, s.reason) for s in report.skipped] == [
        ("line 3", "visit_date 'not a date' is not a date"),
        ("line 4", "presence 'maybe' is not yes or no"),
        ("line 5", "latitude and longitude are both 0 (no position)"),
        ("line 6", "visit_date '2099-01-01' is out of range"),
        ("line 7", "vid 'SYNV-0001' repeats line 2"),
        ("line 8", "longitude 'east' is not a number"),
        ("line 9", "vid is empty"),
        ("line 10", "workers_numb 'many' is not a number"),
    ]
    assert report.rows == 9
    assert report.visits_created + len(report.skipped) == report.rows
    assert report.warnings == []
    rendered = report.render()
    assert "skipped line 7: vid 'SYNV-0001' repeats line 2" in rendered


def test_a_position_outside_the_drc_is_imported_with_a_warning(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    header, rows = read_sample()
    swapped = dict(rows[0], latitude=rows[0]["longitude"], longitude=rows[0]["latitude"])
    report = import_file(sessions, write_csv(tmp_path / "swapped.csv", header, [swapped]))
    assert report.visits_created == 1
    assert [w.where for w in report.warnings] == ["line 2"]
    assert "outside the DRC" in report.warnings[0].reason
    assert "warning line 2: position" in report.render()
    assert counts(sessions) == (1, 1)


def test_a_file_without_the_key_columns_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("site,lat,lon\nA,1,2\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="missing column"):
        import_file(sessions, wrong)
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(ImportRefused, match="not JSON"):
        import_file(sessions, broken)
    assert counts(sessions) == (0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-08-03", dt.date(2016, 8, 3)),
        ("03/08/2016", dt.date(2016, 8, 3)),
        ("2016/08/03", dt.date(2016, 8, 3)),
        ("3-Aug-2016", dt.date(2016, 8, 3)),
        ("42585", dt.date(2016, 8, 3)),
        ("2016-08-03 00:00:00", dt.date(2016, 8, 3)),
    ],
)
def test_dates_are_parsed_in_every_format_met(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "31/02/2017", "yesterday", "12", "1850-01-01", "nan"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(RowError):
        parse_date(text)


def test_french_and_english_mineral_names_are_normalised() -> None:
    assert normalise("Cassitérite") == normalise("CASSITERITE") == "cassiterite"
    assert normalise("or") == normalise("Gold") == "gold"
    assert normalise(" cuivre ") == "copper"
    assert normalise("Diamant") == normalise("diamonds") == "diamond"
    assert normalise("Coltan") == "coltan"
    assert normalise("wolframite") == "wolframite"
    assert normalise("Tourmaline") == "tourmaline"
    assert normalise("Monazite") == "monazite"
    assert normalise("Hétérogénite") == "cobalt"
    assert normalise("unobtainium") is None


def test_the_command_prints_the_report(instance: Instance, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return filon("import-sites", "--instance", str(instance.settings.instance_dir), *args)

    dry = run(str(SAMPLE_CSV), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "sites: 30 would be created" in dry.stdout
    assert "skipped line 43: pcode is empty" in dry.stdout
    assert counts(instance.sessions) == (0, 0)
    applied = run(str(SAMPLE_GEOJSON), "--dataset", "ipis-2023")
    assert applied.returncode == 0, applied.stderr
    assert "sites: 30 created" in applied.stdout
    assert "skipped feature 63: latitude '200' is out of range" in applied.stdout
    assert counts(instance.sessions) == (30, 60)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n", encoding="utf-8")
    refused = run(str(wrong))
    assert refused.returncode == 1
    assert "missing column(s) pcode, vid" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_sample_is_synthetic_and_says_so() -> None:
    readme = (SAMPLE_CSV.parent / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme
    _, rows = read_sample()
    assert all(r["pcode"].startswith("SYN-") for r in rows if r["pcode"])
    features = json.loads(SAMPLE_GEOJSON.read_text(encoding="utf-8"))["features"]
    assert len(features) == len(rows) == 63
