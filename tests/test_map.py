"""The desk map: its GeoJSON features, filters, clusters, page, files, CSP and tile setting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections import Counter
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert

from casework.mapdata import (
    GRID_CELLS,
    LAYERS,
    MAX_FEATURES,
    WORLD,
    LayerPart,
    MapFilters,
    MapQuery,
    feature_collection,
    point,
)
from casework.models import MineSite
from casework.views.maps import BASEMAP_FILES, VENDOR_FILES
from filon.accounts import get_user
from filon.db import current_hour, transaction
from filon.errors import SettingsInvalid
from filon.instance import Instance
from filon.settings import Settings
from filon.web import CONTENT_SECURITY_POLICY
from tests.conftest import Staff, StaffAccount, make_account

DESK = "drc-minerals"
FEATURES = f"/desks/{DESK}/map/features.geojson"
PAGE = f"/desks/{DESK}/map"
KIVU = "26.0,-5.0,30.0,0.0"  # west,south,east,north around North and South Kivu
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">Mine'


def add_sites(instance: Instance, *sites: dict[str, Any]) -> list[int]:
    """Mine sites in the register, each from a few fields (the rest made up)."""
    ids = []
    with transaction(instance.sessions) as session:
        for number, fields in enumerate(sites):
            site = MineSite(
                dataset="test",
                external_id=f"site-{number}",
                name=fields.get("name", f"Site {number}"),
                latitude=fields["lat"],
                longitude=fields["lon"],
                minerals=fields.get("minerals", []),
                armed_presence=fields.get("armed"),
                last_visit_date=fields.get("visited"),
                province=fields.get("province", "Sud-Kivu"),
                updated_hour=current_hour(),
            )
            session.add(site)
            session.flush()
            ids.append(site.id)
    return ids


@pytest.fixture
def sites(instance: Instance) -> dict[str, int]:
    """Five sites: three in the Kivus, one in Ituri, one in Katanga; by name, their ids."""
    specs = [
        {
            "name": "Rubaya",
            "lat": -1.55,
            "lon": 28.88,
            "minerals": ["coltan", "cassiterite"],
            "armed": True,
            "visited": dt.date(2023, 5, 4),
        },
        {
            "name": "Nyabibwe",
            "lat": -2.08,
            "lon": 28.93,
            "minerals": ["cassiterite"],
            "armed": False,
            "visited": dt.date(2021, 2, 1),
        },
        {"name": HOSTILE_NAME, "lat": -3.2, "lon": 27.5, "minerals": ["gold"]},
        {"name": "Mongbwalu", "lat": 1.95, "lon": 30.03, "minerals": ["gold"], "armed": True},
        {"name": "Kolwezi", "lat": -10.7, "lon": 25.47, "minerals": ["cobalt", "copper"]},
    ]
    ids = add_sites(instance, *specs)
    return {spec["name"]: site_id for spec, site_id in zip(specs, ids, strict=True)}


@pytest.fixture
def signed_in(staff: Staff) -> FlaskClient:
    """The investigator of the desk, signed in."""
    assert staff.log_in().status_code == 303
    return staff.client


def names(collection: dict[str, Any]) -> list[str]:
    return sorted(f["properties"]["name"] for f in collection["features"])


def get_features(client: FlaskClient, **params: str) -> dict[str, Any]:
    response = client.get(FEATURES, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/geo+json"
    collection: dict[str, Any] = json.loads(response.get_data(as_text=True))
    assert collection["type"] == "FeatureCollection"
    return collection


# -- the features ---------------------------------------------------------------------------------


def test_sites_in_the_box_come_with_the_contracts_properties(
    signed_in: FlaskClient, sites: dict[str, int]
) -> None:
    collection = get_features(signed_in, bbox=KIVU)
    assert collection["truncated"] is False
    assert names(collection) == sorted([HOSTILE_NAME, "Nyabibwe", "Rubaya"])
    rubaya = next(f for f in collection["features"] if f["properties"]["name"] == "Rubaya")
    assert rubaya["geometry"] == {"type": "Point", "coordinates": [28.88, -1.55]}
    assert rubaya["properties"] == {
        "layer": "site",
        "id": sites["Rubaya"],
        "name": "Rubaya",
        "url": f"/desks/{DESK}/sites/{sites['Rubaya']}",
        "minerals": ["coltan", "cassiterite"],
        "armed_presence": True,
        "last_visit_date": "2023-05-04",
    }
    hostile = next(f for f in collection["features"] if f["properties"]["name"] == HOSTILE_NAME)
    assert hostile["properties"]["armed_presence"] is None
    assert hostile["properties"]["last_visit_date"] is None


def test_without_a_box_the_whole_world_is_asked(
    signed_in: FlaskClient, sites: dict[str, int]
) -> None:
    assert len(get_features(signed_in)["features"]) == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"mineral": "cassiterite"}, ["Nyabibwe", "Rubaya"]),
        ({"mineral": "Or"}, [HOSTILE_NAME, "Mongbwalu"]),  # French names fold to the code
        ({"mineral": "gold", "armed": "yes"}, ["Mongbwalu"]),
        ({"armed": "yes"}, ["Mongbwalu", "Rubaya"]),
        ({"armed": "no"}, ["Nyabibwe"]),  # unknown presence is not "no"
        ({"since": "2022-01-01"}, ["Rubaya"]),
        ({"until": "2022-01-01"}, ["Nyabibwe"]),
        ({"since": "2021-02-01", "until": "2023-05-04"}, ["Nyabibwe", "Rubaya"]),
        ({"mineral": "cobalt", "bbox": KIVU}, []),
        # Sites carry no risk category: the filter is for cases and geotags, sites stay.
        ({"risk": "child_labour", "mineral": "cobalt"}, ["Kolwezi"]),
    ],
)
def test_filters_narrow_the_sites(
    signed_in: FlaskClient,
    sites: dict[str, int],
    params: dict[str, str],
    expected: list[str],
) -> None:
    assert names(get_features(signed_in, **params)) == sorted(expected)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bbox": "1,2,3"}, "four numbers"),
        ({"bbox": "a,b,c,d"}, "four numbers"),
        ({"bbox": "1,2,3,4,5"}, "four numbers"),
        ({"bbox": "nan,0,1,1"}, "finite"),
        ({"bbox": "0,0,inf,1"}, "finite"),
        ({"bbox": "30,-5,26,0"}, "west < east"),  # reversed longitudes
        ({"bbox": "26,0,30,-5"}, "south < north"),
        ({"bbox": "-181,0,30,1"}, "west < east"),
        ({"bbox": "0,-91,30,1"}, "south < north"),
        ({"bbox": "1" * 300}, "four numbers"),
        ({"mineral": "kryptonite"}, "unknown mineral"),
        ({"risk": "litter"}, "unknown risk category"),
        ({"armed": "maybe"}, "armed must be"),
        ({"since": "2024-02-30"}, "since must be a date"),
        ({"since": "20240101"}, "since must be a date"),
        ({"until": "yesterday"}, "until must be a date"),
        ({"since": "2024-05-01", "until": "2024-04-01"}, "since must not be after until"),
    ],
)
def test_bad_queries_are_a_400_with_a_message(
    signed_in: FlaskClient, params: dict[str, str], message: str
) -> None:
    response = signed_in.get(FEATURES, query_string=params)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_query"
    assert message in body["message"]


def test_past_the_cap_the_area_comes_as_grid_clusters(
    signed_in: FlaskClient, instance: Instance
) -> None:
    # A dense block near Bukavu and a few far away: more than the cap in all.
    rows = [
        {
            "dataset": "bulk",
            "external_id": str(i),
            "name": f"Bulk {i}",
            "latitude": -2.5 + (i % 100) * 0.01,
            "longitude": 28.5 + (i // 100) * 0.01,
            "minerals": ["gold"] if i % 2 else ["coltan"],
            "updated_hour": current_hour(),
        }
        for i in range(MAX_FEATURES + 50)
    ]
    with transaction(instance.sessions) as session:
        session.execute(insert(MineSite), rows)
    add_sites(instance, {"name": "Far", "lat": -10.7, "lon": 25.47})
    collection = get_features(signed_in, bbox=KIVU)
    assert collection["truncated"] is True
    features = collection["features"]
    assert {f["properties"]["layer"] for f in features} == {"cluster"}
    assert sum(f["properties"]["count"] for f in features) == MAX_FEATURES + 50
    # Each cluster holds exactly the sites of its cell on the world's grid, and sits among them.
    level = math.floor(math.log2(360 * GRID_CELLS / 5.0))  # KIVU's longer side: 5 degrees
    size = 360 / 2**level
    cells = Counter(
        (math.floor((r["latitude"] + 90) / size), math.floor((r["longitude"] + 180) / size))
        for r in rows
    )
    assert len(features) == len(cells)
    for feature in features:
        props = feature["properties"]
        at_level, row, col = (int(n) for n in props["id"].removeprefix("site-").split("-"))
        assert at_level == level
        assert props["count"] == cells[(row, col)]
        assert props["name"] == f"{props['count']} sites"
        assert props["url"].startswith(f"/desks/{DESK}/map?bbox=")
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 + col * size <= lon <= -180 + (col + 1) * size
        assert -90 + row * size <= lat <= -90 + (row + 1) * size
    # Panned a little, the same cells come back with the same ids (the grid is the world's).
    panned = get_features(signed_in, bbox="26.05,-5.05,30.05,-0.05")
    assert {f["properties"]["id"] for f in panned["features"]} == {
        f["properties"]["id"] for f in features
    }
    # A cluster's link is the map of its cell, which answers (and lists the cell's sites).
    cell_page = signed_in.get(features[0]["properties"]["url"])
    assert cell_page.status_code == 200
    assert f"{features[0]['properties']['count']} sites" in cell_page.get_data(as_text=True)
    # A filter that leaves fewer than the cap gives the sites themselves again.
    narrowed = get_features(signed_in, bbox=KIVU, mineral="coltan")
    assert narrowed["truncated"] is False
    assert len(narrowed["features"]) == (MAX_FEATURES + 50) // 2
    assert {f["properties"]["layer"] for f in narrowed["features"]} == {"site"}


def test_the_map_is_for_members_of_the_desk_only(
    casework_client: FlaskClient, instance: Instance, sites: dict[str, int]
) -> None:
    for path in (PAGE, FEATURES):
        response = casework_client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/login")
    outsider = Staff(casework_client, make_account(instance, "outsider", "investigator"))
    assert outsider.log_in().status_code == 303
    for path in (PAGE, FEATURES, "/desks/no-such-desk/map/features.geojson"):
        response = casework_client.get(path)
        assert response.status_code == 404
        assert b"Rubaya" not in response.data


def test_more_layers_join_through_the_hook_with_the_desk_they_may_show(
    instance: Instance, investigator: StaffAccount, sites: dict[str, int]
) -> None:
    seen: list[str] = []

    def geotag_layer(_session: object, query: MapQuery) -> LayerPart:
        # What the geotag layer will do: keep to query.desk, in query.bbox, with its filters.
        seen.append(query.desk.slug)
        assert query.filters.risk == "child_labour"
        tag = point(28.9, -1.6, layer="geotag", id=7, name="Photo", url="/x", precision_m=20)
        return LayerPart([tag], truncated=True)

    with transaction(instance.sessions) as session:
        collection = feature_collection(
            session,
            user=get_user(session, "investigator"),
            slug=DESK,
            bbox=WORLD,
            filters=MapFilters(risk="child_labour"),
            layers=(*LAYERS, geotag_layer),
        )
    assert seen == [DESK]
    layers = [f["properties"]["layer"] for f in collection["features"]]
    assert layers == ["site"] * 5 + ["geotag"]
    assert collection["truncated"] is True


# -- the page -------------------------------------------------------------------------------------


def test_the_page_lists_matching_sites_without_javascript(
    signed_in: FlaskClient, sites: dict[str, int]
) -> None:
    response = signed_in.get(PAGE, query_string={"mineral": "cassiterite", "armed": "yes"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 site." in page
    assert f'href="/desks/{DESK}/sites/{sites["Rubaya"]}">Rubaya</a>' in page
    assert "Nyabibwe" not in page
    assert '<option value="cassiterite" selected>' in page
    assert '<option value="yes" selected>' in page
    # The map's scripts and its data come from here; no inline script.
    assert f'data-features="/desks/{DESK}/map/features.geojson"' in page
    assert '<script src="/map/vendor/leaflet.js">' in page
    assert "<script>" not in page


def test_the_page_lists_only_the_sites_of_the_area_it_shows(
    signed_in: FlaskClient, sites: dict[str, int]
) -> None:
    page = signed_in.get(PAGE, query_string={"bbox": KIVU}).get_data(as_text=True)
    assert "3 sites." in page
    assert "Rubaya" in page
    assert "Kolwezi" not in page
    assert '<input type="hidden" name="bbox" value="26,-5,30,0">' in page
    assert 'data-bbox="26,-5,30,0"' in page


def test_a_hostile_site_name_is_text_on_the_page(
    signed_in: FlaskClient, sites: dict[str, int]
) -> None:
    page = signed_in.get(PAGE).get_data(as_text=True)
    assert "&lt;img src=x onerror=" in page
    assert "<img src=x" not in page


def test_the_page_answers_a_bad_filter_with_a_400_and_says_why(
    signed_in: FlaskClient, sites: dict[str, int]
) -> None:
    response = signed_in.get(PAGE, query_string={"since": "2024-05-01", "until": "2024-01-01"})
    assert response.status_code == 400
    assert "since must not be after until" in response.get_data(as_text=True)


def test_the_inbox_links_to_the_map(signed_in: FlaskClient) -> None:
    assert f'href="{PAGE}">Map</a>' in signed_in.get(f"/desks/{DESK}").get_data(as_text=True)


def test_the_page_keeps_the_strict_csp_without_a_tile_server(signed_in: FlaskClient) -> None:
    response = signed_in.get(PAGE)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert 'data-tiles=""' in response.get_data(as_text=True)


def test_a_configured_tile_server_is_allowed_its_images_only(
    signed_in: FlaskClient, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://tiles.example.org/osm/{z}/{x}/{y}.png"
    monkeypatch.setattr(
        instance, "settings", dataclasses.replace(instance.settings, map_tile_url=url)
    )
    response = signed_in.get(PAGE)
    csp = response.headers["Content-Security-Policy"]
    assert "img-src 'self' https://tiles.example.org blob: data:;" in csp
    assert csp.replace(" https://tiles.example.org", "") == CONTENT_SECURITY_POLICY
    assert f'data-tiles="{url}"' in response.get_data(as_text=True)
    # Every other page keeps the default.
    other = signed_in.get(f"/desks/{DESK}")
    assert other.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


# -- the tile setting -----------------------------------------------------------------------------


def test_the_tile_url_loads_from_the_file_and_the_environment(instance: Instance) -> None:
    settings = instance.settings
    assert settings.map_tile_url == ""
    assert settings.map_tile_origin == ""
    url = "https://tiles.example.org:8443/{z}/{x}/{y}.png"
    with_tiles = dataclasses.replace(settings, map_tile_url=url)
    path = settings.instance_dir / "filon.toml"
    path.write_text(with_tiles.to_toml(), encoding="utf-8")
    again = Settings.load(settings.instance_dir, environ={})
    assert again.map_tile_url == url
    assert again.map_tile_origin == "https://tiles.example.org:8443"
    other = "https://maps.example.net/{z}/{y}/{x}"
    env = {"FILON_MAP_TILE_URL": other}
    assert Settings.load(settings.instance_dir, environ=env).map_tile_url == other


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://tiles.example.org/{z}/{x}/{y}.png", "https://"),
        ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", "fixed host"),
        ("https:///{z}/{x}/{y}", "fixed host"),
        ("https://tiles.example.org/{z}/{x}.png", "{y}"),
        ("https://tiles.example.org/{z}/{x}/{y}.png'; script-src *", "characters"),
        ('https://tiles.example.org/{z}/{x}/{y}.png" onload="x', "characters"),
        ("https://user:pw@tiles.example.org/{z}/{x}/{y}", "user name"),
        ("https://[::1/{z}/{x}/{y}", "not a URL"),
        ("javascript:alert(1)//{z}{x}{y}", "https://"),
    ],
)
def test_a_bad_tile_url_is_refused_at_start(instance: Instance, url: str, message: str) -> None:
    with pytest.raises(SettingsInvalid, match="map_tile_url") as refused:
        dataclasses.replace(instance.settings, map_tile_url=url)
    assert message in str(refused.value)


# -- the files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mimetype"),
    [
        ("leaflet.js", "text/javascript"),
        ("leaflet.css", "text/css"),
        ("images/layers.png", "image/png"),
        ("images/marker-icon-2x.png", "image/png"),
        ("leaflet.markercluster.js", "text/javascript"),
        ("MarkerCluster.css", "text/css"),
        ("MarkerCluster.Default.css", "text/css"),
    ],
)
def test_the_libraries_are_served_by_allowlisted_name(
    casework_client: FlaskClient, name: str, mimetype: str
) -> None:
    with casework_client.get(f"/map/vendor/{name}") as response:
        response.get_data()
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.data == VENDOR_FILES[name].read_bytes()
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_leaflet_is_the_pinned_version(casework_client: FlaskClient) -> None:
    with casework_client.get("/map/vendor/leaflet.js") as response:
        assert b"Leaflet 1.9.4" in response.get_data()


@pytest.mark.parametrize(
    "path",
    [
        "/map/vendor/leaflet-src.js",
        "/map/vendor/../package.json",
        "/map/vendor/..%2Fpackage.json",
        "/map/vendor/images/../leaflet.js",
        "/map/vendor/leaflet/dist/leaflet.js",
        "/map/vendor/",
        "/map/basemap/PROVENANCE.md",
        "/map/basemap/..%2Fmake_basemap.py",
        "/map/basemap/ocean.geojson",
    ],
)
def test_nothing_else_is_served(casework_client: FlaskClient, path: str) -> None:
    with casework_client.get(path) as response:
        assert response.status_code == 404


def test_the_basemap_is_geojson_kept_for_a_year(casework_client: FlaskClient) -> None:
    total = 0
    for name, path in BASEMAP_FILES.items():
        with casework_client.get(f"/map/basemap/{name}") as response:
            response.get_data()
        assert response.status_code == 200
        assert response.mimetype == "application/geo+json"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.data == path.read_bytes()
        total += len(response.data)
        data = json.loads(response.data)
        assert data["type"] == "FeatureCollection"
        assert data["features"][0]["geometry"]["type"] in {"MultiPolygon", "MultiLineString"}
    assert total < 4 * 1024 * 1024  # a few megabytes at most, measured in PROVENANCE.md


def test_the_basemap_outlines_the_congo_and_its_provinces() -> None:
    def points_in(name: str, west: float, south: float, east: float, north: float) -> int:
        data = json.loads(BASEMAP_FILES[f"{name}.geojson"].read_bytes())
        geometry = data["features"][0]["geometry"]
        lines = geometry["coordinates"]
        if geometry["type"] == "MultiPolygon":
            lines = [ring for polygon in lines for ring in polygon]
        return sum(
            1 for line in lines for x, y in line if west <= x <= east and south <= y <= north
        )

    # The Kivus: Lake Kivu, the Congo–Rwanda border, the provincial lines between them.
    assert points_in("lakes", 28.8, -2.6, 29.5, -1.6) > 20
    assert points_in("countries", 28.8, -2.9, 29.6, -1.0) > 20
    assert points_in("provinces", 26.0, -5.0, 30.0, 0.0) > 50
    assert points_in("land", 11.0, -7.0, 13.5, -4.5) > 5  # the Congo's Atlantic coast
