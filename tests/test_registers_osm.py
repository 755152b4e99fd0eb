"""The OpenStreetMap-style importer: mine features only, centroids, OSM ids, nothing lost."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import MineSite
from casework.registers.detect import sites_format
from casework.registers.ipis import SAMPLE_CSV as IPIS_CSV
from casework.registers.osm import SAMPLE_GEOJSON, centroid, import_file
from casework.registers.report import ImportRefused, RowError
from filon.instance import Instance
from tests.command import filon

EXPECTED_SKIPS = [
    ("feature 8", "a quarry without resource=* (sand, gravel or stone: not a mine site)"),
    (
        "feature 9",
        "not a mine: none of landuse=quarry, industrial=mine, man_made=mineshaft or man_made=adit",
    ),
    ("feature 10", "no OSM id (@id or id such as node/123 or way/45)"),
    ("feature 11", "coordinate [28.1, 200.0] is out of range"),
    ("feature 12", "node/9100000001 repeats feature 1"),
]


@pytest.fixture
def sessions(instance: Instance) -> sessionmaker[Session]:
    return instance.sessions


def sites(sessions: sessionmaker[Session], dataset: str = "osm") -> dict[str, MineSite]:
    with sessions() as session:
        rows = session.scalars(select(MineSite).where(MineSite.dataset == dataset)).all()
        return {site.external_id: site for site in rows}


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(MineSite)) or 0


def test_importing_the_sample_twice_creates_once_then_updates_in_place(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first = import_file(sessions, SAMPLE_GEOJSON)
    assert (first.rows, first.created("sites")) == (14, 9)
    assert [(s.where, s.reason) for s in first.skipped] == EXPECTED_SKIPS
    assert first.rows == first.created("sites") + len(first.skipped)  # nothing dropped silently
    assert [w.where for w in first.warnings] == ["feature 7", "feature 14"]
    stored = sites(sessions)
    assert stored["node/9100000001"].minerals == ["gold"]
    assert stored["way/9200000001"].minerals == ["cassiterite", "coltan"]  # tin;tantalum
    assert stored["way/9200000002"].minerals == ["cobalt", "copper"]
    assert stored["node/9100000003"].minerals == ["wolframite"]  # tungsten
    assert stored["relation/9300000001"].minerals == ["diamond"]
    assert stored["node/9100000004"].minerals == []  # a mine shaft without resource=*
    assert stored["node/9100000004"].name == "Mine shaft node/9100000004"
    assert stored["node/9100000007"].name == "Puits Mabo (synthetic)"  # osmtogeojson shape
    assert stored["node/9100000001"].source == "osm_sample.geojson"

    document = json.loads(SAMPLE_GEOJSON.read_text(encoding="utf-8"))
    changed = copy.deepcopy(document)
    changed["features"][0]["properties"]["name"] = "Puits Kalomi renamed (synthetic)"
    changed["features"][2]["geometry"]["coordinates"] = [28.95, -1.65]
    changed["features"].append(
        {
            "type": "Feature",
            "properties": {"@id": "node/9100000099", "industrial": "mine", "resource": "gold"},
            "geometry": {"type": "Point", "coordinates": [28.0, -2.0]},
        }
    )
    path = tmp_path / "changed.geojson"
    path.write_text(json.dumps(changed), encoding="utf-8")
    second = import_file(sessions, path)
    assert (second.created("sites"), second.updated("sites"), second.unchanged("sites")) == (
        1,
        2,
        7,
    )
    after = sites(sessions)
    assert len(after) == 10
    assert after["node/9100000001"].id == stored["node/9100000001"].id  # updated in place
    assert after["node/9100000001"].name == "Puits Kalomi renamed (synthetic)"
    assert (after["node/9100000002"].longitude, after["node/9100000002"].latitude) == (
        28.95,
        -1.65,
    )


def test_polygons_are_reduced_to_their_centroid() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[28.0, -2.0], [28.2, -2.0], [28.2, -1.8], [28.0, -1.8], [28.0, -2.0]]],
    }
    assert centroid(square) == pytest.approx((28.1, -1.9))
    # An L-shaped pit: its centroid is not the mean of its corners.
    ell = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2], [0, 0]]],
    }
    assert centroid(ell) == pytest.approx((5 / 6, 5 / 6))
    two = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
            [[[10, 0], [13, 0], [13, 3], [10, 3], [10, 0]]],
        ],
    }
    lon, lat = centroid(two)
    assert lon == pytest.approx((0.5 * 1 + 11.5 * 9) / 10)
    assert lat == pytest.approx((0.5 * 1 + 1.5 * 9) / 10)
    assert centroid({"type": "Point", "coordinates": [28.5, -2.5]}) == (28.5, -2.5)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (None, "no geometry"),
        ({"type": "Point", "coordinates": ["a", "b"]}, r"not a \[longitude, latitude\] pair"),
        ({"type": "Point", "coordinates": [181, 0]}, "out of range"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "fewer than 3 positions"),
        ({"type": "GeometryCollection", "geometries": []}, "is not a point, line or polygon"),
    ],
)
def test_bad_geometries_are_refused_with_a_reason(geometry: object, message: str) -> None:
    with pytest.raises(RowError, match=message):
        centroid(geometry)


def test_a_file_that_is_not_a_feature_collection_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(ImportRefused, match="not JSON"):
        import_file(sessions, broken)
    other = tmp_path / "other.geojson"
    other.write_text('{"type": "Feature"}', encoding="utf-8")
    with pytest.raises(ImportRefused, match="not a GeoJSON FeatureCollection"):
        import_file(sessions, other)
    assert count(sessions) == 0


def test_osm_geojson_is_told_from_ipis_files() -> None:
    assert sites_format(SAMPLE_GEOJSON) == "osm"
    assert sites_format(IPIS_CSV.with_suffix(".geojson")) == "ipis"
    assert sites_format(IPIS_CSV) == "ipis"


def test_import_sites_detects_osm_and_a_dry_run_writes_nothing(
    instance: Instance, tmp_path: Path
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return filon("import-sites", "--instance", str(instance.settings.instance_dir), *args)

    dry = run(str(SAMPLE_GEOJSON), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "DRY RUN: nothing written. dataset osm: 14 row(s) read" in dry.stdout
    assert "sites: 9 would be created" in dry.stdout
    assert "skipped feature 12: node/9100000001 repeats feature 1" in dry.stdout
    assert count(instance.sessions) == 0
    applied = run(str(SAMPLE_GEOJSON), "--dataset", "osm-drc")
    assert applied.returncode == 0, applied.stderr
    assert "sites: 9 created" in applied.stdout
    assert len(sites(instance.sessions, "osm-drc")) == 9
    empty = tmp_path / "empty.geojson"
    empty.write_text("[]", encoding="utf-8")
    refused = run(str(empty))
    assert refused.returncode == 1
    assert "not a GeoJSON FeatureCollection" in refused.stderr
    assert "Traceback" not in refused.stderr
