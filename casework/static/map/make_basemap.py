"""Make the map's offline basemap from Natural Earth 10m shapefiles (public domain).

Run once by hand, not by the app; see ``basemap/PROVENANCE.md`` for the source and the exact
command. Reads ESRI shapefile polylines and polygons with a small reader of its own (the
format is a fixed binary layout), simplifies every line with Douglas–Peucker and writes compact
GeoJSON: coordinates rounded to about 100 m, tiny islands and lakes left out. No third-party
package is needed, so nothing is added to the app's dependencies for a one-off job.

    python casework/static/map/make_basemap.py SHAPEFILE_DIR casework/static/map/basemap
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Point = tuple[float, float]
Ring = list[Point]

POLYLINE, POLYGON = 3, 5
HEADER_BYTES = 100
DIGITS = 3  # about 110 m at the equator: finer than any outline drawn at the zoom levels used


@dataclass(frozen=True)
class Layer:
    """One basemap file: which shapefile, how much to simplify, what to drop, where to keep."""

    name: str
    source: str
    tolerance: float  # degrees, for Douglas–Peucker
    min_area: float = 0.0  # square degrees: smaller rings (islets, ponds) are dropped
    # (west, south, east, north): only parts touching this box are kept; None for the world.
    region: tuple[float, float, float, float] | None = None


# Africa and Europe (and the Middle East between them) get province lines; the world gets
# land, lakes and country borders. Tolerances keep the whole set to a few megabytes.
LAYERS = (
    Layer("land", "ne_10m_land", tolerance=0.025, min_area=0.02),
    Layer("lakes", "ne_10m_lakes", tolerance=0.015, min_area=0.05),
    Layer("countries", "ne_10m_admin_0_boundary_lines_land", tolerance=0.01),
    Layer(
        "provinces",
        "ne_10m_admin_1_states_provinces_lines",
        tolerance=0.015,
        region=(-26.0, -36.0, 64.0, 72.0),
    ),
)


class NotAShapefile(ValueError):
    """The file is not an ESRI shapefile of polylines or polygons."""


def read_shapes(path: Path) -> Iterator[list[Ring]]:
    """Every record of a polyline or polygon shapefile, as its list of parts (rings)."""
    data = path.read_bytes()
    if len(data) < HEADER_BYTES or struct.unpack(">i", data[:4])[0] != 9994:
        raise NotAShapefile(f"{path} is not a shapefile")
    offset = HEADER_BYTES
    while offset + 8 <= len(data):
        _number, words = struct.unpack(">2i", data[offset : offset + 8])
        content = data[offset + 8 : offset + 8 + 2 * words]
        offset += 8 + 2 * words
        (shape_type,) = struct.unpack("<i", content[:4])
        if shape_type == 0:  # a null shape
            continue
        if shape_type not in (POLYLINE, POLYGON):
            raise NotAShapefile(f"{path}: shape type {shape_type} is not a polyline or polygon")
        parts_count, points_count = struct.unpack("<2i", content[36:44])
        parts = list(struct.unpack(f"<{parts_count}i", content[44 : 44 + 4 * parts_count]))
        start = 44 + 4 * parts_count
        flat = struct.unpack(f"<{2 * points_count}d", content[start : start + 16 * points_count])
        points = list(zip(flat[0::2], flat[1::2], strict=True))
        bounds = [*parts, points_count]
        yield [points[bounds[i] : bounds[i + 1]] for i in range(parts_count)]


def simplify(points: Ring, tolerance: float) -> Ring:
    """Douglas–Peucker: the fewest points that stay within ``tolerance`` of the line."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        length_sq = dx * dx + dy * dy
        farthest, index = 0.0, first
        for i in range(first + 1, last):
            px, py = points[i]
            if length_sq == 0.0:
                dist_sq = (px - ax) ** 2 + (py - ay) ** 2
            else:
                cross = dx * (py - ay) - dy * (px - ax)
                dist_sq = cross * cross / length_sq
            if dist_sq > farthest:
                farthest, index = dist_sq, i
        if farthest > tolerance * tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def ring_area(ring: Ring) -> float:
    """The area a ring encloses, in square degrees (shoelace formula)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def touches(ring: Ring, region: tuple[float, float, float, float] | None) -> bool:
    """Whether any point of ``ring`` lies inside ``region`` (always, for the whole world)."""
    if region is None:
        return True
    west, south, east, north = region
    return any(west <= x <= east and south <= y <= north for x, y in ring)


def rounded(ring: Ring) -> list[list[float]]:
    """Coordinates rounded to :data:`DIGITS`, without repeated points."""
    out: list[list[float]] = []
    for x, y in ring:
        point = [round(x, DIGITS), round(y, DIGITS)]
        if not out or out[-1] != point:
            out.append(point)
    return out


def layer_geometry(layer: Layer, shapes: Iterator[list[Ring]]) -> dict[str, object]:
    """One MultiLineString or MultiPolygon holding the layer's simplified parts."""
    polygons = layer.min_area > 0
    parts: list[list[list[float]]] = []
    for rings in shapes:
        for ring in rings:
            if polygons and ring_area(ring) < layer.min_area:
                continue
            if not touches(ring, layer.region):
                continue
            line = rounded(simplify(ring, layer.tolerance))
            if len(line) >= (4 if polygons else 2):
                parts.append(line)
    if polygons:
        # Every ring as its own polygon, drawn with the even-odd rule: holes (an inland
        # lake inside the land) still show, without matching each hole to its shell.
        return {"type": "MultiPolygon", "coordinates": [[ring] for ring in parts]}
    return {"type": "MultiLineString", "coordinates": parts}


def make_layer(layer: Layer, source_dir: Path, out_dir: Path) -> int:
    """Write ``<name>.geojson`` for one layer; the number of bytes written."""
    geometry = layer_geometry(layer, read_shapes(source_dir / f"{layer.source}.shp"))
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"layer": layer.name}, "geometry": geometry}
        ],
    }
    text = json.dumps(collection, separators=(",", ":"))
    path = out_dir / f"{layer.name}.geojson"
    path.write_text(text, encoding="ascii")
    return len(text)


def main(argv: list[str] | None = None) -> int:
    """Make every layer and print its size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source_dir", type=Path, help="folder holding the ne_10m_*.shp files")
    parser.add_argument("out_dir", type=Path, help="where the .geojson files go")
    args = parser.parse_args(argv)
    total = 0
    for layer in LAYERS:
        size = make_layer(layer, args.source_dir, args.out_dir)
        total += size
        print(f"{layer.name}.geojson: {size} bytes")
    print(f"total_bytes={total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
