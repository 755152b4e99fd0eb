"""Supply chains: actors, chain links, evidence linked to sites and actors, and their graphs.

Registers (mine sites, actors, shared chain links) are organisation-wide. What a desk's
investigators find (a chain link they record, the evidence they link) belongs to that desk
and is shown only to its members (DESIGN.md §1: desks are compartments): a link with a
``desk_id`` is never read for anyone outside that desk, not even as an edge of a graph.
Every change records an audit event on the desk's chain, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from casework import audit
from casework.inbox import member_desk
from casework.models import (
    MAX_PLACE_CHARS,
    MAX_TITLE_CHARS,
    Actor,
    ActorKind,
    ChainLink,
    EvidenceLink,
    MineSite,
    MineSiteVisit,
)
from casework.registers.minerals import normalise
from filon.db import current_hour
from filon.errors import FilonError, NotFound
from filon.models import Desk, Evidence, Submission, User
from filon.submissions import find_submission

ACTOR_CREATED = "actor_created"
CHAIN_LINK_CREATED = "chain_link_created"
EVIDENCE_LINKED = "register_evidence_linked"

MAX_DEPTH = 12  # tiers from a mine to a brand are nine; a little room for traders of traders
MAX_NODES = 200  # past this a graph is cut (and says so): a page must stay readable
MAX_SEARCH_RESULTS = 50
MAX_EVIDENCE_PER_LINK = 50


class InvalidChainField(FilonError):
    """An actor, chain link or evidence link field is out of range (the view answers 400)."""


# -- lookups ----------------------------------------------------------------------------------


def get_site(session: Session, site_id: int) -> MineSite:
    """A mine site of the register, or :class:`NotFound`."""
    site = session.get(MineSite, site_id)
    if site is None:
        raise NotFound(f"no mine site {site_id}")
    return site


def get_actor(session: Session, actor_id: int) -> Actor:
    """An actor of the register, or :class:`NotFound`."""
    actor = session.get(Actor, actor_id)
    if actor is None:
        raise NotFound(f"no actor {actor_id}")
    return actor


def visible_links(desk_ids: Collection[int]) -> ColumnElement[bool]:
    """The chain links a member of ``desk_ids`` may see: the shared ones and their desks'."""
    return or_(ChainLink.desk_id.is_(None), ChainLink.desk_id.in_(list(desk_ids)))


def search_actors(
    session: Session, *, text: str = "", kind: ActorKind | None = None
) -> list[Actor]:
    """Actors whose name holds ``text`` (any case), of one kind if given, by name."""
    query = select(Actor)
    if text.strip():
        query = query.where(Actor.name.icontains(text.strip(), autoescape=True))
    if kind is not None:
        query = query.where(Actor.kind == kind)
    return list(session.scalars(query.order_by(Actor.name, Actor.id).limit(MAX_SEARCH_RESULTS)))


def site_visits(session: Session, site: MineSite) -> list[MineSiteVisit]:
    """A site's recorded visits, newest first."""
    return list(
        session.scalars(
            select(MineSiteVisit)
            .where(MineSiteVisit.site_id == site.id)
            .order_by(MineSiteVisit.visit_date.desc(), MineSiteVisit.id.desc())
        )
    )


@dataclass(frozen=True)
class LinkedFile:
    """A file (or a case) of a desk linked to a register entry, as a member sees it."""

    link_id: int
    reference: str  # the submission's receipt; "" for a case
    number: int  # the file's number in its submission; 0 for a case
    kind: str
    case_id: int | None = None

    @property
    def label(self) -> str:
        if self.case_id is not None:
            return f"case {self.case_id}"
        return f"{self.reference} file {self.number} ({self.kind})"


def linked_files(
    session: Session, *, desk_ids: Collection[int], target: ColumnElement[bool]
) -> list[LinkedFile]:
    """The evidence links matching ``target`` that belong to ``desk_ids``, oldest first."""
    links = list(
        session.scalars(
            select(EvidenceLink)
            .where(target, EvidenceLink.desk_id.in_(list(desk_ids)))
            .order_by(EvidenceLink.id)
        )
    )
    return [_linked_file(session, link) for link in links]


def _linked_file(session: Session, link: EvidenceLink) -> LinkedFile:
    if link.evidence_id is None:
        return LinkedFile(link.id, "", 0, "case", case_id=link.case_id)
    evidence = session.get_one(Evidence, link.evidence_id)
    submission = session.get_one(Submission, evidence.submission_id)
    ids = list(
        session.scalars(
            select(Evidence.id).where(Evidence.submission_id == submission.id).order_by(Evidence.id)
        )
    )
    return LinkedFile(link.id, submission.reference, ids.index(evidence.id) + 1, evidence.kind)


def submission_files(
    session: Session, *, user: User, slug: str, reference: str
) -> tuple[Submission, list[Evidence]]:
    """A submission of the desk and its files in order, for a member (else :class:`NotFound`)."""
    desk = member_desk(session, user=user, slug=slug)
    submission = _desk_submission(session, desk, reference)
    return submission, _files(session, submission)


# -- changes ----------------------------------------------------------------------------------


def create_actor(
    session: Session, *, user: User, slug: str, kind: str, name: str, country: str = ""
) -> Actor:
    """Add an actor to the register, from a desk's page (audited on that desk)."""
    desk = member_desk(session, user=user, slug=slug)
    actor = Actor(
        kind=_kind(kind),
        name=_text(name, "a name", MAX_TITLE_CHARS, required=True),
        country=_text(country, "a country", MAX_PLACE_CHARS, required=False),
        updated_hour=current_hour(),
    )
    session.add(actor)
    session.flush()
    audit.record_audit(
        session,
        desk=desk,
        user=user,
        action=ACTOR_CREATED,
        details={"actor": actor.id, "kind": str(actor.kind)},
    )
    return actor


@dataclass(frozen=True)
class ChainLinkRequest:
    """What an investigator records: from a site or an actor, to an actor, and the evidence."""

    to_actor_id: int
    mineral: str
    from_site_id: int | None = None
    from_actor_id: int | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    reference: str | None = None  # the submission whose files support the link
    numbers: Sequence[int] = ()  # those files, numbered from 1


def create_chain_link(
    session: Session, *, user: User, slug: str, request: ChainLinkRequest
) -> ChainLink:
    """Record a desk's chain link and link its evidence to the link and to both ends.

    The evidence documents the site (or actor) it comes from and the actor it goes to, and
    supports the link between them; all of it belongs to the desk, and only its members see it.
    """
    desk = member_desk(session, user=user, slug=slug)
    if (request.from_site_id is None) == (request.from_actor_id is None):
        raise InvalidChainField("a chain link starts at one mine site or one actor")
    source: MineSite | Actor = (
        get_site(session, request.from_site_id)
        if request.from_site_id is not None
        else get_actor(session, request.from_actor_id or 0)
    )
    target = get_actor(session, request.to_actor_id)
    if isinstance(source, Actor) and source.id == target.id:
        raise InvalidChainField("an actor does not supply itself")
    mineral = normalise(request.mineral)
    if mineral is None:
        raise InvalidChainField(f"{request.mineral!r} is not a mineral of the vocabulary")
    if request.period_start and request.period_end and request.period_end < request.period_start:
        raise InvalidChainField("a period ends on or after the day it starts")
    files = _chosen_files(session, desk, request.reference, request.numbers)
    link = ChainLink(
        from_site_id=request.from_site_id,
        from_actor_id=request.from_actor_id,
        to_actor_id=target.id,
        mineral=mineral,
        period_start=request.period_start,
        period_end=request.period_end,
        desk_id=desk.id,
        created_hour=current_hour(),
    )
    session.add(link)
    session.flush()
    for evidence in files:
        _link(session, desk, user, evidence, chain_link_id=link.id)
        _link(session, desk, user, evidence, actor_id=target.id)
        if isinstance(source, MineSite):
            _link(session, desk, user, evidence, site_id=source.id)
        else:
            _link(session, desk, user, evidence, actor_id=source.id)
    session.flush()
    audit.record_audit(
        session,
        desk=desk,
        user=user,
        action=CHAIN_LINK_CREATED,
        details={
            "chain_link": link.id,
            "from": f"site:{source.id}" if isinstance(source, MineSite) else f"actor:{source.id}",
            "to": f"actor:{target.id}",
            "mineral": mineral,
            **(
                {"submission": request.reference, "files": sorted(set(request.numbers))}
                if files
                else {}
            ),
        },
    )
    return link


def link_evidence(
    session: Session,
    *,
    user: User,
    slug: str,
    reference: str,
    numbers: Sequence[int],
    site_id: int | None = None,
    actor_id: int | None = None,
) -> list[EvidenceLink]:
    """Link files of a desk's submission to a mine site or an actor (already linked: kept)."""
    desk = member_desk(session, user=user, slug=slug)
    if (site_id is None) == (actor_id is None):
        raise InvalidChainField("evidence documents one mine site or one actor")
    target = {"site_id": get_site(session, site_id).id} if site_id is not None else {}
    if actor_id is not None:
        target = {"actor_id": get_actor(session, actor_id).id}
    files = _chosen_files(session, desk, reference, numbers)
    if not files:
        raise InvalidChainField("choose at least one file")
    links = [_link(session, desk, user, evidence, **target) for evidence in files]
    session.flush()
    audit.record_audit(
        session,
        desk=desk,
        user=user,
        action=EVIDENCE_LINKED,
        details={
            **{key.removesuffix("_id"): value for key, value in target.items()},
            "submission": reference,
            "files": sorted(set(numbers)),
        },
    )
    return links


def _link(
    session: Session, desk: Desk, user: User, evidence: Evidence, **target: int
) -> EvidenceLink:
    ((column, value),) = target.items()
    found = session.scalars(
        select(EvidenceLink).where(
            getattr(EvidenceLink, column) == value, EvidenceLink.evidence_id == evidence.id
        )
    ).first()
    if found is not None:
        return found
    link = EvidenceLink(
        evidence_id=evidence.id,
        desk_id=desk.id,
        created_by_id=user.id,
        created_hour=current_hour(),
        **target,
    )
    session.add(link)
    return link


def _chosen_files(
    session: Session, desk: Desk, reference: str | None, numbers: Sequence[int]
) -> list[Evidence]:
    if not numbers:
        return []
    if not reference:
        raise InvalidChainField("files are chosen from a submission")
    if len(set(numbers)) > MAX_EVIDENCE_PER_LINK:
        raise InvalidChainField(f"at most {MAX_EVIDENCE_PER_LINK} files at once")
    files = _files(session, _desk_submission(session, desk, reference))
    if any(not 1 <= number <= len(files) for number in numbers):
        raise InvalidChainField("the submission has no such file")
    return [files[number - 1] for number in sorted(set(numbers))]


def _desk_submission(session: Session, desk: Desk, reference: str) -> Submission:
    submission, submission_desk = find_submission(session, reference)
    if submission_desk.id != desk.id:
        # Said the same way as a missing one: another desk's receipts are not to be confirmed.
        raise NotFound(f"no submission has the receipt {reference!r}")
    return submission


def _files(session: Session, submission: Submission) -> list[Evidence]:
    return list(
        session.scalars(
            select(Evidence).where(Evidence.submission_id == submission.id).order_by(Evidence.id)
        )
    )


def _kind(kind: str) -> ActorKind:
    try:
        return ActorKind(kind)
    except ValueError as exc:
        raise InvalidChainField(f"{kind!r} is not a kind of actor") from exc


def _text(value: str, what: str, limit: int, *, required: bool) -> str:
    value = " ".join(value.split())
    if (required and not value) or len(value) > limit:
        raise InvalidChainField(f"{what} has {1 if required else 0} to {limit} characters")
    return value


# -- graphs -----------------------------------------------------------------------------------

NodeKey = tuple[str, int]  # ("site", id) or ("actor", id)


@dataclass(frozen=True)
class Node:
    """A mine site or an actor in a graph."""

    key: NodeKey
    name: str
    kind: str  # "site" or an ActorKind value


@dataclass(frozen=True)
class Edge:
    """A visible chain link, with the viewer's evidence for it."""

    id: int
    source: NodeKey
    target: NodeKey
    mineral: str
    period_start: dt.date | None
    period_end: dt.date | None
    shared: bool  # from the register rather than a desk
    evidence: tuple[str, ...] = ()


@dataclass
class Graph:
    """The part of the supply chain reachable from one node, cut at the bounds."""

    root: NodeKey
    nodes: dict[NodeKey, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    truncated: bool = False


def downstream(
    session: Session,
    *,
    site_id: int,
    desk_ids: Collection[int],
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Graph:
    """Everything a mine site's minerals reach through the chain links ``desk_ids`` may see."""
    site = get_site(session, site_id)
    return _walk(
        session,
        _site_node(site),
        desk_ids=desk_ids,
        forward=True,
        max_depth=max_depth,
        max_nodes=max_nodes,
    )


def upstream(
    session: Session,
    *,
    actor_id: int,
    desk_ids: Collection[int],
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Graph:
    """Every actor and mine site an actor's minerals come from, back to the mines."""
    actor = get_actor(session, actor_id)
    return _walk(
        session,
        _actor_node(actor),
        desk_ids=desk_ids,
        forward=False,
        max_depth=max_depth,
        max_nodes=max_nodes,
    )


def _walk(
    session: Session,
    root: Node,
    *,
    desk_ids: Collection[int],
    forward: bool,
    max_depth: int,
    max_nodes: int,
) -> Graph:
    """Breadth first, one query per level; a node is expanded once, so cycles end."""
    graph = Graph(root=root.key, nodes={root.key: root})
    frontier = [root.key]
    seen_links: set[int] = set()
    for _depth in range(max_depth):
        if not frontier:
            break
        links = _links_touching(session, frontier, desk_ids=desk_ids, forward=forward)
        next_frontier: list[NodeKey] = []
        for link in links:
            if link.id in seen_links:
                continue
            source, target = _ends(link)
            far = target if forward else source
            if far not in graph.nodes:
                if len(graph.nodes) >= max_nodes:
                    graph.truncated = True
                    continue
                graph.nodes[far] = Node(far, "", "")
                next_frontier.append(far)
            seen_links.add(link.id)
            graph.edges.append(_edge(link, source, target))
        frontier = next_frontier
    else:
        # Out of depth with nodes still to expand: say so if any of them leads further.
        if frontier and _links_touching(session, frontier, desk_ids=desk_ids, forward=forward):
            graph.truncated = True
    _name_nodes(session, graph)
    _count_evidence(session, graph, desk_ids)
    return graph


def _links_touching(
    session: Session, keys: Iterable[NodeKey], *, desk_ids: Collection[int], forward: bool
) -> list[ChainLink]:
    sites = [i for kind, i in keys if kind == "site"]
    actors = [i for kind, i in keys if kind == "actor"]
    if forward:
        near = or_(ChainLink.from_site_id.in_(sites), ChainLink.from_actor_id.in_(actors))
    else:
        near = ChainLink.to_actor_id.in_(actors)
    query = select(ChainLink).where(near, visible_links(desk_ids)).order_by(ChainLink.id)
    return list(session.scalars(query))


def _ends(link: ChainLink) -> tuple[NodeKey, NodeKey]:
    source: NodeKey = (
        ("site", link.from_site_id)
        if link.from_site_id is not None
        else ("actor", link.from_actor_id or 0)
    )
    return source, ("actor", link.to_actor_id)


def _edge(link: ChainLink, source: NodeKey, target: NodeKey) -> Edge:
    return Edge(
        id=link.id,
        source=source,
        target=target,
        mineral=link.mineral,
        period_start=link.period_start,
        period_end=link.period_end,
        shared=link.desk_id is None,
    )


def _site_node(site: MineSite) -> Node:
    return Node(("site", site.id), site.name, "site")


def _actor_node(actor: Actor) -> Node:
    return Node(("actor", actor.id), actor.name, str(actor.kind))


def _name_nodes(session: Session, graph: Graph) -> None:
    sites = [i for kind, i in graph.nodes if kind == "site"]
    actors = [i for kind, i in graph.nodes if kind == "actor"]
    for site in session.scalars(select(MineSite).where(MineSite.id.in_(sites))):
        graph.nodes[("site", site.id)] = _site_node(site)
    for actor in session.scalars(select(Actor).where(Actor.id.in_(actors))):
        graph.nodes[("actor", actor.id)] = _actor_node(actor)


def _count_evidence(session: Session, graph: Graph, desk_ids: Collection[int]) -> None:
    ids = [edge.id for edge in graph.edges]
    if not ids:
        return
    found: dict[int, list[str]] = {}
    links = session.scalars(
        select(EvidenceLink)
        .where(EvidenceLink.chain_link_id.in_(ids), EvidenceLink.desk_id.in_(list(desk_ids)))
        .order_by(EvidenceLink.id)
    )
    for link in links:
        found.setdefault(link.chain_link_id or 0, []).append(_linked_file(session, link).label)
    graph.edges = [
        Edge(**{**edge.__dict__, "evidence": tuple(found.get(edge.id, ()))}) for edge in graph.edges
    ]
