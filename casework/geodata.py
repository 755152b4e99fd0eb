"""Places and supply chains as data: GeoJSON of sites and geotags, CSV and dicts of chain links.

One serializer for the desk and case exports (``casework.views.exports``) and the dossier's
``data/`` folder and manifest lists (DESIGN.md §8), so the three never drift apart. Output is
canonical: features and rows sorted by id, JSON with sorted keys, CSV with CRLF line ends.

Which rows a scope holds is decided here, and only from one desk's rows plus the shared
register (DESIGN.md §1: desks are compartments): a desk's chain links, evidence links and
geotags are never read for another desk, not even to decide what else to include.

- **desk**: its geotags; its own chain links, the links its evidence supports, and the shared
  links that touch a site or actor its evidence documents or its own links use; the sites and
  actors those links and its evidence links name.
- **case**: the geotags placing the case, its submissions or its files; the chain links its
  files (or the case itself) support; the sites and actors those links and its files' evidence
  links name.

Geotags are investigator-authored but some copy a source's consented position: an export
rounds their coordinates to the decimal places it is asked for, and widens the stated
precision by what the rounding moved them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CompoundSelect, and_, or_, select, union
from sqlalchemy.orm import Session

from casework import audit
from casework.cases import member_case, merged_into
from casework.chains import visible_links
from casework.geo import EARTH_RADIUS_KM
from casework.inbox import member_desk
from casework.models import (
    Actor,
    CaseEvidence,
    CaseMerge,
    CaseSubmission,
    ChainLink,
    EvidenceLink,
    Geotag,
    MineSite,
)
from filon.errors import FilonError, NotFound
from filon.models import Desk, Evidence, Submission, User

MAX_DECIMALS = 6  # about 10 cm: more than any phone knows (the dossier's own bound)
# Cells a spreadsheet would read as a formula (OWASP "CSV injection"): a leading quote makes
# them text. Tab and CR are in the list because some spreadsheets strip them and then read on.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHAIN_LINK_COLUMNS = (
    "id",
    "from_kind",
    "from_id",
    "from_name",
    "to_id",
    "to_name",
    "mineral",
    "period_start",
    "period_end",
    "shared",
    "evidence",
)
# One degree of latitude on the mean sphere, in metres (geo.distance_km's sphere).
_METRES_PER_DEGREE = math.pi * EARTH_RADIUS_KM * 1000 / 180


_Row = TypeVar("_Row", MineSite, Actor, ChainLink)


class InvalidPrecision(ValueError):
    """The decimal places asked for a geotag export are not 0 to 6 (the view answers 400)."""


# -- scopes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The ids of what one export holds (sets, so the order is the serializer's)."""

    geotags: frozenset[int]
    chain_links: frozenset[int]
    sites: frozenset[int]
    actors: frozenset[int]


def desk_scope(session: Session, *, desk_id: int, links: bool = True) -> Scope:
    """What a desk's export holds; the caller has checked the user is a member.

    ``links`` False: the geotags alone, for the one file that needs nothing else.
    """
    geotags = session.scalars(select(Geotag.id).where(Geotag.desk_id == desk_id))
    if not links:
        return _scope(geotags, [], set(), set())
    evidence = _evidence_links(session, EvidenceLink.desk_id == desk_id)
    own = _links(session, ChainLink.desk_id == desk_id)
    sites = set(evidence.sites) | {link.from_site_id for link in own if link.from_site_id}
    actors = set(evidence.actors) | _actor_ends(own)
    # The same sets again as subqueries: a desk may name more sites than a query can bind.
    of_desk = EvidenceLink.desk_id == desk_id
    own_links = ChainLink.desk_id == desk_id
    named_sites = union(
        select(EvidenceLink.site_id).where(of_desk, EvidenceLink.site_id.is_not(None)),
        select(ChainLink.from_site_id).where(own_links, ChainLink.from_site_id.is_not(None)),
    )
    named_actors: CompoundSelect = union(
        select(EvidenceLink.actor_id).where(of_desk, EvidenceLink.actor_id.is_not(None)),
        select(ChainLink.from_actor_id).where(own_links, ChainLink.from_actor_id.is_not(None)),
        select(ChainLink.to_actor_id).where(own_links),
    )
    touching = _links(
        session,
        ChainLink.desk_id.is_(None),
        or_(
            ChainLink.from_site_id.in_(named_sites),
            ChainLink.from_actor_id.in_(named_actors),
            ChainLink.to_actor_id.in_(named_actors),
        ),
    )
    supported = _links(
        session,
        ChainLink.id.in_(select(EvidenceLink.chain_link_id).where(of_desk)),
        visible_links([desk_id]),
    )
    found = {link.id: link for link in [*own, *touching, *supported]}
    return _scope(geotags, found.values(), sites, actors)


def case_scope(
    session: Session,
    *,
    desk_id: int,
    case_id: int,
    evidence_ids: Collection[int],
    left_out: Collection[int] = (),
) -> Scope:
    """What a case's export holds, from the case and ``evidence_ids`` (its chosen files).

    A geotag of a file in ``left_out`` (a dossier's files not chosen) stays out with it, even
    one that places the case. Cases merged into this one count as this one: their evidence
    links still name them.
    """
    cases = [case_id, *_merged_into(session, case_id)]
    files = sorted(evidence_ids)
    submissions = select(CaseSubmission.submission_id).where(CaseSubmission.case_id == case_id)
    chosen_submissions = select(Evidence.submission_id).where(Evidence.id.in_(files))
    geotags = session.scalars(
        select(Geotag.id).where(
            Geotag.desk_id == desk_id,
            or_(
                Geotag.case_id.in_(cases),
                Geotag.evidence_id.in_(files),
                # A geotag of the whole submission; one of a file left out stays out.
                and_(
                    Geotag.evidence_id.is_(None),
                    or_(
                        Geotag.submission_id.in_(submissions),
                        Geotag.submission_id.in_(chosen_submissions),
                    ),
                ),
            ),
            or_(Geotag.evidence_id.is_(None), Geotag.evidence_id.not_in(sorted(left_out))),
        )
    )
    evidence = _evidence_links(
        session,
        EvidenceLink.desk_id == desk_id,
        or_(EvidenceLink.evidence_id.in_(files), EvidenceLink.case_id.in_(cases)),
    )
    links = [
        link
        for link in _by_ids(session, ChainLink, evidence.chain_links)
        if link.desk_id is None or link.desk_id == desk_id  # chains.visible_links
    ]
    return _scope(geotags, links, set(evidence.sites), set(evidence.actors))


@dataclass(frozen=True)
class _Targets:
    chain_links: frozenset[int]
    sites: frozenset[int]
    actors: frozenset[int]


def _evidence_links(session: Session, *where: ColumnElement[bool]) -> _Targets:
    rows = session.execute(
        select(EvidenceLink.chain_link_id, EvidenceLink.site_id, EvidenceLink.actor_id).where(
            *where
        )
    ).all()
    return _Targets(
        frozenset(r.chain_link_id for r in rows if r.chain_link_id is not None),
        frozenset(r.site_id for r in rows if r.site_id is not None),
        frozenset(r.actor_id for r in rows if r.actor_id is not None),
    )


def _links(session: Session, *where: ColumnElement[bool]) -> list[ChainLink]:
    return list(session.scalars(select(ChainLink).where(*where).order_by(ChainLink.id)))


def _actor_ends(links: Iterable[ChainLink]) -> set[int]:
    ends: set[int] = set()
    for link in links:
        ends.add(link.to_actor_id)
        if link.from_actor_id is not None:
            ends.add(link.from_actor_id)
    return ends


def _merged_into(session: Session, case_id: int) -> list[int]:
    return list(
        session.scalars(select(CaseMerge.merged_case_id).where(CaseMerge.into_case_id == case_id))
    )


def _scope(
    geotags: Iterable[int], links: Iterable[ChainLink], sites: set[int], actors: set[int]
) -> Scope:
    links = list(links)
    return Scope(
        geotags=frozenset(geotags),
        chain_links=frozenset(link.id for link in links),
        sites=frozenset(sites | {link.from_site_id for link in links if link.from_site_id}),
        actors=frozenset(actors | _actor_ends(links)),
    )


# -- records ----------------------------------------------------------------------------------


def site_feature(site: MineSite) -> dict[str, Any]:
    """A mine site as a GeoJSON Feature (register data: its coordinates as recorded)."""
    return _feature(
        site.longitude,
        site.latitude,
        {
            "id": site.id,
            "dataset": site.dataset,
            "external_id": site.external_id,
            "name": site.name,
            "minerals": list(site.minerals or []),
            "province": site.province,
            "territoire": site.territoire,
            "village": site.village,
            "last_visit_date": _day(site.last_visit_date),
            "workers": site.workers,
            "armed_presence": site.armed_presence,
            "itsci": site.itsci,
            "qualification": site.qualification,
            "source": site.source,
        },
    )


def actor_record(actor: Actor) -> dict[str, Any]:
    """An actor as a plain dict."""
    return {
        "id": actor.id,
        "kind": str(actor.kind),
        "name": actor.name,
        "country": actor.country,
        "dataset": actor.dataset,
        "external_id": actor.external_id,
        "minerals": list(actor.minerals or []),
        "status": actor.status,
    }


@dataclass(frozen=True)
class PlacedRow:
    """A geotag with what names it outside the database: its receipt and file number."""

    geotag: Geotag
    reference: str
    file_number: int | None


def geotag_feature(row: PlacedRow, *, decimals: int) -> dict[str, Any]:
    """A geotag as a GeoJSON Feature, its position rounded to ``decimals`` places.

    The stated precision grows by the most the rounding can move a point (half a step on
    each axis), so a coarsened position never claims more than it still knows.
    """
    geotag = row.geotag
    check_decimals(decimals)
    moved = rounding_error_m(decimals)
    return _feature(
        round(geotag.longitude, decimals),
        round(geotag.latitude, decimals),
        {
            "id": geotag.id,
            "submission": row.reference,
            "file": row.file_number,
            "case": geotag.case_id,
            "precision_m": max(geotag.precision_m, moved),
            "method": str(geotag.method),
            "note": geotag.note,
            "created_hour": geotag.created_hour.strftime("%Y-%m-%dT%H:00Z"),
        },
    )


def check_decimals(decimals: int) -> int:
    """``decimals`` if it is 0 to 6, else :class:`InvalidPrecision`."""
    if not 0 <= decimals <= MAX_DECIMALS:
        raise InvalidPrecision(f"the precision is 0 to {MAX_DECIMALS} decimal places")
    return decimals


def rounding_error_m(decimals: int) -> int:
    """The most rounding to ``decimals`` places moves a point, in whole metres (rounded up)."""
    half_step = 0.5 * 10.0**-decimals * _METRES_PER_DEGREE
    return math.ceil(half_step * math.sqrt(2))


@dataclass(frozen=True)
class LinkRow:
    """A chain link with its ends' names and the evidence that supports it in this export."""

    link: ChainLink
    from_name: str
    to_name: str
    evidence: int | tuple[str, ...]  # a count (desk and case exports) or dossier paths


def chain_link_record(row: LinkRow) -> dict[str, Any]:
    """A chain link as a plain dict."""
    link = row.link
    from_site = link.from_site_id is not None
    return {
        "id": link.id,
        "from_kind": "site" if from_site else "actor",
        "from_id": link.from_site_id if from_site else link.from_actor_id,
        "from_name": row.from_name,
        "to_id": link.to_actor_id,
        "to_name": row.to_name,
        "mineral": link.mineral,
        "period_start": _day(link.period_start),
        "period_end": _day(link.period_end),
        "shared": link.desk_id is None,
        "evidence": list(row.evidence) if isinstance(row.evidence, tuple) else row.evidence,
    }


def chain_link_cells(record: Mapping[str, Any]) -> list[str]:
    """A chain link record as the CSV's cells, each safe to open in a spreadsheet."""
    cells = []
    for column in CHAIN_LINK_COLUMNS:
        value = record[column]
        if isinstance(value, list):
            text = "; ".join(value)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = "" if value is None else str(value)
        cells.append(safe_cell(text))
    return cells


def safe_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading quote before a formula's first sign."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# -- the data of one scope --------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceData:
    """Everything one export writes, as records sorted by id."""

    sites: list[dict[str, Any]]
    geotags: list[dict[str, Any]]
    actors: list[dict[str, Any]]
    chain_links: list[dict[str, Any]]

    def sites_geojson(self) -> bytes:
        """``sites.geojson``."""
        return feature_collection(self.sites)

    def geotags_geojson(self) -> bytes:
        """``geotags.geojson``."""
        return feature_collection(self.geotags)

    def chain_links_csv(self) -> bytes:
        """``chain_links.csv`` (RFC 4180: a header row, CRLF line ends, UTF-8)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CHAIN_LINK_COLUMNS)
        for record in self.chain_links:
            writer.writerow(chain_link_cells(record))
        return out.getvalue().encode("utf-8")

    def manifest_lists(self) -> dict[str, list[dict[str, Any]]]:
        """The manifest's four lists (DESIGN.md §8): places as flat dicts with coordinates."""
        return {
            "mine_sites": [_flat(f) for f in self.sites],
            "actors": list(self.actors),
            "chain_links": list(self.chain_links),
            "geotags": [_flat(f) for f in self.geotags],
        }


PARTS = frozenset({"sites", "geotags", "actors", "chain_links"})


def place_data(
    session: Session,
    scope: Scope,
    *,
    decimals: int | None,
    evidence_of: EvidenceOf,
    parts: Collection[str] = PARTS,
) -> PlaceData:
    """Read and serialize a scope's ``parts``; ``decimals`` None leaves every geotag out."""
    sites = _by_ids(session, MineSite, scope.sites) if "sites" in parts else []
    actors = _by_ids(session, Actor, scope.actors) if "actors" in parts else []
    links = _by_ids(session, ChainLink, scope.chain_links) if "chain_links" in parts else []
    evidence = evidence_of.for_links(session, [link.id for link in links])
    site_names = _names(session, MineSite, {link.from_site_id or 0 for link in links})
    actor_names = _names(session, Actor, _actor_ends(links))
    wanted = decimals is not None and "geotags" in parts
    geotags = _geotag_rows(session, scope.geotags) if wanted else []
    return PlaceData(
        sites=[site_feature(s) for s in sites],
        geotags=[geotag_feature(g, decimals=decimals) for g in geotags if decimals is not None],
        actors=[actor_record(a) for a in actors],
        chain_links=[
            chain_link_record(
                LinkRow(
                    link,
                    site_names[link.from_site_id]
                    if link.from_site_id is not None
                    else actor_names[link.from_actor_id or 0],
                    actor_names[link.to_actor_id],
                    evidence[link.id],
                )
            )
            for link in links
        ],
    )


class EvidenceOf:
    """What an export says supports a chain link: a count of files, or the dossier's paths."""

    def __init__(
        self,
        *,
        desk_id: int,
        evidence_ids: Collection[int] | None = None,
        case_ids: Collection[int] = (),
        paths: Mapping[int, str] | None = None,
    ) -> None:
        self.desk_id = desk_id
        self.evidence_ids = None if evidence_ids is None else sorted(evidence_ids)
        self.case_ids = sorted(case_ids)
        self.paths = paths

    def for_links(
        self, session: Session, chain_link_ids: list[int]
    ) -> dict[int, int | tuple[str, ...]]:
        """The count (or the paths) of this export's evidence supporting each link."""
        found: dict[int, list[tuple[int | None, int | None]]] = {i: [] for i in chain_link_ids}
        for chunk in _chunks(chain_link_ids):
            where = [EvidenceLink.chain_link_id.in_(chunk), EvidenceLink.desk_id == self.desk_id]
            if self.evidence_ids is not None:
                where.append(
                    or_(
                        EvidenceLink.evidence_id.in_(self.evidence_ids),
                        EvidenceLink.case_id.in_(self.case_ids),
                    )
                )
            rows = session.execute(
                select(EvidenceLink.chain_link_id, EvidenceLink.evidence_id, EvidenceLink.case_id)
                .where(*where)
                .order_by(EvidenceLink.id)
            )
            for link_id, evidence_id, case_id in rows:
                if link_id is not None:  # always (the IN above): said for the type checker
                    found[link_id].append((evidence_id, case_id))
        return {link_id: self._said(pairs) for link_id, pairs in found.items()}

    def _said(self, pairs: list[tuple[int | None, int | None]]) -> int | tuple[str, ...]:
        if self.paths is None:
            return len(pairs)
        said = {
            self.paths[evidence_id] if evidence_id is not None else f"case {case_id}"
            for evidence_id, case_id in pairs
            if evidence_id is None or evidence_id in self.paths
        }
        return tuple(sorted(said))


def case_evidence_ids(session: Session, case_id: int) -> list[int]:
    """Every file of a case: its submissions' files and the files linked to it."""
    attached = select(Evidence.id).join(
        CaseSubmission, CaseSubmission.submission_id == Evidence.submission_id
    )
    linked = select(CaseEvidence.evidence_id).where(CaseEvidence.case_id == case_id)
    return sorted(
        set(session.scalars(attached.where(CaseSubmission.case_id == case_id)))
        | set(session.scalars(linked))
    )


def case_ids(session: Session, case_id: int) -> list[int]:
    """A case and the cases merged into it."""
    return [case_id, *_merged_into(session, case_id)]


# Ids bound in one query: SQLite allows 32,766 parameters, and long lists plan slowly.
CHUNK = 5000


def _chunks(ids: Collection[int]) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def _by_ids(session: Session, model: type[_Row], ids: Collection[int]) -> list[_Row]:
    """The rows with these ids, by id, a chunk of ids per query."""
    found = [
        row
        for chunk in _chunks(ids)
        for row in session.scalars(select(model).where(model.id.in_(chunk)))
    ]
    return sorted(found, key=lambda row: row.id)


def _names(
    session: Session, model: type[MineSite] | type[Actor], ids: Collection[int]
) -> dict[int, str]:
    """The names of these rows by id (only the two columns read)."""
    return {
        row_id: name
        for chunk in _chunks(ids)
        for row_id, name in session.execute(
            select(model.id, model.name).where(model.id.in_(chunk))
        ).all()
    }


def _geotag_rows(session: Session, ids: Collection[int]) -> list[PlacedRow]:
    found = [
        row
        for chunk in _chunks(ids)
        for row in session.execute(
            select(Geotag, Submission.reference)
            .join(Submission, Submission.id == Geotag.submission_id)
            .where(Geotag.id.in_(chunk))
        ).all()
    ]
    found.sort(key=lambda row: row[0].id)
    numbers: dict[int, int] = {}
    counter: dict[int, int] = {}
    for chunk in _chunks({geotag.submission_id for geotag, _ in found}):
        files = session.execute(
            select(Evidence.id, Evidence.submission_id)
            .where(Evidence.submission_id.in_(chunk))
            .order_by(Evidence.submission_id, Evidence.id)
        )
        for evidence_id, submission_id in files:
            counter[submission_id] = counter.get(submission_id, 0) + 1
            numbers[evidence_id] = counter[submission_id]
    return [
        PlacedRow(geotag, reference, numbers.get(geotag.evidence_id or 0))
        for geotag, reference in found
    ]


def feature_collection(features: list[dict[str, Any]]) -> bytes:
    """A GeoJSON FeatureCollection as canonical UTF-8 JSON with a final newline."""
    body = {"type": "FeatureCollection", "features": features}
    return (
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    ).encode("utf-8")


def _feature(longitude: float, latitude: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": properties["id"],
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": properties,
    }


def _flat(feature: Mapping[str, Any]) -> dict[str, Any]:
    longitude, latitude = feature["geometry"]["coordinates"]
    return {**feature["properties"], "latitude": latitude, "longitude": longitude}


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# -- the desk and case exports ----------------------------------------------------------------

EXPORTED = "register_exported"
GEOJSON = "application/geo+json"
CSV = "text/csv; charset=utf-8"
# The files an export offers, by the name in its address.
FILES = {"sites.geojson": GEOJSON, "geotags.geojson": GEOJSON, "chain-links.csv": CSV}
FILE_PARTS = {
    "sites.geojson": "sites",
    "geotags.geojson": "geotags",
    "chain-links.csv": "chain_links",
}


class CaseMerged(FilonError):
    """A merged case's places and links are its target's now (the view redirects there)."""

    def __init__(self, into: int) -> None:
        super().__init__(f"the case was merged into case {into}")
        self.into = into


@dataclass(frozen=True)
class Export:
    """One exported file: a name safe for any disk, its media type and its bytes."""

    filename: str
    media_type: str
    body: bytes


def desk_export(session: Session, *, user: User, slug: str, name: str, decimals: int) -> Export:
    """A desk's sites, geotags or chain links, for a member (else NotFound); audited."""
    desk = member_desk(session, user=user, slug=slug)
    part = FILE_PARTS.get(name, "")
    data = place_data(
        session,
        desk_scope(session, desk_id=desk.id, links=part != "geotags"),
        decimals=check_decimals(decimals),
        evidence_of=EvidenceOf(desk_id=desk.id),
        parts={part},
    )
    filename = f"{desk.slug}-{name}"
    return _export(session, user, desk, data, name, filename, {"scope": "desk"}, decimals)


def case_export(session: Session, *, user: User, case_id: int, name: str, decimals: int) -> Export:
    """A case's sites, geotags or chain links, for a member of its desk; audited.

    A merged case raises :class:`CaseMerged`: its submissions, files and geotags moved.
    """
    case, desk = member_case(session, user=user, case_id=case_id)
    into = merged_into(session, case)
    if into is not None:
        raise CaseMerged(into)
    files = case_evidence_ids(session, case.id)
    cases = case_ids(session, case.id)
    data = place_data(
        session,
        case_scope(session, desk_id=desk.id, case_id=case.id, evidence_ids=files),
        decimals=check_decimals(decimals),
        evidence_of=EvidenceOf(desk_id=desk.id, evidence_ids=files, case_ids=cases),
        parts={FILE_PARTS.get(name, "")},
    )
    details = {"scope": "case", "case": case.id}
    return _export(session, user, desk, data, name, f"case-{case.id}-{name}", details, decimals)


def _export(
    session: Session,
    user: User,
    desk: Desk,
    data: PlaceData,
    name: str,
    filename: str,
    details: dict[str, Any],
    decimals: int,
) -> Export:
    if name == "sites.geojson":
        body, rows = data.sites_geojson(), len(data.sites)
    elif name == "geotags.geojson":
        body, rows = data.geotags_geojson(), len(data.geotags)
    elif name == "chain-links.csv":
        body, rows = data.chain_links_csv(), len(data.chain_links)
    else:
        raise NotFound(f"no export {name!r}")
    audit.record_audit(
        session,
        desk=desk,
        user=user,
        action=EXPORTED,
        details={
            **details,
            "file": name,
            "rows": rows,
            **({"decimals": decimals} if name == "geotags.geojson" else {}),
        },
    )
    return Export(filename, FILES[name], body)
