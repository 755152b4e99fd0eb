"""Geotags and the mine sites near them: placing, correcting, proposing, and the map's query.

A geotag is an investigator-authored field, stored in plaintext (DESIGN.md §6) so the map
and the proposals can query it. Turning a file's consented location into one copies a
position out of the sealed metadata: the submission page says so before the click.

Nearest sites use the B-tree on ``mine_sites (latitude, longitude)``: a bounding box that
holds the whole circle (its longitude span widened with the latitude, split in two across
the antimeridian, every longitude near a pole), read from the index as (id, lat, lon) only,
then ranked by exact great-circle distance here. Only the few rows kept are loaded whole.

Every write records its audit event on ``audit:<desk>`` in the caller's transaction, with
ids, the method and the names of changed fields, never the position itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import ColumnElement, Subquery, and_, or_, select, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from casework import audit
from casework.cases import open_case
from casework.inbox import member_desk
from casework.models import (
    MAX_GEOTAG_NOTE_CHARS,
    CaseLabel,
    CaseSubmission,
    Geotag,
    GeotagMethod,
    LabelKind,
    MineSite,
)
from crypto.keys import BoxKeyPair
from filon.db import current_hour
from filon.errors import FilonError, NotFound
from filon.models import Desk, Evidence, Submission, User
from filon.submissions import find_submission, open_submission

CREATED = "geotag_created"
CORRECTED = "geotag_corrected"
DELETED = "geotag_deleted"

# The mean Earth radius (IUGG), the sphere every distance here is measured on.
EARTH_RADIUS_KM = 6371.0088
DEFAULT_RADIUS_KM = 25.0
MAX_RADIUS_KM = 500.0
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MIN_PRECISION_M = 1
MAX_PRECISION_M = 100_000
# The sealed metadata keeps a consented GPS position but not its accuracy (the intake reads
# only latitude and longitude from a file), so a consented geotag states this default:
# a phone's fix under open sky is within about 5-20 m, in a pit or under forest cover
# often 30-50 m. 50 m errs on the side of not claiming more than we know.
CONSENTED_PRECISION_M = 50
# A box edge exactly on the circle must not lose a point to rounding: widen it by ~1 cm.
_BOX_MARGIN_DEG = 1e-7
MAX_MAP_ROWS = 5_000


class InvalidGeotag(FilonError):
    """A position, precision, method, note, file or area a geotag cannot take (a 400)."""


# -- positions and distances ------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """A checked position: finite, in range, with a precision from 1 m to 100 km."""

    latitude: float
    longitude: float
    precision_m: int


def parse_number(text: str | float | None, name: str) -> float:
    """A finite number from a form field, or :class:`InvalidGeotag` naming the field."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        cleaned = (text or "").strip().replace(",", ".")  # a French keyboard's decimal comma
        if not cleaned:
            raise InvalidGeotag(f"the {name} is missing")
        try:
            value = float(cleaned)
        except ValueError as exc:
            raise InvalidGeotag(f"the {name} {cleaned[:40]!r} is not a number") from exc
    if not math.isfinite(value):
        raise InvalidGeotag(f"the {name} must be a finite number")
    return value


_NAMES = ("latitude", "longitude", "precision")


def check_position(latitude: float, longitude: float, precision_m: float) -> Position:
    """The values as a :class:`Position`, or :class:`InvalidGeotag` saying what is wrong."""
    for value, name in zip((latitude, longitude, precision_m), _NAMES, strict=True):
        parse_number(value, name)
    if not -90 <= latitude <= 90:
        raise InvalidGeotag(f"the latitude must be from -90 to 90 (got {latitude:g})")
    if not -180 <= longitude <= 180:
        raise InvalidGeotag(f"the longitude must be from -180 to 180 (got {longitude:g})")
    if not MIN_PRECISION_M <= precision_m <= MAX_PRECISION_M:
        raise InvalidGeotag(
            f"the precision must be from {MIN_PRECISION_M} m to {MAX_PRECISION_M // 1000} km"
            f" (got {precision_m:g} m)"
        )
    return Position(float(latitude), float(longitude), round(precision_m))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two positions (haversine, on the mean sphere)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Box:
    """Latitude bounds and one or two longitude ranges that hold a whole circle."""

    south: float
    north: float
    longitudes: tuple[tuple[float, float], ...]


def bounding_box(latitude: float, longitude: float, radius_km: float) -> Box:
    """The smallest latitude/longitude box around a circle on the sphere.

    The longitude half-span is asin(sin(r) / cos(lat)) (J. P. Matuschek, "Finding points
    within a distance of a latitude/longitude using bounding coordinates"); a circle that
    reaches a pole spans every longitude, and one that crosses ±180° becomes two ranges.
    """
    angular = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angular) + _BOX_MARGIN_DEG
    south, north = latitude - dlat, latitude + dlat
    if south <= -90 or north >= 90 or angular >= math.pi / 2:
        return Box(max(south, -90.0), min(north, 90.0), ((-180.0, 180.0),))
    dlon = math.degrees(math.asin(math.sin(angular) / math.cos(math.radians(latitude))))
    dlon += _BOX_MARGIN_DEG
    west, east = longitude - dlon, longitude + dlon
    if west < -180:
        return Box(south, north, ((west + 360, 180.0), (-180.0, east)))
    if east > 180:
        return Box(south, north, ((west, 180.0), (-180.0, east - 360)))
    return Box(south, north, ((west, east),))


def nearest_sites(
    db: Session,
    lat: float,
    lon: float,
    radius_km: float = DEFAULT_RADIUS_KM,
    limit: int = DEFAULT_LIMIT,
) -> list[tuple[MineSite, float]]:
    """The mine sites within ``radius_km`` of a position, nearest first, with their distance.

    Ties are broken by site id, so the answer is the same on every database.
    """
    check_position(lat, lon, MIN_PRECISION_M)
    if not 0 < parse_number(radius_km, "radius") <= MAX_RADIUS_KM:
        raise InvalidGeotag(f"the radius must be above 0 and at most {MAX_RADIUS_KM:g} km")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidGeotag(f"ask for 1 to {MAX_LIMIT} sites")
    # Widen the search in steps: once a smaller circle holds ``limit`` sites, no site
    # outside it can be nearer than those, so in a dense district (hundreds of sites within
    # 25 km) a few dozen index entries answer instead of every one in the full box. An
    # empty step means a sparse area: the whole radius next, saving a round trip.
    for step in _SEARCH_STEPS:
        reach = min(radius_km, radius_km * step)
        ranked = _ranked(db, lat, lon, reach)[:limit]
        if len(ranked) == limit or reach >= radius_km:
            break
        if not ranked:
            ranked = _ranked(db, lat, lon, radius_km)[:limit]
            break
    if not ranked:
        return []
    sites = {
        site.id: site
        for site in db.scalars(select(MineSite).where(MineSite.id.in_([i for _, i in ranked])))
    }
    return [(sites[site_id], distance) for distance, site_id in ranked]


# Fractions of the radius searched in turn (the last is the whole radius).
_SEARCH_STEPS = (1 / 8, 1 / 2, 1.0)


def _ranked(db: Session, lat: float, lon: float, radius_km: float) -> list[tuple[float, int]]:
    """(distance, id) of every site within ``radius_km``, nearest first, ties by id."""
    box = bounding_box(lat, lon, radius_km)
    in_box = select(MineSite.id, MineSite.latitude, MineSite.longitude).where(
        MineSite.latitude.between(box.south, box.north),
        _longitude_in(MineSite.longitude, box.longitudes),
    )
    return sorted(
        (distance, site_id)
        for site_id, site_lat, site_lon in db.execute(in_box)
        if (distance := distance_km(lat, lon, site_lat, site_lon)) <= radius_km
    )


def _longitude_in(
    column: InstrumentedAttribute[float], ranges: Sequence[tuple[float, float]]
) -> ColumnElement[bool]:
    if len(ranges) == 1 and ranges[0] == (-180.0, 180.0):
        return column.between(-180.0, 180.0)
    return or_(*(column.between(west, east) for west, east in ranges))


# -- writing geotags --------------------------------------------------------------------------


def geotag_from_file(
    session: Session,
    *,
    user: User,
    user_key: BoxKeyPair,
    reference: str,
    number: int,
    case_id: int | None = None,
) -> Geotag:
    """Make a ``consented`` geotag from the location a file's source consented to share."""
    opened = open_submission(session, reference=reference, user=user, user_key=user_key)
    reports = opened.document.get("files", [])
    if not 1 <= number <= min(len(opened.evidence), len(reports)):
        raise InvalidGeotag(f"the submission has no file {number}")
    location = reports[number - 1].get("location")
    if not isinstance(location, list) or len(location) != 2:
        raise InvalidGeotag(f"file {number} carries no location its source consented to share")
    position = check_position(
        parse_number(location[0], "latitude"),
        parse_number(location[1], "longitude"),
        CONSENTED_PRECISION_M,
    )
    return _create(
        session,
        user=user,
        desk=opened.desk,
        submission=opened.submission,
        evidence=opened.evidence[number - 1],
        number=number,
        case_id=case_id,
        position=position,
        method=GeotagMethod.CONSENTED,
        note=f"GPS position of file {number}, shared with the source's consent",
    )


def place_geotag(
    session: Session,
    *,
    user: User,
    reference: str,
    position: Position,
    method: GeotagMethod,
    note: str,
    number: int | None = None,
    case_id: int | None = None,
) -> Geotag:
    """Place a geotag by hand (``investigator``) or from the report's text (``text``)."""
    submission, desk = _member_submission(session, user=user, reference=reference)
    evidence = None
    if number is not None:
        files = _files(session, submission)
        if not 1 <= number <= len(files):
            raise InvalidGeotag(f"the submission has no file {number}")
        evidence = files[number - 1]
    return _create(
        session,
        user=user,
        desk=desk,
        submission=submission,
        evidence=evidence,
        number=number,
        case_id=case_id,
        position=position,
        method=_by_hand(method),
        note=note,
    )


def correct_geotag(
    session: Session,
    *,
    user: User,
    geotag_id: int,
    position: Position,
    method: GeotagMethod,
    note: str,
) -> Geotag:
    """Move a geotag or change its precision, method or note; a correction is by hand."""
    geotag, desk, submission = _member_geotag(session, user=user, geotag_id=geotag_id)
    values = {
        "latitude": position.latitude,
        "longitude": position.longitude,
        "precision_m": position.precision_m,
        "method": _by_hand(method),
        "note": _note(note),
    }
    changed = sorted(name for name, value in values.items() if getattr(geotag, name) != value)
    if changed:
        for name in changed:
            setattr(geotag, name, values[name])
        geotag.updated_hour = current_hour()
        _audit(session, desk, user, CORRECTED, geotag, submission, fields=changed)
    return geotag


def delete_geotag(session: Session, *, user: User, geotag_id: int) -> str:
    """Delete a geotag; returns its submission's reference."""
    geotag, desk, submission = _member_geotag(session, user=user, geotag_id=geotag_id)
    _audit(session, desk, user, DELETED, geotag, submission)
    session.delete(geotag)
    return submission.reference


def _create(
    session: Session,
    *,
    user: User,
    desk: Desk,
    submission: Submission,
    evidence: Evidence | None,
    number: int | None,
    case_id: int | None,
    position: Position,
    method: GeotagMethod,
    note: str,
) -> Geotag:
    if case_id is not None:
        case, case_desk = open_case(session, user=user, case_id=case_id)
        if case_desk.id != desk.id:
            raise InvalidGeotag(f"case {case.id} is not on this submission's desk")
    now = current_hour()
    geotag = Geotag(
        desk_id=desk.id,
        submission_id=submission.id,
        evidence_id=evidence.id if evidence is not None else None,
        case_id=case_id,
        latitude=position.latitude,
        longitude=position.longitude,
        precision_m=position.precision_m,
        method=method,
        note=_note(note),
        created_by_id=user.id,
        created_hour=now,
        updated_hour=now,
    )
    session.add(geotag)
    session.flush()
    extra = {"file": number} if number is not None else {}
    _audit(session, desk, user, CREATED, geotag, submission, method=str(method), **extra)
    return geotag


def _audit(
    session: Session,
    desk: Desk,
    user: User,
    action: str,
    geotag: Geotag,
    submission: Submission,
    **details: object,
) -> None:
    # "case" is named as the case module names it, so the case's timeline shows the event.
    placed = {"case": geotag.case_id} if geotag.case_id is not None else {}
    audit.record_audit(
        session,
        desk=desk,
        user=user,
        action=action,
        details={"geotag": geotag.id, "submission": submission.reference, **placed, **details},
    )


def _by_hand(method: GeotagMethod) -> GeotagMethod:
    if method is GeotagMethod.CONSENTED:
        raise InvalidGeotag("only a file's consented location makes a consented geotag")
    return method


def _note(note: str) -> str:
    note = " ".join(note.split())
    if len(note) > MAX_GEOTAG_NOTE_CHARS:
        raise InvalidGeotag(f"a note has at most {MAX_GEOTAG_NOTE_CHARS} characters")
    return note


def _member_submission(session: Session, *, user: User, reference: str) -> tuple[Submission, Desk]:
    submission, desk = find_submission(session, reference)
    try:
        member_desk(session, user=user, slug=desk.slug)
    except NotFound:
        # Said as for a missing one: the user may not know that this desk holds it.
        raise NotFound(f"no submission has the receipt {reference!r}") from None
    return submission, desk


def _member_geotag(
    session: Session, *, user: User, geotag_id: int
) -> tuple[Geotag, Desk, Submission]:
    """A geotag the user may change: on their desk, and not placing a merged (closed) case."""
    geotag = session.get(Geotag, geotag_id)
    if geotag is None:
        raise NotFound(f"no geotag {geotag_id}")
    submission = session.get_one(Submission, geotag.submission_id)
    _, desk = _member_submission(session, user=user, reference=submission.reference)
    if geotag.case_id is not None:
        open_case(session, user=user, case_id=geotag.case_id)  # a tombstone is read-only
    return geotag, desk, submission


def reference_of(session: Session, submission_id: int) -> str:
    """A submission's receipt, as its page's address has it."""
    return session.get_one(Submission, submission_id).reference


def _files(session: Session, submission: Submission) -> list[Evidence]:
    return list(
        session.scalars(
            select(Evidence).where(Evidence.submission_id == submission.id).order_by(Evidence.id)
        )
    )


# -- reading geotags --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PlacedGeotag:
    """A geotag as the submission page shows it, with the mine sites proposed near it."""

    geotag: Geotag
    file_number: int | None
    author: str
    radius_km: float
    sites: list[tuple[MineSite, float]]


def proposal_radius_km(precision_m: int) -> float:
    """How far to look for sites: the default radius, or twice a coarse geotag's precision."""
    return min(MAX_RADIUS_KM, max(DEFAULT_RADIUS_KM, 2 * precision_m / 1000))


def submission_geotags(session: Session, *, submission: Submission) -> list[PlacedGeotag]:
    """A submission's geotags, oldest first, each with its proposed nearest mine sites.

    The caller has already checked that the user may open the submission.
    """
    numbers = {e.id: n for n, e in enumerate(_files(session, submission), start=1)}
    geotags = list(
        session.scalars(
            select(Geotag).where(Geotag.submission_id == submission.id).order_by(Geotag.id)
        )
    )
    author_ids = {g.created_by_id for g in geotags if g.created_by_id is not None}
    authors = dict(
        session.execute(select(User.id, User.username).where(User.id.in_(author_ids))).all()
    )
    placed = []
    for geotag in geotags:
        radius = proposal_radius_km(geotag.precision_m)
        placed.append(
            PlacedGeotag(
                geotag=geotag,
                file_number=numbers.get(geotag.evidence_id or 0),
                author=authors.get(geotag.created_by_id or 0, "former member"),
                radius_km=radius,
                sites=nearest_sites(session, geotag.latitude, geotag.longitude, radius),
            )
        )
    return placed


@dataclass(frozen=True)
class MapFilters:
    """What the map narrows geotags to; every field set must hold (AND).

    ``mineral`` and ``risk`` are matched against the labels of the geotag's case, or, for a
    geotag placing no case, of the cases its submission is attached to. ``since`` and
    ``until`` (inclusive days) bound when the submission was received.
    """

    mineral: str | None = None
    risk: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


class GeotagRow(NamedTuple):
    """One geotag for the map, with what it needs to draw, link and filter it.

    A named tuple rather than a dataclass: a visible area is thousands of these, made fast.
    """

    id: int
    desk_id: int
    reference: str  # the submission: its page is /submissions/<reference>
    case_id: int | None
    latitude: float
    longitude: float
    precision_m: int
    method: str
    note: str
    received_hour: dt.datetime
    case_ids: tuple[int, ...]  # its own case, or its submission's cases
    minerals: tuple[str, ...]
    risks: tuple[str, ...]


def geotags_in_bbox(
    db: Session,
    desk_ids: Iterable[int],
    bbox: tuple[float, float, float, float],
    filters: MapFilters | None = None,
    *,
    limit: int = MAX_MAP_ROWS,
) -> list[GeotagRow]:
    """The geotags of these desks inside ``bbox`` = (west, south, east, north), by id.

    ``desk_ids`` must be the desks the staff member is a member of (DESIGN.md §1): this
    function shows whatever it is given. A west edge east of the east edge means the box
    crosses the antimeridian. At most ``limit`` rows: ask for one more than you draw to know
    whether the area was truncated.
    """
    west, south, east, north = (parse_number(v, "bounding box") for v in bbox)
    if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidGeotag("the bounding box must be west,south,east,north in degrees")
    desks = sorted(set(desk_ids))
    if not desks:
        return []
    filters = filters or MapFilters()
    ranges = ((west, east),) if west <= east else ((west, 180.0), (-180.0, east))
    where = [
        Geotag.desk_id.in_(desks),
        Geotag.latitude.between(south, north),
        _longitude_in(Geotag.longitude, ranges),
        *_filter_clauses(filters),
    ]
    # Columns, not entities: a full visible area is thousands of rows, drawn and dropped.
    found = db.execute(
        select(
            Geotag.id,
            Geotag.desk_id,
            Geotag.case_id,
            Geotag.latitude,
            Geotag.longitude,
            Geotag.precision_m,
            Geotag.method,
            Geotag.note,
            Submission.reference,
            Submission.received_hour,
        )
        .join(Submission, Submission.id == Geotag.submission_id)
        .where(*where)
        .order_by(Geotag.id)
        .limit(limit)
    ).all()
    if not found:
        return []
    # The same rows again as a subquery, so the cases and labels come in two queries whatever
    # their number (thousands of bound ids cost more than the database's own work).
    chosen_ids = select(Geotag.id)
    if filters.since is not None or filters.until is not None:  # else no need of the join
        chosen_ids = chosen_ids.join(Submission, Submission.id == Geotag.submission_id)
    chosen = chosen_ids.where(*where).order_by(Geotag.id).limit(limit).subquery()
    via_submission = db.execute(
        select(Geotag.id, CaseSubmission.case_id)
        .join(CaseSubmission, CaseSubmission.submission_id == Geotag.submission_id)
        .where(Geotag.case_id.is_(None), Geotag.id.in_(select(chosen.c.id)))
        .order_by(CaseSubmission.case_id)
    )
    cases_of: dict[int, list[int]] = {row.id: [row.case_id] for row in found if row.case_id}
    for geotag_id, case_id in via_submission:
        cases_of.setdefault(geotag_id, []).append(case_id)
    labels = _labels(db, chosen)
    empty: tuple[str, ...] = ()
    rows = []
    for row in found:
        case_ids = tuple(cases_of.get(row.id, ()))
        minerals, risks = _union([labels.get(c, (empty, empty)) for c in case_ids])
        rows.append(
            GeotagRow(
                id=row.id,
                desk_id=row.desk_id,
                reference=row.reference,
                case_id=row.case_id,
                latitude=row.latitude,
                longitude=row.longitude,
                precision_m=row.precision_m,
                method=str(row.method),
                note=row.note,
                received_hour=row.received_hour,
                case_ids=case_ids,
                minerals=minerals,
                risks=risks,
            )
        )
    return rows


def _filter_clauses(filters: MapFilters) -> list[ColumnElement[bool]]:
    clauses = []
    for kind, value in ((LabelKind.MINERAL, filters.mineral), (LabelKind.RISK, filters.risk)):
        if value:
            clauses.append(_labelled(kind, value.strip().lower()))
    if filters.since is not None:
        clauses.append(Submission.received_hour >= _midnight(filters.since))
    if filters.until is not None:
        clauses.append(Submission.received_hour < _midnight(filters.until + dt.timedelta(days=1)))
    return clauses


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _labelled(kind: LabelKind, value: str) -> ColumnElement[bool]:
    """The geotag's case, or (placing none) one of its submission's cases, has this label.

    Uncorrelated subqueries: the database finds the labelled cases once, by the labels'
    (kind, value, case) index, instead of probing for every geotag in the area.
    """
    labelled = select(CaseLabel.case_id).where(CaseLabel.kind == kind, CaseLabel.value == value)
    submissions = select(CaseSubmission.submission_id).where(CaseSubmission.case_id.in_(labelled))
    return or_(
        Geotag.case_id.in_(labelled),
        and_(Geotag.case_id.is_(None), Geotag.submission_id.in_(submissions)),
    )


def _labels(db: Session, chosen: Subquery) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The minerals and risks of every case of the chosen geotags, by case id."""
    own = select(Geotag.case_id).where(Geotag.id.in_(select(chosen.c.id)))
    via = (
        select(CaseSubmission.case_id)
        .join(Geotag, Geotag.submission_id == CaseSubmission.submission_id)
        .where(Geotag.case_id.is_(None), Geotag.id.in_(select(chosen.c.id)))
    )
    rows = db.execute(
        select(CaseLabel.case_id, CaseLabel.kind, CaseLabel.value)
        .where(CaseLabel.kind != LabelKind.TAG, CaseLabel.case_id.in_(union(own, via)))
        .order_by(CaseLabel.case_id, CaseLabel.value)
    )
    found: dict[int, tuple[list[str], list[str]]] = {}
    for case_id, kind, value in rows:
        minerals, risks = found.setdefault(case_id, ([], []))
        (minerals if kind is LabelKind.MINERAL else risks).append(value)
    return {case_id: (tuple(m), tuple(r)) for case_id, (m, r) in found.items()}


def _union(
    labels: list[tuple[tuple[str, ...], tuple[str, ...]]],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Minerals and risks of one or more cases, each sorted without repeats."""
    if len(labels) == 1:
        return labels[0]
    return (
        tuple(sorted({v for minerals, _ in labels for v in minerals})),
        tuple(sorted({v for _, risks in labels for v in risks})),
    )
