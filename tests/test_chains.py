"""Supply chains: actors, desk chain links with their evidence, graph walks, and their pages.

Runs on SQLite and PostgreSQL. A desk's chain links and evidence links are that desk's
alone: a member of another desk never meets them, not even as an edge of a graph, while the
shared register's links appear to everyone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from casework import chains
from casework.chains import ChainLinkRequest, InvalidChainField
from casework.models import Actor, ActorKind, ChainLink, EvidenceLink, MineSite
from filon.accounts import get_user
from filon.db import Base, current_hour, make_engine, transaction
from filon.desks import create_desk, get_desk
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import CustodyEvent, Desk
from intake.demo import seed_submissions
from tests.conftest import STAFF_PASSWORD, Staff, StaffAccount, csrf_token, make_account

DESK = "drc-minerals"
OTHER = "other-desk"
SECRET_BUYER = "Négoce Secret & Fils"  # reachable only through drc-minerals' own link


@dataclass(frozen=True)
class World:
    """Two desks with submissions, a mine site, and actors along a chain."""

    refs: list[str]  # drc-minerals: the photo one (one file), then a text-only one
    other_ref: str  # other-desk: a photo submission
    site: int
    trader: int
    comptoir: int
    exporter: int
    secret: int


def add_site(session: Session, name: str, external_id: str) -> MineSite:
    site = MineSite(
        dataset="test",
        external_id=external_id,
        name=name,
        latitude=-1.6,
        longitude=28.9,
        minerals=["coltan", "cassiterite"],
        updated_hour=current_hour(),
    )
    session.add(site)
    session.flush()
    return site


def add_actor(session: Session, name: str, kind: ActorKind) -> Actor:
    actor = Actor(kind=kind, name=name, country="CD", updated_hour=current_hour())
    session.add(actor)
    session.flush()
    return actor


@pytest.fixture
def world(instance: Instance, investigator: StaffAccount) -> World:
    refs = [o.receipt for o in seed_submissions(instance, DESK)]
    make_account(instance, "outsider", "investigator")
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug=OTHER,
            name="Other desk",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(get_user(session, "outsider"), True)],
        )
    other_ref = seed_submissions(instance, OTHER)[0].receipt
    with transaction(instance.sessions) as session:
        site = add_site(session, "Rubaya D2", "SYN-1")
        trader = add_actor(session, "Maison Tantale", ActorKind.TRADER)
        comptoir = add_actor(session, "Comptoir du Lac", ActorKind.COMPTOIR)
        exporter = add_actor(session, "Great Lakes Export", ActorKind.EXPORTER)
        secret = add_actor(session, SECRET_BUYER, ActorKind.EXPORTER)
        # The shared register: site → trader → comptoir.
        for source, target in [((site.id, None), trader.id), ((None, trader.id), comptoir.id)]:
            session.add(
                ChainLink(
                    from_site_id=source[0],
                    from_actor_id=source[1],
                    to_actor_id=target,
                    mineral="coltan",
                    created_hour=current_hour(),
                )
            )
        ids = (site.id, trader.id, comptoir.id, exporter.id, secret.id)
    return World(refs, other_ref, *ids)


def member(session: Session, name: str = "investigator") -> Any:
    return get_user(session, name)


def record(
    instance: Instance,
    world: World,
    username: str = "investigator",
    slug: str = DESK,
    **fields: Any,
) -> int:
    values: dict[str, Any] = {
        "from_site_id": world.site,
        "to_actor_id": world.secret,
        "mineral": "Coltan",
        "period_start": dt.date(2024, 1, 1),
        "period_end": dt.date(2024, 6, 30),
        "reference": world.refs[0],
        "numbers": [1],
        **fields,
    }
    with transaction(instance.sessions) as session:
        link = chains.create_chain_link(
            session, user=member(session, username), slug=slug, request=ChainLinkRequest(**values)
        )
        return link.id


def counts(instance: Instance) -> tuple[int, int, int, int]:
    with instance.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(ChainLink)) or 0,
            session.scalar(select(func.count()).select_from(EvidenceLink)) or 0,
            session.scalar(select(func.count()).select_from(Actor)) or 0,
            session.scalar(select(func.count()).select_from(CustodyEvent)) or 0,
        )


def desk_id(instance: Instance, slug: str) -> int:
    with instance.sessions() as session:
        return get_desk(session, slug).id


# -- the service ------------------------------------------------------------------------------


def test_a_chain_link_links_its_evidence_to_both_ends_and_to_itself(
    instance: Instance, world: World
) -> None:
    link_id = record(instance, world)
    with instance.sessions() as session:
        link = session.get_one(ChainLink, link_id)
        assert (link.mineral, link.desk_id) == ("coltan", get_desk(session, DESK).id)
        links = list(session.scalars(select(EvidenceLink).order_by(EvidenceLink.id)))
        targets = {(e.chain_link_id, e.site_id, e.actor_id) for e in links}
        assert targets == {
            (link_id, None, None),
            (None, world.site, None),
            (None, None, world.secret),
        }
        assert {e.desk_id for e in links} == {link.desk_id}
        assert len({e.evidence_id for e in links}) == 1
        event = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == f"audit:{DESK}")
            .order_by(CustodyEvent.seq.desc())
        ).first()
        assert event is not None
        assert event.action == chains.CHAIN_LINK_CREATED
        assert json.loads(event.details) == {
            "chain_link": link_id,
            "from": f"site:{world.site}",
            "to": f"actor:{world.secret}",
            "mineral": "coltan",
            "submission": world.refs[0],
            "files": [1],
        }
        graph = chains.downstream(session, site_id=world.site, desk_ids=[link.desk_id or 0])
    edge = next(e for e in graph.edges if e.id == link_id)
    assert edge.evidence == (f"{world.refs[0]} file 1 (image)",)
    assert not edge.shared
    # Recording a second link with the same file links it to the site only once.
    record(instance, world, to_actor_id=world.exporter)
    with instance.sessions() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(EvidenceLink)
                .where(EvidenceLink.site_id == world.site)
            )
            == 1
        )


def test_evidence_links_to_a_site_or_an_actor_alone(instance: Instance, world: World) -> None:
    with transaction(instance.sessions) as session:
        made = chains.link_evidence(
            session,
            user=member(session),
            slug=DESK,
            reference=world.refs[0],
            numbers=[1],
            actor_id=world.trader,
        )
        assert [(e.actor_id, e.site_id, e.chain_link_id) for e in made] == [
            (world.trader, None, None)
        ]
    with instance.sessions() as session:
        files = chains.linked_files(
            session,
            desk_ids=[desk_id(instance, DESK)],
            target=EvidenceLink.actor_id == world.trader,
        )
        assert [f.label for f in files] == [f"{world.refs[0]} file 1 (image)"]
        assert (
            chains.linked_files(
                session,
                desk_ids=[desk_id(instance, OTHER)],
                target=EvidenceLink.actor_id == world.trader,
            )
            == []
        )


BAD_LINKS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"from_site_id": 999_999}, NotFound, "no mine site"),
    ({"to_actor_id": 999_999}, NotFound, "no actor"),
    ({"from_site_id": None, "from_actor_id": 999_999}, NotFound, "no actor"),
    ({"mineral": "kryptonite"}, InvalidChainField, "not a mineral"),
    ({"mineral": ""}, InvalidChainField, "not a mineral"),
    ({"period_start": dt.date(2024, 7, 1)}, InvalidChainField, "period"),
    ({"numbers": [2]}, InvalidChainField, "no such file"),
    ({"numbers": [0]}, InvalidChainField, "no such file"),
    ({"reference": None}, InvalidChainField, "from a submission"),
    ({"reference": "FLN-NOPE"}, NotFound, "no submission"),
    ({"from_actor_id": 1}, InvalidChainField, "one mine site or one actor"),
    ({"from_site_id": None}, InvalidChainField, "one mine site or one actor"),
]


@pytest.mark.parametrize(("fields", "error", "message"), BAD_LINKS)
def test_bad_chain_links_are_refused_and_change_nothing(
    instance: Instance, world: World, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    before = counts(instance)
    with pytest.raises(error, match=message):
        record(instance, world, **fields)
    assert counts(instance) == before


def test_an_actor_does_not_supply_itself(instance: Instance, world: World) -> None:
    with pytest.raises(InvalidChainField, match="itself"):
        record(
            instance, world, from_site_id=None, from_actor_id=world.trader, to_actor_id=world.trader
        )


def test_evidence_of_another_desk_is_refused_like_a_missing_submission(
    instance: Instance, world: World
) -> None:
    before = counts(instance)
    with pytest.raises(NotFound, match="no submission"):
        record(instance, world, reference=world.other_ref)
    # And a member of the other desk cannot record into drc-minerals at all.
    with pytest.raises(NotFound, match="no desk"):
        record(instance, world, username="outsider", reference=world.other_ref)
    assert counts(instance) == before


@pytest.mark.parametrize(
    ("kind", "name", "country", "message"),
    [
        ("wizard", "X", "", "not a kind"),
        ("trader", "   ", "", "a name"),
        ("trader", "n" * 201, "", "a name"),
        ("trader", "N", "c" * 121, "a country"),
    ],
)
def test_bad_actors_are_refused(
    instance: Instance, world: World, kind: str, name: str, country: str, message: str
) -> None:
    before = counts(instance)
    with pytest.raises(InvalidChainField, match=message), transaction(instance.sessions) as session:
        chains.create_actor(
            session, user=member(session), slug=DESK, kind=kind, name=name, country=country
        )
    assert counts(instance) == before


def test_a_desks_link_never_reaches_another_desk_shared_links_reach_all(
    instance: Instance, world: World
) -> None:
    own = record(instance, world)
    with instance.sessions() as session:
        mine = chains.downstream(session, site_id=world.site, desk_ids=[desk_id(instance, DESK)])
        theirs = chains.downstream(session, site_id=world.site, desk_ids=[desk_id(instance, OTHER)])
        back = chains.upstream(session, actor_id=world.secret, desk_ids=[desk_id(instance, OTHER)])
    assert ("actor", world.secret) in mine.nodes
    assert own in {e.id for e in mine.edges}
    assert ("actor", world.secret) not in theirs.nodes
    assert own not in {e.id for e in theirs.edges}
    assert set(theirs.nodes) == {
        ("site", world.site),
        ("actor", world.trader),
        ("actor", world.comptoir),
    }
    assert all(e.shared and not e.evidence for e in theirs.edges)
    assert back.edges == []


def test_walks_end_on_cycles_and_say_when_they_are_cut(instance: Instance, world: World) -> None:
    with transaction(instance.sessions) as session:
        # comptoir → trader closes a cycle trader → comptoir → trader.
        session.add(
            ChainLink(
                from_actor_id=world.comptoir,
                to_actor_id=world.trader,
                mineral="coltan",
                created_hour=current_hour(),
            )
        )
    with instance.sessions() as session:
        whole = chains.downstream(session, site_id=world.site, desk_ids=[])
        assert (len(whole.nodes), len(whole.edges), whole.truncated) == (3, 3, False)
        cut = chains.downstream(session, site_id=world.site, desk_ids=[], max_nodes=2)
        assert (len(cut.nodes), cut.truncated) == (2, True)
        shallow = chains.downstream(session, site_id=world.site, desk_ids=[], max_depth=1)
        assert (set(shallow.nodes), shallow.truncated) == (
            {("site", world.site), ("actor", world.trader)},
            True,
        )
        up = chains.upstream(session, actor_id=world.comptoir, desk_ids=[])
        assert ("site", world.site) in up.nodes
        assert not up.truncated


# -- graph walks against brute force ----------------------------------------------------------

N_SITES, N_ACTORS, N_DESKS = 3, 9, 2
# A chain link: (from site or actor index, from is a site?, to actor index, owning desk or None).
links_strategy = st.lists(
    st.tuples(
        st.integers(0, N_ACTORS - 1),
        st.booleans(),
        st.integers(0, N_ACTORS - 1),
        st.sampled_from([None, 0, 1]),
    ),
    min_size=8,
    max_size=40,
)


@pytest.fixture
def bare(db_url: str) -> Iterator[tuple[Engine, list[int], list[int], list[int]]]:
    """Just the tables, with two desks, the sites and the actors (no instance needed)."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    with transaction(sessionmaker(engine)) as session:
        desks = [
            Desk(
                slug=f"d{i}",
                name=f"Desk {i}",
                public_key=bytes(32),
                sealed_for_recovery=bytes(80),
                created_day=dt.date(2026, 11, 1),
            )
            for i in range(N_DESKS)
        ]
        session.add_all(desks)
        sites = [add_site(session, f"Site {i}", f"S{i}") for i in range(N_SITES)]
        actors = [add_actor(session, f"Actor {i}", ActorKind.TRADER) for i in range(N_ACTORS)]
        session.flush()
        ids = ([d.id for d in desks], [s.id for s in sites], [a.id for a in actors])
    yield (engine, *ids)
    engine.dispose()


def brute_reach(
    start: tuple[str, int], edges: list[tuple[tuple[str, int], tuple[str, int]]], depth: int
) -> set[tuple[str, int]]:
    seen, queue = {start}, deque([(start, 0)])
    while queue:
        node, d = queue.popleft()
        if d == depth:
            continue
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                queue.append((b, d + 1))
    return seen


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    links=links_strategy,
    viewer=st.sets(st.integers(0, N_DESKS - 1)),
    start=st.integers(0, N_SITES - 1),
    depth=st.integers(1, 6),
    cap=st.integers(1, 15),
)
def test_walks_match_brute_force_reachability(
    bare: tuple[Engine, list[int], list[int], list[int]],
    links: list[tuple[int, bool, int, int | None]],
    viewer: set[int],
    start: int,
    depth: int,
    cap: int,
) -> None:
    engine, desks, sites, actors = bare
    made: list[tuple[int, tuple[str, int], tuple[str, int], int | None]] = []
    with transaction(sessionmaker(engine)) as session:
        session.execute(delete(ChainLink))
        for source, from_site, target, owner in links:
            start_key = (
                ("site", sites[source % N_SITES]) if from_site else ("actor", actors[source])
            )
            link = ChainLink(
                from_site_id=start_key[1] if from_site else None,
                from_actor_id=None if from_site else start_key[1],
                to_actor_id=actors[target],
                mineral="gold",
                desk_id=None if owner is None else desks[owner],
                created_hour=current_hour(),
            )
            session.add(link)
            session.flush()
            made.append((link.id, start_key, ("actor", actors[target]), link.desk_id))
    seen_desks = [desks[i] for i in viewer]
    visible = [(a, b) for _, a, b, owner in made if owner is None or owner in seen_desks]
    forward = brute_reach(("site", sites[start]), visible, depth)
    backward_from = ("actor", actors[start])
    backward = brute_reach(backward_from, [(b, a) for a, b in visible], depth)
    with sessionmaker(engine)() as session:
        down = chains.downstream(
            session, site_id=sites[start], desk_ids=seen_desks, max_depth=depth
        )
        up = chains.upstream(session, actor_id=actors[start], desk_ids=seen_desks, max_depth=depth)
        capped = chains.downstream(
            session, site_id=sites[start], desk_ids=seen_desks, max_depth=50, max_nodes=cap
        )
    assert set(down.nodes) == forward
    assert set(up.nodes) == backward
    visible_ids = {i for i, _, _, owner in made if owner is None or owner in seen_desks}
    for graph in (down, up, capped):
        assert {e.id for e in graph.edges} <= visible_ids  # never another desk's link
        assert all(e.source in graph.nodes and e.target in graph.nodes for e in graph.edges)
    # Within the depth, every visible link out of a reached node that is not at the edge.
    expected = {
        i
        for i, a, b, owner in made
        if (owner is None or owner in seen_desks) and a in forward and b in forward
    }
    assert {e.id for e in down.edges} <= expected
    everything = brute_reach(("site", sites[start]), visible, 50)
    assert len(capped.nodes) == min(cap, len(everything))
    assert set(capped.nodes) <= everything
    assert capped.truncated == (len(everything) > cap)


# -- the pages ----------------------------------------------------------------------------------


def post(staff: Staff, path: str, data: dict[str, Any]) -> Any:
    return staff.client.post(path, data={"csrf_token": csrf_token(staff.client), **data})


def svg_of(page: str) -> Any:
    """The page's graph, parsed (the outer <svg> holds one nested <svg> per node)."""
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page, "no graph on the page"
    start = page.index('<svg xmlns="http://www.w3.org/2000/svg"')
    return fromstring(page[start : page.rindex("</svg>") + len("</svg>")])


def test_from_the_proposed_site_to_a_found_trader_in_one_submit(
    staff: Staff, instance: Instance, world: World
) -> None:
    """The geotag section's link → the form pre-filled → one submit → the site's graph."""
    staff.log_in()
    base = f"/desks/{DESK}/chain-links/new?site={world.site}&submission={world.refs[0]}"
    form = staff.client.get(base).get_data(as_text=True)
    assert "Rubaya D2" in form
    assert 'name="evidence" value="1" checked' in form
    assert f'name="from_site" value="{world.site}"' in form
    found = staff.client.get(f"{base}&q=export&kind=exporter").get_data(as_text=True)
    assert "Great Lakes Export" in found
    assert "Maison Tantale" not in found  # a trader, not an exporter
    response = post(
        staff,
        f"/desks/{DESK}/chain-links",
        {
            "from_site": str(world.site),
            "to_actor": str(world.exporter),
            "mineral": "cassiterite",
            "period_start": "2025-02-01",
            "period_end": "2025-03-31",
            "reference": world.refs[0],
            "evidence": "1",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/desks/{DESK}/sites/{world.site}"
    page = staff.client.get(response.headers["Location"]).get_data(as_text=True)
    graph = svg_of(page)
    titles = [t.text or "" for t in graph.iter("{http://www.w3.org/2000/svg}title")]
    assert "Great Lakes Export (exporter)" in titles
    assert any(f"evidence: {world.refs[0]} file 1 (image)" in t for t in titles)
    texts = [t.text for t in graph.iter("{http://www.w3.org/2000/svg}text")]
    assert "cassiterite · 1 evidence" in texts
    assert "2025-02-01 – 2025-03-31" in texts
    assert f"{world.refs[0]}</a> file 1 (image)" in page  # the site's linked evidence
    actor = staff.client.get(f"/desks/{DESK}/actors/{world.exporter}").get_data(as_text=True)
    assert "Rubaya D2 (mine site)" in actor  # upstream, back to the mine


def test_the_site_page_of_another_desks_member_shows_shared_links_only(
    instance: Instance, world: World, casework_app: Any
) -> None:
    record(instance, world)
    with instance.sessions() as session:
        totp = get_user(session, "outsider").totp_secret
    outsider = Staff(casework_app.test_client(), StaffAccount("outsider", STAFF_PASSWORD, totp))
    outsider.log_in()
    page = outsider.client.get(f"/desks/{OTHER}/sites/{world.site}").get_data(as_text=True)
    assert "Maison Tantale" in page  # the shared register
    assert "Comptoir du Lac" in page
    for secret in [SECRET_BUYER, str(escape(SECRET_BUYER)), world.refs[0]]:
        assert secret not in page
    assert outsider.client.get(f"/desks/{DESK}/sites/{world.site}").status_code == 404
    upstream = outsider.client.get(f"/desks/{OTHER}/actors/{world.secret}").get_data(as_text=True)
    assert "Rubaya D2" not in upstream


def test_actors_are_listed_searched_and_added_with_names_escaped(
    staff: Staff, instance: Instance, world: World
) -> None:
    staff.log_in()
    evil = "<script>alert(1)</script> & Fils"
    response = post(
        staff, f"/desks/{DESK}/actors", {"kind": "trader", "name": evil, "country": "CD"}
    )
    assert response.status_code == 303
    page = staff.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Fils" in page
    assert "No chain link to this actor is known to this desk yet." in page
    evil_id = int(response.headers["Location"].rsplit("/", 1)[1])
    linked = post(staff, f"/desks/{DESK}/chain-links", chain_form(world, to_actor=str(evil_id)))
    graph = svg_of(staff.client.get(response.headers["Location"]).get_data(as_text=True))
    assert linked.status_code == 303
    titles = [t.text for t in graph.iter("{http://www.w3.org/2000/svg}title")]
    assert f"{evil} (trader)" in titles
    listing = staff.client.get(f"/desks/{DESK}/actors?q=FILS&kind=trader").get_data(as_text=True)
    assert "&lt;script&gt;" in listing
    assert "Great Lakes Export" not in listing
    assert staff.client.get(f"/desks/{DESK}/actors?kind=wizard").status_code == 400
    with instance.sessions() as session:
        actions = session.scalars(
            select(CustodyEvent.action)
            .where(CustodyEvent.subject == f"audit:{DESK}")
            .order_by(CustodyEvent.seq)
        ).all()
    assert list(actions[-2:]) == [chains.ACTOR_CREATED, chains.CHAIN_LINK_CREATED]


def chain_form(world: World, **changes: str) -> dict[str, str]:
    data = {
        "from_site": str(world.site),
        "to_actor": str(world.exporter),
        "mineral": "coltan",
        "period_start": "2025-02-01",
        "period_end": "2025-03-31",
        "reference": world.refs[0],
        "evidence": "1",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "-"}


BAD_FORMS: list[tuple[dict[str, str], int]] = [
    ({"from_site": "99999"}, 404),  # an unknown site
    ({"from_site": "99999999999999999999"}, 400),
    ({"to_actor": "99999"}, 404),  # an unknown actor
    ({"to_actor": "-"}, 400),
    ({"to_actor": "x"}, 400),
    ({"mineral": "kryptonite"}, 400),
    ({"period_start": "2025-04-01"}, 400),  # the period reversed
    ({"period_end": "2025-13-45"}, 400),
    ({"evidence": "2"}, 400),
    ({"evidence": "one"}, 400),
    ({"reference": "{other}"}, 404),  # evidence of another desk
    ({"from_site": "-"}, 400),
    ({"from_actor": "{trader}"}, 400),  # a site and an actor at once
    ({"name\x00": "x"}, 400),
]


@pytest.mark.parametrize(("changes", "status"), BAD_FORMS)
def test_bad_chain_link_forms_get_a_clear_4xx_and_change_nothing(
    staff: Staff, instance: Instance, world: World, changes: dict[str, str], status: int
) -> None:
    staff.log_in()
    filled = {k: v.format(other=world.other_ref, trader=world.trader) for k, v in changes.items()}
    before = counts(instance)
    response = post(staff, f"/desks/{DESK}/chain-links", chain_form(world, **filled))
    assert response.status_code == status
    assert counts(instance) == before


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("site=99999", 404),
        ("site=abc", 400),
        ("site=99999999999999999999", 400),
        ("to=-1", 400),
        ("actor=99999", 404),
        ("submission=FLN-NOPE", 404),
        ("submission={other}", 404),
        ("kind=wizard", 400),
    ],
)
def test_bad_chain_link_form_queries_get_a_clear_4xx(
    staff: Staff, world: World, query: str, status: int
) -> None:
    staff.log_in()
    path = f"/desks/{DESK}/chain-links/new?" + query.format(other=world.other_ref)
    assert staff.client.get(path).status_code == status
