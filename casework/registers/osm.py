"""Import OpenStreetMap-style GeoJSON mine sites into the registers.

A feature is a mine site when it carries ``landuse=quarry``, ``industrial=mine``,
``man_made=mineshaft`` or ``man_made=adit``; ``resource=*`` (``gold``, ``tin;tantalum``…) gives
its minerals in the vocabulary of :mod:`casework.registers.minerals`. Points are taken as they
are; a way or relation (a polygon, or a closed line) is reduced to its centroid. Sites are keyed
by the dataset (``osm``) and the OSM id (``node/123``, ``way/45``), so a re-import updates them
in place. Every feature left out is reported with its number and the reason.

Both shapes exports take are read: tags flat in ``properties`` with the id in ``@id``
(overpass turbo) or ``id``, or tags nested under ``properties.tags`` with the id on the feature
(osmtogeojson).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import MAX_EXTERNAL_ID_CHARS, MAX_PLACE_CHARS, MAX_TITLE_CHARS, MineSite
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

SAMPLE_GEOJSON = Path(__file__).resolve().parent / "samples" / "osm_sample.geojson"
DATASET = "osm"
MAX_FILE_BYTES = 200 * 1024 * 1024
# The tags that make a feature a mine site, and how the report names them.
MINE_TAGS = {
    ("landuse", "quarry"): "quarry",
    ("industrial", "mine"): "mine",
    ("man_made", "mineshaft"): "mine shaft",
    ("man_made", "adit"): "adit",
}
# OSM ``resource=*`` values the mineral vocabulary does not spell itself.
RESOURCES = {
    "tin": "cassiterite",
    "tantalum": "coltan",
    "niobium": "coltan",  # columbite-tantalite: OSM tags coltan diggings either way
    "tungsten": "wolframite",
    "diamonds": "diamond",
    "gemstones": "",  # too vague to be a mineral of ours: kept as written, with a warning
}
_OSM_ID = re.compile(r"^(node|way|relation)/([0-9]{1,15})$")
_TYPES = {"n": "node", "w": "way", "r": "relation"}


@dataclass(frozen=True)
class OsmSite:
    """One mine feature, ready to write."""

    where: str
    osm_id: str
    name: str
    latitude: float
    longitude: float
    minerals: list[str]
    province: str


# -- reading ----------------------------------------------------------------------------------


def load_features(path: Path) -> list[Any]:
    """The features of a GeoJSON FeatureCollection; :class:`ImportRefused` if it is not one."""
    check_size(path, MAX_FILE_BYTES)
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportRefused(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"{path.name}: not JSON ({exc.msg}, line {exc.lineno})") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ImportRefused(f"{path.name}: not a GeoJSON FeatureCollection")
    return features


def looks_like_osm(features: list[Any]) -> bool:
    """Whether the features are OpenStreetMap's (an OSM id, or OSM mine tags) and not IPIS's."""
    for feature in features[:200]:
        if not isinstance(feature, dict):
            continue
        tags = _tags(feature)
        if "pcode" in tags or "vid" in tags:
            return False
        if _osm_id(feature) is not None or any(tags.get(k) == v for k, v in MINE_TAGS):
            return True
    return False


def _tags(feature: dict[str, Any]) -> dict[str, str]:
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        return {}
    tags = {str(k).strip(): _text(v) for k, v in properties.items() if not isinstance(v, dict)}
    nested = properties.get("tags")
    if isinstance(nested, dict):
        tags.update({str(k).strip(): _text(v) for k, v in nested.items()})
    return tags


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _osm_id(feature: dict[str, Any]) -> str | None:
    """``node/123`` from ``@id``, ``id`` (in the properties or on the feature), or type + id."""
    properties = feature.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    for value in (properties.get("@id"), properties.get("id"), feature.get("id")):
        text = _text(value)
        if _OSM_ID.match(text):
            return text
        if len(text) > 1 and text[0] in _TYPES and text[1:].isdigit():  # "n123", osmium style
            return f"{_TYPES[text[0]]}/{text[1:]}"
    kind = _text(properties.get("type") or properties.get("@type"))
    number = _text(properties.get("id"))
    if kind in {"node", "way", "relation"} and number.isdigit():
        return f"{kind}/{number}"
    return None


# -- geometry ---------------------------------------------------------------------------------


def _position(value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise RowError("a coordinate is not a [longitude, latitude] pair of numbers")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise RowError(f"coordinate [{value[0]}, {value[1]}] is out of range")
    return lon, lat


def _ring_centroid(ring: Any) -> tuple[float, float, float]:
    """Signed-area-weighted centroid of a ring: (area, lon, lat); a degenerate ring's mean."""
    if not isinstance(ring, list) or len(ring) < 3:
        raise RowError("a polygon ring has fewer than 3 positions")
    points = [_position(p) for p in ring]
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-18:
        return 0.0, sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
    return abs(area / 2), cx / (3 * area), cy / (3 * area)


def centroid(geometry: Any) -> tuple[float, float]:
    """(longitude, latitude) of a Point, or the centroid of a (Multi)Polygon or (closed) line."""
    if not isinstance(geometry, dict):
        raise RowError("the feature has no geometry")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Point":
        return _position(coordinates)
    if kind in {"LineString", "MultiPoint"}:
        if not isinstance(coordinates, list) or not coordinates:
            raise RowError(f"the {kind} has no positions")
        points = [_position(p) for p in coordinates]
        return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
    if kind in {"Polygon", "MultiPolygon"}:
        polygons = [coordinates] if kind == "Polygon" else coordinates
        if not isinstance(polygons, list) or not polygons:
            raise RowError(f"the {kind} has no rings")
        parts = []
        for polygon in polygons:
            if not isinstance(polygon, list) or not polygon:
                raise RowError(f"the {kind} has an empty polygon")
            parts.append(_ring_centroid(polygon[0]))  # the outer ring; holes barely move it
        total = sum(p[0] for p in parts)
        if total == 0:
            return sum(p[1] for p in parts) / len(parts), sum(p[2] for p in parts) / len(parts)
        return sum(p[0] * p[1] for p in parts) / total, sum(p[0] * p[2] for p in parts) / total
    raise RowError(f"geometry type {str(kind)[:40]!r} is not a point, line or polygon")


# -- parsing a feature ------------------------------------------------------------------------


def parse_feature(where: str, feature: Any, report: ImportReport) -> OsmSite:
    """Validate one feature; :class:`RowError` says why it is not a mine site we can place."""
    if not isinstance(feature, dict):
        raise RowError("not a GeoJSON feature")
    tags = _tags(feature)
    kinds = [label for (key, value), label in MINE_TAGS.items() if tags.get(key) == value]
    if not kinds:
        raise RowError(
            "not a mine: none of landuse=quarry, industrial=mine, man_made=mineshaft or"
            " man_made=adit"
        )
    osm_id = _osm_id(feature)
    if osm_id is None:
        raise RowError("no OSM id (@id or id such as node/123 or way/45)")
    if len(osm_id) > MAX_EXTERNAL_ID_CHARS:  # pragma: no cover - the pattern bounds it
        raise RowError("the OSM id is too long")
    resources = [r.strip() for r in tags.get("resource", "").split(";") if r.strip()]
    if not resources and kinds == ["quarry"]:
        # A quarry without resource=* is nearly always sand, gravel or building stone.
        raise RowError("a quarry without resource=* (sand, gravel or stone: not a mine site)")
    if not resources:
        report.warn(where, f"{osm_id}: no resource=* tag, imported without minerals")
    minerals: list[str] = []
    for resource in resources:
        code = RESOURCES.get(fold(resource)) or normalise(resource)
        if not code:
            report.warn(where, f"resource {resource[:40]!r} is not a known mineral")
            code = fold(resource)[:64]
        if code not in minerals:
            minerals.append(code)
    longitude, latitude = centroid(feature.get("geometry"))
    name = tags.get("name") or tags.get("name:fr") or tags.get("name:en") or ""
    return OsmSite(
        where=where,
        osm_id=osm_id,
        name=(name or f"{kinds[0].capitalize()} {osm_id}")[:MAX_TITLE_CHARS],
        latitude=round(latitude, 7),
        longitude=round(longitude, 7),
        minerals=minerals,
        province=(tags.get("addr:province") or tags.get("is_in:province") or "")[:MAX_PLACE_CHARS],
    )


# -- applying ---------------------------------------------------------------------------------

_FIELDS = ("name", "latitude", "longitude", "minerals", "province")


def import_features(
    session: Session, features: list[Any], *, dataset: str, source: str, dry_run: bool = False
) -> ImportReport:
    """Import the features into ``session`` (flushed, not committed) and report what changed."""
    report = ImportReport(dataset=dataset, dry_run=dry_run, kinds=("sites",))
    sites: dict[str, OsmSite] = {}
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        report.rows += 1
        try:
            site = parse_feature(where, feature, report)
        except RowError as exc:
            report.skip(where, str(exc))
            continue
        if site.osm_id in sites:
            report.skip(where, f"{site.osm_id} repeats {sites[site.osm_id].where}")
            continue
        sites[site.osm_id] = site
    stored = _existing(session, dataset, sorted(sites))
    hour = current_hour()
    for osm_id, site in sites.items():
        values = {name: getattr(site, name) for name in _FIELDS}
        row = stored.get(osm_id)
        if row is None:
            session.add(
                MineSite(
                    dataset=dataset,
                    external_id=osm_id,
                    source=source[:MAX_TITLE_CHARS],
                    updated_hour=hour,
                    **values,
                )
            )
            report.count("sites", "created")
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.source = source[:MAX_TITLE_CHARS]
            row.updated_hour = hour
            report.count("sites", "updated")
        else:
            report.count("sites", "unchanged")
    session.flush()
    return report


def _existing(session: Session, dataset: str, keys: list[str]) -> dict[str, MineSite]:
    found: dict[str, MineSite] = {}
    for i in range(0, len(keys), 500):
        for site in session.scalars(
            select(MineSite).where(
                MineSite.dataset == dataset, MineSite.external_id.in_(keys[i : i + 500])
            )
        ):
            found[site.external_id] = site
    return found


def import_file(
    sessions: sessionmaker[Session], path: Path, *, dataset: str = DATASET, dry_run: bool = False
) -> ImportReport:
    """Import an OSM GeoJSON file; a dry run rolls everything back and writes nothing."""
    dataset = check_dataset(dataset)
    features = load_features(path)
    with import_session(sessions, dry_run=dry_run) as session:
        return import_features(
            session, features, dataset=dataset, source=path.name, dry_run=dry_run
        )
