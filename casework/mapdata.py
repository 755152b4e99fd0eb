"""What a desk's map shows: the features in the visible area, filtered, clustered past a cap.

The map asks for a bounding box and filters and gets a GeoJSON FeatureCollection whose
features each say their ``layer``. Layers are functions in :data:`LAYERS`; this module makes
the **site** layer from the organisation-wide register of mine sites. Geotags and cases
belong to a desk (DESIGN.md §1: desks are compartments), so their layers take the desk the
user is a member of and must show nothing of another desk's.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Integer, String, cast, func, select
from sqlalchemy.orm import Session

from casework import geo
from casework.inbox import member_desk
from casework.models import Case, MineSite
from casework.registers.minerals import BY_CODE, normalise
from casework.risks import RISK_CATEGORIES
from filon.models import Desk, User

# Past this many features in the visible area a layer answers with grid clusters instead:
# a browser draws 5,000 clustered markers smoothly, and the answer stays under a megabyte.
MAX_FEATURES = 5000
# Clusters: the visible area is cut into at most this many cells along its longer side (about
# a thousand cluster markers at most, which a phone's browser still draws smoothly).
GRID_CELLS = 32
GRID_SPAN = 1024  # the cell key's multiplier: more than the cells along any side
# The page without JavaScript lists at most this many matching sites under the map.
TABLE_ROWS = 200

Feature = dict[str, Any]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The armed-presence filter: any site, sites with armed presence seen, sites without.
ARMED: dict[str, bool | None] = {"": None, "yes": True, "no": False}


class InvalidMapQuery(ValueError):
    """A map query parameter is malformed, out of range or names something unknown."""


@dataclass(frozen=True)
class BBox:
    """A visible area in degrees: west and east longitudes, south and north latitudes."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str | None) -> BBox:
        """``"W,S,E,N"`` as the map sends it; the whole world when absent."""
        if text is None or text == "":
            return WORLD
        parts = text.split(",")
        if len(text) > 200 or len(parts) != 4:
            raise InvalidMapQuery("bbox must be four numbers: west,south,east,north")
        try:
            west, south, east, north = (float(part) for part in parts)
        except ValueError as exc:
            raise InvalidMapQuery("bbox must be four numbers: west,south,east,north") from exc
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            raise InvalidMapQuery("bbox must be four finite numbers")
        if not (-180 <= west < east <= 180):
            raise InvalidMapQuery("bbox longitudes must satisfy -180 <= west < east <= 180")
        if not (-90 <= south < north <= 90):
            raise InvalidMapQuery("bbox latitudes must satisfy -90 <= south < north <= 90")
        return cls(west, south, east, north)

    def text(self) -> str:
        """The ``W,S,E,N`` form :meth:`parse` reads."""
        return ",".join(f"{v:.6g}" for v in (self.west, self.south, self.east, self.north))


WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


@dataclass(frozen=True)
class MapFilters:
    """What the map's filter form narrows to; empty fields narrow nothing."""

    mineral: str = ""  # a code of casework.registers.minerals
    risk: str = ""  # an OECD Annex II code (casework.risks): for cases and geotags
    armed: bool | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> MapFilters:
        """Read and check the filter fields of a query string."""
        mineral = risk = ""
        if raw := args.get("mineral", "").strip():
            mineral = normalise(raw) or ""
            if not mineral:
                raise InvalidMapQuery(f"unknown mineral {raw[:40]!r}")
        if raw := args.get("risk", "").strip():
            if raw not in RISK_CATEGORIES:
                raise InvalidMapQuery(f"unknown risk category {raw[:40]!r}")
            risk = raw
        armed = args.get("armed", "").strip()
        if armed not in ARMED:
            raise InvalidMapQuery("armed must be yes, no or empty")
        since, until = _date(args, "since"), _date(args, "until")
        if since and until and since > until:
            raise InvalidMapQuery("since must not be after until")
        return cls(mineral, risk, ARMED[armed], since, until)

    def query_args(self) -> dict[str, str]:
        """The filters as query parameters, empty ones left out."""
        pairs = {
            "mineral": self.mineral,
            "risk": self.risk,
            "armed": next(text for text, value in ARMED.items() if value is self.armed),
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {name: value for name, value in pairs.items() if value}


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidMapQuery(f"{name} must be a date as YYYY-MM-DD") from exc


@dataclass(frozen=True)
class MapQuery:
    """One request of the map: whose desk, which area, which filters, and the links' root."""

    desk: Desk
    bbox: BBox
    filters: MapFilters
    root: str = ""  # the app's URL prefix (request.script_root), for the features' links
    cap: int = MAX_FEATURES

    def site_url(self, site_id: int) -> str:
        """The site's page on this desk (its downstream supply chain)."""
        return f"{self.root}/desks/{self.desk.slug}/sites/{site_id}"

    def map_url(self, bbox: BBox) -> str:
        """This map zoomed to ``bbox``, with the same filters."""
        # bbox.text() is digits, signs, dots and commas: nothing to escape but the commas.
        return f"{self.map_base}?bbox={bbox.text().replace(',', '%2C')}{self.filter_query}"

    @functools.cached_property
    def map_base(self) -> str:
        """The path of this desk's map."""
        return f"{self.root}/desks/{self.desk.slug}/map"

    @functools.cached_property
    def filter_query(self) -> str:
        """The filters as a query string to append (``&...``), or nothing."""
        args = self.filters.query_args()
        return f"&{urlencode(args)}" if args else ""


@dataclass
class LayerPart:
    """What one layer adds: its features, and whether it clustered or cut them."""

    features: list[Feature] = field(default_factory=list)
    truncated: bool = False


# A layer: the features of one kind in the query's area. Layers of desk content (geotags,
# cases) must keep to ``query.desk``.
Layer = Callable[[Session, MapQuery], LayerPart]


def site_conditions(bbox: BBox, filters: MapFilters) -> list[ColumnElement[bool]]:
    """The WHERE clauses for mine sites in ``bbox`` that pass ``filters`` (risk: not sites')."""
    conditions: list[ColumnElement[bool]] = [
        # Latitude first: the (latitude, longitude) index narrows the scan to the band.
        MineSite.latitude.between(bbox.south, bbox.north),
        MineSite.longitude.between(bbox.west, bbox.east),
    ]
    if filters.mineral:
        # The codes are stored as a JSON list; a code is a bare word, so its quoted form
        # matches that element and no other (works alike on SQLite and PostgreSQL).
        conditions.append(cast(MineSite.minerals, String).like(f'%"{filters.mineral}"%'))
    if filters.armed is not None:
        conditions.append(MineSite.armed_presence.is_(filters.armed))
    if filters.since:
        conditions.append(MineSite.last_visit_date >= filters.since)
    if filters.until:
        conditions.append(MineSite.last_visit_date <= filters.until)
    return conditions


def site_layer(session: Session, query: MapQuery) -> LayerPart:
    """Mine sites in the area: each one, or grid clusters when more than the cap."""
    conditions = site_conditions(query.bbox, query.filters)
    # First only the ids, one more than the cap: without filters the index alone answers
    # (each index holds the row id), and past the cap the scan stops there.
    ids = session.scalars(select(MineSite.id).where(*conditions).limit(query.cap + 1)).all()
    if len(ids) > query.cap:
        return LayerPart(site_clusters(session, query, conditions), truncated=True)
    rows = session.execute(
        select(
            MineSite.id,
            MineSite.name,
            MineSite.latitude,
            MineSite.longitude,
            # As JSON text from either database (psycopg would decode it, SQLite would have
            # SQLAlchemy do so), decoded below for the sites shown.
            cast(MineSite.minerals, String).label("minerals"),
            MineSite.armed_presence,
            MineSite.last_visit_date,
        )
        .where(MineSite.id.in_(ids))
        .order_by(MineSite.id)
    ).all()
    features = [
        point(
            row.longitude,
            row.latitude,
            layer="site",
            id=row.id,
            name=row.name,
            url=query.site_url(row.id),
            minerals=json.loads(row.minerals or "[]") or [],
            armed_presence=row.armed_presence,
            last_visit_date=row.last_visit_date.isoformat() if row.last_visit_date else None,
        )
        for row in rows
    ]
    return LayerPart(features)


def grid_level(bbox: BBox) -> int:
    """The grid for an area: cells of 360 / 2**level degrees, at most GRID_CELLS along its
    longer side. Cells are aligned to the world's corner, not the area's, so clusters stay
    put while the map pans at one zoom."""
    span = max(bbox.east - bbox.west, bbox.north - bbox.south)
    return max(0, math.floor(math.log2(360 * GRID_CELLS / span)))


def site_clusters(
    session: Session, query: MapQuery, conditions: list[ColumnElement[bool]]
) -> list[Feature]:
    """The sites counted per cell of a grid over the area, each at its sites' mean position."""
    bbox, level = query.bbox, grid_level(query.bbox)
    size = 360 / 2**level
    first_row = math.floor((bbox.south + 90) / size)
    first_col = math.floor((bbox.west + 180) / size)
    south0, west0 = -90 + first_row * size, -180 + first_col * size
    dialect = session.get_bind().dialect.name
    # One integer key per cell (row * GRID_SPAN + column, counted from the area's first
    # cell): grouping by one value is cheaper than by two, and no two cells share a key.
    key = (
        _cell(MineSite.latitude, south0, size, dialect) * GRID_SPAN
        + _cell(MineSite.longitude, west0, size, dialect)
    ).label("cell")
    cells = session.execute(
        select(
            key,
            func.count().label("count"),
            func.avg(MineSite.latitude).label("latitude"),
            func.avg(MineSite.longitude).label("longitude"),
        )
        .where(*conditions)
        .group_by(key)
    ).all()
    features = []
    for cell in sorted(cells, key=lambda cell: int(cell.cell)):
        row, col = divmod(int(cell.cell), GRID_SPAN)
        south, west = south0 + row * size, west0 + col * size
        area = BBox(
            max(west, bbox.west),
            max(south, bbox.south),
            min(west + size, bbox.east),
            min(south + size, bbox.north),
        )
        features.append(
            point(
                float(cell.longitude),
                float(cell.latitude),
                layer="cluster",
                # Level, row and column on the world's grid: the same cell, the same id.
                id=f"site-{level}-{first_row + row}-{first_col + col}",
                name=f"{cell.count} sites",
                url=query.map_url(area),
                count=cell.count,
            )
        )
    return features


def _cell(column: Any, origin: float, size: float, dialect: str) -> ColumnElement[Any]:
    """The grid cell number of ``column`` (cells of ``size`` from ``origin``), in SQL."""
    offset = (column - origin) / size
    if dialect == "postgresql":
        return func.floor(offset)  # a cast would round half the values up
    # SQLite may lack floor(); the offset is never negative here, so truncation is floor.
    return cast(offset, Integer)


def point(longitude: float, latitude: float, **properties: Any) -> Feature:
    """A GeoJSON point feature."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": properties,
    }


def desk_layer(session: Session, query: MapQuery) -> LayerPart:
    """This desk's geotags in the area, and its cases placed where their geotags are.

    Only ``query.desk``'s geotags (DESIGN.md §1: a desk is a compartment). Mineral and risk
    match the labels of the cases a geotag belongs to, and since/until the day its submission
    arrived; armed presence is the sites' and narrows nothing here. A case is drawn once, at
    the mean position of its geotags in the area.
    """
    bbox = query.bbox
    rows = geo.geotags_in_bbox(
        session,
        [query.desk.id],
        (bbox.west, bbox.south, bbox.east, bbox.north),
        geo.MapFilters(
            mineral=query.filters.mineral or None,
            risk=query.filters.risk or None,
            since=query.filters.since,
            until=query.filters.until,
        ),
        limit=query.cap + 1,
    )
    truncated = len(rows) > query.cap
    rows = rows[: query.cap]
    features = [
        point(
            row.longitude,
            row.latitude,
            layer="geotag",
            id=row.id,
            name=f"Submission {row.reference}",
            url=f"{query.root}/submissions/{row.reference}#geotags",
            precision_m=row.precision_m,
            method=row.method,
            case_ids=list(row.case_ids),
        )
        for row in rows
    ]
    placed: dict[int, list[tuple[float, float]]] = {}
    for row in rows:
        for case_id in row.case_ids:
            placed.setdefault(case_id, []).append((row.longitude, row.latitude))
    if placed:
        cases = session.execute(
            select(Case.id, Case.title)
            .where(Case.id.in_(placed), Case.desk_id == query.desk.id)
            .order_by(Case.id)
        ).all()
        features += [
            point(
                sum(lon for lon, _ in placed[case.id]) / len(placed[case.id]),
                sum(lat for _, lat in placed[case.id]) / len(placed[case.id]),
                layer="case",
                id=case.id,
                name=case.title,
                url=f"{query.root}/cases/{case.id}",
                geotags=len(placed[case.id]),
            )
            for case in cases
        ]
    return LayerPart(features, truncated)


# The layers every map shows, in drawing order.
LAYERS: tuple[Layer, ...] = (site_layer, desk_layer)


def feature_collection(
    session: Session,
    *,
    user: User,
    slug: str,
    bbox: BBox,
    filters: MapFilters,
    root: str = "",
    cap: int = MAX_FEATURES,
    layers: tuple[Layer, ...] = LAYERS,
) -> dict[str, Any]:
    """The GeoJSON the map draws for a desk the user is a member of (NotFound otherwise)."""
    query = MapQuery(member_desk(session, user=user, slug=slug), bbox, filters, root, cap)
    parts = [layer(session, query) for layer in layers]
    return {
        "type": "FeatureCollection",
        "features": [feature for part in parts for feature in part.features],
        "truncated": any(part.truncated for part in parts),
    }


@dataclass(frozen=True)
class SiteRow:
    """A mine site as the map's table lists it."""

    id: int
    name: str
    province: str
    territoire: str
    latitude: float
    longitude: float
    minerals: list[str]
    armed_presence: bool | None
    last_visit_date: dt.date | None

    def mineral_names(self) -> str:
        """The site's minerals by English name."""
        return ", ".join(BY_CODE[c].english if c in BY_CODE else c for c in self.minerals)


@dataclass(frozen=True)
class SiteTable:
    """The matching sites the page lists without JavaScript: the first rows and the total."""

    desk: Desk
    rows: list[SiteRow]
    total: int

    @property
    def more(self) -> int:
        """How many matching sites the table leaves out."""
        return self.total - len(self.rows)


def site_table(
    session: Session,
    *,
    user: User,
    slug: str,
    bbox: BBox,
    filters: MapFilters,
    limit: int = TABLE_ROWS,
) -> SiteTable:
    """The matching sites by name, at most ``limit``, for a desk the user is a member of."""
    desk = member_desk(session, user=user, slug=slug)
    conditions = site_conditions(bbox, filters)
    total = session.scalar(select(func.count()).select_from(MineSite).where(*conditions)) or 0
    sites = session.scalars(
        select(MineSite).where(*conditions).order_by(MineSite.name, MineSite.id).limit(limit)
    )
    rows = [
        SiteRow(
            s.id,
            s.name,
            s.province,
            s.territoire,
            s.latitude,
            s.longitude,
            list(s.minerals or []),
            s.armed_presence,
            s.last_visit_date,
        )
        for s in sites
    ]
    return SiteTable(desk, rows, total)
