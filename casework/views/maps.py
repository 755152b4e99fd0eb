"""A desk's map: the page with its filter form, its features as GeoJSON, and its files.

Leaflet, its marker clusters and the basemap's outlines are served from our own origin, each
file by an allowlisted name: a map that loaded a library, a font or a tile from another host
would tell that host who is looking at which part of the world. Only a tile server an admin
configured (``map_tile_url``) is ever asked for anything, and only then does the page's CSP
allow its images.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from casework.forms import LogoutForm
from casework.mapdata import (
    WORLD,
    BBox,
    InvalidMapQuery,
    MapFilters,
    feature_collection,
    site_table,
)
from casework.registers.minerals import MINERALS
from casework.risks import RISK_CATEGORIES
from casework.sessions import ActiveSession
from casework.web import instance, login_required
from filon.db import transaction
from filon.web import CONTENT_SECURITY_POLICY, error_response

bp = Blueprint("maps", __name__)

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_MODULES = ROOT / "node_modules"
BASEMAP = Path(__file__).resolve().parent.parent / "static" / "map" / "basemap"

# Browser files from node_modules, by the one name a page may ask for: exactly these, from the
# versions package-lock.json pins; no directory listing, no path from the request. Leaflet's
# stylesheet asks for its images relative to itself, hence the ``images/`` names.
VENDOR_FILES: dict[str, Path] = {
    "leaflet.js": NODE_MODULES / "leaflet/dist/leaflet.js",
    "leaflet.css": NODE_MODULES / "leaflet/dist/leaflet.css",
    **{
        f"images/{name}": NODE_MODULES / "leaflet/dist/images" / name
        for name in (
            "layers.png",
            "layers-2x.png",
            "marker-icon.png",
            "marker-icon-2x.png",
            "marker-shadow.png",
        )
    },
    "leaflet.markercluster.js": (
        NODE_MODULES / "leaflet.markercluster/dist/leaflet.markercluster.js"
    ),
    "MarkerCluster.css": NODE_MODULES / "leaflet.markercluster/dist/MarkerCluster.css",
    "MarkerCluster.Default.css": (
        NODE_MODULES / "leaflet.markercluster/dist/MarkerCluster.Default.css"
    ),
}

# The offline basemap (Natural Earth, public domain; basemap/PROVENANCE.md), in drawing order.
BASEMAP_FILES: dict[str, Path] = {
    name: BASEMAP / name
    for name in ("land.geojson", "lakes.geojson", "countries.geojson", "provinces.geojson")
}
# The basemap is the same public data for everyone and a few megabytes: browsers may keep it
# for a year. Its URLs carry the file's digest, so a new basemap is a new URL.
BASEMAP_MAX_AGE = 365 * 24 * 3600

MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".geojson": "application/geo+json",
}


def map_csp(tile_origin: str) -> str:
    """The page's CSP: the strict default, plus the images of a configured tile server."""
    if not tile_origin:
        return CONTENT_SECURITY_POLICY
    policy = CONTENT_SECURITY_POLICY.replace("img-src 'self'", f"img-src 'self' {tile_origin}")
    if policy == CONTENT_SECURITY_POLICY:  # pragma: no cover - the default changed shape
        raise RuntimeError("cannot add the tile server to the map page's CSP")
    return policy


@functools.cache
def basemap_version(name: str) -> str:
    """A short digest of a basemap file, for its URL."""
    return hashlib.sha256(BASEMAP_FILES[name].read_bytes()).hexdigest()[:16]


@bp.get("/desks/<slug>/map")
@login_required
def map_page(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """The map of a desk, and the matching sites listed under it (the page without JS)."""
    error, status = "", 200
    try:
        bbox, filters = BBox.parse(request.args.get("bbox")), MapFilters.from_args(request.args)
    except InvalidMapQuery as exc:
        error, status = str(exc), 400
        bbox, filters = WORLD, MapFilters()
    with transaction(instance().sessions) as session:
        table = site_table(session, user=staff.user, slug=slug, bbox=bbox, filters=filters)
    settings = instance().settings
    body = render_template(
        "casework/map.html",
        staff=staff,
        logout_form=LogoutForm(),
        table=table,
        desk=table.desk,
        values=request.args,
        filters=filters,
        bbox=None if bbox == WORLD else bbox,
        error=error,
        minerals=MINERALS,
        risks=RISK_CATEGORIES,
        basemap=[
            url_for("maps.basemap", name=name, v=basemap_version(name)) for name in BASEMAP_FILES
        ],
        tile_url=settings.map_tile_url,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = map_csp(settings.map_tile_origin)
    return response


@bp.get("/desks/<slug>/map/features.geojson")
@login_required
def features(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """The desk map's features in a bounding box, filtered (GeoJSON; errors as JSON 400s)."""
    try:
        bbox, filters = BBox.parse(request.args.get("bbox")), MapFilters.from_args(request.args)
    except InvalidMapQuery as exc:
        return error_response(400, "invalid_query", str(exc))
    with transaction(instance().sessions) as session:
        collection = feature_collection(
            session,
            user=staff.user,
            slug=slug,
            bbox=bbox,
            filters=filters,
            root=request.script_root,
        )
    body = json.dumps(collection, separators=(",", ":"), ensure_ascii=False)
    return Response(body, mimetype="application/geo+json")


# The two routes below serve the same public bytes to everyone, signed in or not, as the
# stylesheet is: they hold nothing of any desk.


@bp.get("/map/vendor/<path:name>")
def vendor(name: str) -> Response:
    """Leaflet or its marker clusters, by allowlisted name."""
    path = VENDOR_FILES.get(name)
    if path is None or not path.is_file():
        abort(404)
    return _send(path)


@bp.get("/map/basemap/<name>")
def basemap(name: str) -> Response:
    """One file of the offline basemap, kept by the browser for a year."""
    path = BASEMAP_FILES.get(name)
    if path is None or not path.is_file():
        abort(404)
    response = _send(path)
    response.headers["Cache-Control"] = f"public, max-age={BASEMAP_MAX_AGE}, immutable"
    return response


def _send(path: Path) -> Response:
    mimetype = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return send_file(path, mimetype=mimetype, conditional=False, max_age=None)


# Endpoints whose answers may be cached (the app marks every other answer no-store).
CACHEABLE_ENDPOINTS = frozenset({"maps.basemap"})
