"""Exports of places and supply chains: GeoJSON of sites and geotags, CSV of chain links.

Runs on SQLite and PostgreSQL. A desk's export holds its own geotags and chain links and the
shared register's links that touch what it investigates; another desk's rows never appear,
and a non-member gets 404. Every export is an audited attachment.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import cases, chains, geo, geodata
from casework.chains import ChainLinkRequest
from casework.models import Actor, ActorKind, ChainLink, Geotag, MineSite
from filon.accounts import get_user, unlock_user_key
from filon.db import current_hour, transaction
from filon.desks import create_desk
from filon.instance import Instance
from filon.models import CustodyEvent
from intake.demo import seed_submissions
from tests.conftest import STAFF_PASSWORD, Staff, StaffAccount, make_account

DESK = "drc-minerals"
OTHER = "other-desk"
# The demo photo's consented GPS position: 1°40'12" S, 28°52'30" E (near Rubaya).
PHOTO = (-(1 + 40 / 60 + 12 / 3600), 28 + 52 / 60 + 30 / 3600)
SECRET_BUYER = "Négoce Secret & Fils"
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


@dataclass(frozen=True)
class World:
    refs: list[str]  # drc-minerals: the photo one, then the text-only one
    other_ref: str  # other-desk: a photo
    case: int  # drc-minerals, from refs[0]
    site: int  # Rubaya D2
    lonely: int  # a site nobody's evidence names
    trader: int
    comptoir: int
    secret: int
    geotag: int  # drc-minerals: from the photo's consented location
    other_geotag: int
    link: int  # drc-minerals: site → trader, the photo as evidence
    other_link: int  # other-desk: site → secret buyer
    shared: int  # the register: site → comptoir
    far_shared: int  # the register: lonely site → comptoir's rival


def add(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row


def a_site(name: str, code: str, lat: float, lon: float) -> MineSite:
    return MineSite(
        dataset="ipis",
        external_id=code,
        name=name,
        latitude=lat,
        longitude=lon,
        province="Nord-Kivu",
        territoire="Masisi",
        village="Rubaya",
        minerals=["coltan", "cassiterite"],
        last_visit_date=dt.date(2023, 5, 17),
        workers=120,
        armed_presence=True,
        itsci="no",
        qualification="red",
        source="synthetic sample",
        updated_hour=current_hour(),
    )


def an_actor(name: str, kind: ActorKind) -> Actor:
    return Actor(
        kind=kind, name=name, country="CD", minerals=["coltan"], updated_hour=current_hour()
    )


def geotag_of(instance: Instance, username: str, reference: str) -> int:
    with transaction(instance.sessions) as session:
        user = get_user(session, username)
        made = geo.geotag_from_file(
            session,
            user=user,
            user_key=unlock_user_key(user, STAFF_PASSWORD),
            reference=reference,
            number=1,
        )
        return made.id


def chain_link(
    instance: Instance, username: str, slug: str, reference: str, site: int, to: int
) -> int:
    with transaction(instance.sessions) as session:
        link = chains.create_chain_link(
            session,
            user=get_user(session, username),
            slug=slug,
            request=ChainLinkRequest(
                from_site_id=site,
                to_actor_id=to,
                mineral="coltan",
                period_start=dt.date(2024, 1, 1),
                period_end=dt.date(2024, 6, 30),
                reference=reference,
                numbers=[1],
            ),
        )
        return link.id


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
        site = add(session, a_site("Rubaya D2", "codmin-1", -1.6, 28.9))
        lonely = add(session, a_site("Bisie", "codmin-2", -1.0, 27.6))
        trader = add(session, an_actor("Maison Tantale", ActorKind.TRADER))
        comptoir = add(session, an_actor("Comptoir du Lac", ActorKind.COMPTOIR))
        rival = add(session, an_actor("Comptoir Rival", ActorKind.COMPTOIR))
        secret = add(session, an_actor(SECRET_BUYER, ActorKind.EXPORTER))
        shared = add(
            session,
            ChainLink(
                from_site_id=site.id,
                to_actor_id=comptoir.id,
                mineral="coltan",
                created_hour=current_hour(),
            ),
        )
        far = add(
            session,
            ChainLink(
                from_site_id=lonely.id,
                to_actor_id=rival.id,
                mineral="cassiterite",
                created_hour=current_hour(),
            ),
        )
        case = cases.create_case(
            session, user=get_user(session, "investigator"), references=[refs[0]], title="Rubaya"
        )
        ids = (case.id, site.id, lonely.id, trader.id, comptoir.id, secret.id)
        shared_id, far_id = shared.id, far.id
    geotag = geotag_of(instance, "investigator", refs[0])
    other_geotag = geotag_of(instance, "outsider", other_ref)
    link = chain_link(instance, "investigator", DESK, refs[0], ids[1], ids[3])
    other_link = chain_link(instance, "outsider", OTHER, other_ref, ids[1], ids[5])
    return World(refs, other_ref, *ids, geotag, other_geotag, link, other_link, shared_id, far_id)


def get(client: FlaskClient, path: str) -> tuple[int, dict[str, str], bytes]:
    response = client.get(path)
    return response.status_code, dict(response.headers), response.get_data()


def exported_events(instance: Instance, slug: str = DESK) -> list[dict[str, Any]]:
    with instance.sessions() as session:
        events = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == f"audit:{slug}", CustodyEvent.action == geodata.EXPORTED)
            .order_by(CustodyEvent.seq)
        )
        return [json.loads(e.details) for e in events]


def rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


# -- the routes, for a member -----------------------------------------------------------------


def rubaya(world: World) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": world.site,
        "geometry": {"type": "Point", "coordinates": [28.9, -1.6]},
        "properties": {
            "id": world.site,
            "dataset": "ipis",
            "external_id": "codmin-1",
            "name": "Rubaya D2",
            "minerals": ["coltan", "cassiterite"],
            "province": "Nord-Kivu",
            "territoire": "Masisi",
            "village": "Rubaya",
            "last_visit_date": "2023-05-17",
            "workers": 120,
            "armed_presence": True,
            "itsci": "no",
            "qualification": "red",
            "source": "synthetic sample",
        },
    }


def photo_geotag(instance: Instance, world: World, decimals: int, precision_m: int) -> Any:
    with instance.sessions() as session:
        hour = session.get_one(Geotag, world.geotag).created_hour
    return {
        "type": "Feature",
        "id": world.geotag,
        "geometry": {
            "type": "Point",
            "coordinates": [round(PHOTO[1], decimals), round(PHOTO[0], decimals)],
        },
        "properties": {
            "id": world.geotag,
            "submission": world.refs[0],
            "file": 1,
            "case": None,
            "precision_m": precision_m,
            "method": "consented",
            "note": "GPS position of file 1, shared with the source's consent",
            "created_hour": hour.strftime("%Y-%m-%dT%H:00Z"),
        },
    }


def test_a_member_exports_the_desks_sites_geotags_and_chain_links(
    staff: Staff, instance: Instance, world: World
) -> None:
    staff.log_in()
    status, headers, body = get(staff.client, f"/desks/{DESK}/export/sites.geojson")
    assert status == 200
    assert headers["Content-Type"] == "application/geo+json"
    assert headers["Content-Disposition"] == f"attachment; filename={DESK}-sites.geojson"
    # Rubaya is named by the desk's link and evidence; Bisie by nothing of this desk.
    assert json.loads(body) == {"type": "FeatureCollection", "features": [rubaya(world)]}

    status, headers, body = get(staff.client, f"/desks/{DESK}/export/geotags.geojson")
    assert (status, headers["Content-Type"]) == (200, "application/geo+json")
    # All six decimal places by default; 1 m of rounding is within the consented 50 m.
    expected = photo_geotag(instance, world, 6, geo.CONSENTED_PRECISION_M)
    assert json.loads(body) == {"type": "FeatureCollection", "features": [expected]}

    status, headers, body = get(staff.client, f"/desks/{DESK}/export/chain-links.csv")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == f"attachment; filename={DESK}-chain-links.csv"
    assert body.startswith(",".join(geodata.CHAIN_LINK_COLUMNS).encode() + b"\r\n")
    site = str(world.site)
    assert sorted(rows(body), key=lambda r: int(r["id"])) == [
        {
            "id": str(world.shared),
            "from_kind": "site",
            "from_id": site,
            "from_name": "Rubaya D2",
            "to_id": str(world.comptoir),
            "to_name": "Comptoir du Lac",
            "mineral": "coltan",
            "period_start": "",
            "period_end": "",
            "shared": "yes",
            "evidence": "0",
        },
        {
            "id": str(world.link),
            "from_kind": "site",
            "from_id": site,
            "from_name": "Rubaya D2",
            "to_id": str(world.trader),
            "to_name": "Maison Tantale",
            "mineral": "coltan",
            "period_start": "2024-01-01",
            "period_end": "2024-06-30",
            "shared": "no",
            "evidence": "1",
        },
    ]
    assert [int(r["id"]) for r in rows(body)] == sorted([world.shared, world.link])
    assert exported_events(instance) == [
        {"scope": "desk", "file": "sites.geojson", "rows": 1},
        {"scope": "desk", "file": "geotags.geojson", "rows": 1, "decimals": 6},
        {"scope": "desk", "file": "chain-links.csv", "rows": 2},
    ]


def test_a_case_exports_its_places_and_the_links_its_evidence_supports(
    staff: Staff, instance: Instance, world: World
) -> None:
    staff.log_in()
    base = f"/cases/{world.case}/export"
    status, headers, body = get(staff.client, f"{base}/sites.geojson")
    assert status == 200
    assert headers["Content-Disposition"] == f"attachment; filename=case-{world.case}-sites.geojson"
    assert json.loads(body)["features"] == [rubaya(world)]
    status, _, body = get(staff.client, f"{base}/geotags.geojson?precision=3")
    expected = photo_geotag(instance, world, 3, geodata.rounding_error_m(3))
    assert json.loads(body)["features"] == [expected]
    status, _, body = get(staff.client, f"{base}/chain-links.csv")
    # Only the link the case's photo supports: the shared one touches its site, unsupported.
    assert [(r["id"], r["to_name"], r["evidence"]) for r in rows(body)] == [
        (str(world.link), "Maison Tantale", "1")
    ]
    assert [e["case"] for e in exported_events(instance)] == [world.case] * 3
    # The case's timeline shows the exports (the event names the case).
    page = staff.client.get(f"/cases/{world.case}").get_data(as_text=True)
    assert geodata.EXPORTED in page
    assert f"{base}/chain-links.csv" in page


def test_a_merged_case_sends_its_exports_to_the_case_it_joined(
    staff: Staff, instance: Instance, world: World
) -> None:
    with transaction(instance.sessions) as session:
        user = get_user(session, "investigator")
        spare = cases.create_case(session, user=user, references=[world.refs[1]], title="Spare")
        cases.merge_cases(
            session,
            user=user,
            user_key=unlock_user_key(user, STAFF_PASSWORD),
            case_id=spare.id,
            into_id=world.case,
        )
        spare_id = spare.id
    staff.log_in()
    response = staff.client.get(f"/cases/{spare_id}/export/geotags.geojson?precision=2")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/cases/{world.case}/export/geotags.geojson?precision=2"
    assert exported_events(instance) == []


# -- desks are compartments -------------------------------------------------------------------


def test_another_desks_rows_never_appear_and_shared_links_do(
    instance: Instance, casework_app: Any, world: World
) -> None:
    outsider = Staff(casework_app.test_client(), make_account_view(instance, "outsider"))
    outsider.log_in()
    _, _, body = get(outsider.client, f"/desks/{OTHER}/export/chain-links.csv")
    found = {int(r["id"]): r for r in rows(body)}
    # Its own link and the shared one at the same site; never drc-minerals' link to the trader.
    assert set(found) == {world.other_link, world.shared}
    assert found[world.other_link]["to_name"] == SECRET_BUYER
    assert b"Maison Tantale" not in body
    _, _, body = get(outsider.client, f"/desks/{OTHER}/export/geotags.geojson")
    assert [f["id"] for f in json.loads(body)["features"]] == [world.other_geotag]
    # And the investigator of drc-minerals never meets the secret buyer or the other geotag.
    staff = Staff(casework_app.test_client(), make_account_view(instance, "investigator"))
    staff.log_in()
    for name in ("sites.geojson", "geotags.geojson", "chain-links.csv"):
        _, _, body = get(staff.client, f"/desks/{DESK}/export/{name}")
        assert SECRET_BUYER.encode() not in body
        assert world.other_ref.encode() not in body
        assert b"Bisie" not in body  # the far shared link touches nothing of this desk
        assert b"Comptoir Rival" not in body
    _, _, body = get(staff.client, f"/desks/{DESK}/export/geotags.geojson")
    assert [f["id"] for f in json.loads(body)["features"]] == [world.geotag]


def make_account_view(instance: Instance, username: str) -> StaffAccount:
    with instance.sessions() as session:
        return StaffAccount(username, STAFF_PASSWORD, get_user(session, username).totp_secret)


def test_non_members_get_404_and_nothing_is_audited(
    instance: Instance, casework_app: Any, world: World
) -> None:
    outsider = Staff(casework_app.test_client(), make_account_view(instance, "outsider"))
    outsider.log_in()
    missing = get(outsider.client, "/desks/no-such-desk/export/sites.geojson")
    for name in ("sites.geojson", "geotags.geojson", "chain-links.csv"):
        for path in (f"/desks/{DESK}/export/{name}", f"/cases/{world.case}/export/{name}"):
            status, headers, body = get(outsider.client, path)
            assert status == 404, path
            assert (status, body) == missing[0::2], path
            assert "Content-Disposition" not in headers
    assert exported_events(instance) == []
    # Signed out: to the sign-in page.
    response = casework_app.test_client().get(f"/desks/{DESK}/export/sites.geojson")
    assert (response.status_code, response.headers["Location"]) == (303, "/login")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/desks/{DESK}/export/sites.json", 404),
        (f"/desks/{DESK}/export/..%2Fmap", 404),
        (f"/desks/{DESK}/export/geotags.geojson?precision=7", 400),
        (f"/desks/{DESK}/export/geotags.geojson?precision=-1", 400),
        (f"/desks/{DESK}/export/geotags.geojson?precision=two", 400),
        (f"/desks/{DESK}/export/geotags.geojson?precision=%00", 400),
        ("/cases/99999999999999999999/export/sites.geojson", 404),
        ("/cases/99999/export/sites.geojson", 404),
    ],
)
def test_bad_export_requests_get_a_clear_4xx(
    staff: Staff, instance: Instance, world: World, path: str, status: int
) -> None:
    staff.log_in()
    assert staff.client.get(path).status_code == status
    assert exported_events(instance) == []


# -- formula injection and rounding -----------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_that_a_spreadsheet_would_compute_is_made_text(text: str) -> None:
    assert geodata.safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Maison Tantale", "2024-01-01", "12", "", "a=b", "Comptoir +"])
def test_ordinary_cells_are_left_alone(text: str) -> None:
    assert geodata.safe_cell(text) == text


def test_chain_link_names_that_look_like_formulas_arrive_as_text(
    staff: Staff, instance: Instance, world: World
) -> None:
    with transaction(instance.sessions) as session:
        actors = [add(session, an_actor(name, ActorKind.TRADER)).id for name in FORMULAS]
    for actor in actors:
        chain_link(instance, "investigator", DESK, world.refs[0], world.site, actor)
    staff.log_in()
    _, _, body = get(staff.client, f"/desks/{DESK}/export/chain-links.csv")
    names = {r["to_name"] for r in rows(body)}
    assert names >= {"'" + name for name in FORMULAS}
    assert not any(name.startswith(geodata.FORMULA_STARTS) for name in names)


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 4, 5, 6])
def test_geotags_are_rounded_and_their_precision_widened_by_the_rounding(
    staff: Staff, instance: Instance, world: World, decimals: int
) -> None:
    staff.log_in()
    _, _, body = get(staff.client, f"/desks/{DESK}/export/geotags.geojson?precision={decimals}")
    [feature] = json.loads(body)["features"]
    lon, lat = feature["geometry"]["coordinates"]
    assert (lon, lat) == (round(PHOTO[1], decimals), round(PHOTO[0], decimals))
    # Rounding moved the point by at most half a step on each axis, and the export says so.
    moved_m = geo.distance_km(PHOTO[0], PHOTO[1], lat, lon) * 1000
    half_step_m = geo.distance_km(0, 0, 0.5 * 10**-decimals, 0.5 * 10**-decimals) * 1000
    assert moved_m <= half_step_m
    stated = feature["properties"]["precision_m"]
    assert abs(geodata.rounding_error_m(decimals) - half_step_m) <= 1
    assert stated == max(geo.CONSENTED_PRECISION_M, geodata.rounding_error_m(decimals))
    assert stated >= moved_m
    assert exported_events(instance)[-1]["decimals"] == decimals


def test_evidence_documenting_an_actor_brings_in_the_shared_links_that_touch_it(
    staff: Staff, instance: Instance, world: World
) -> None:
    with transaction(instance.sessions) as session:
        rival = session.scalars(select(Actor).where(Actor.name == "Comptoir Rival")).one()
        chains.link_evidence(
            session,
            user=get_user(session, "investigator"),
            slug=DESK,
            reference=world.refs[0],
            numbers=[1],
            actor_id=rival.id,
        )
    staff.log_in()
    _, _, body = get(staff.client, f"/desks/{DESK}/export/chain-links.csv")
    assert {int(r["id"]) for r in rows(body)} == {world.shared, world.link, world.far_shared}
    _, _, body = get(staff.client, f"/desks/{DESK}/export/sites.geojson")
    names = [f["properties"]["name"] for f in json.loads(body)["features"]]
    assert sorted(names) == ["Bisie", "Rubaya D2"]  # the far link's site comes with it
    # The case's export still holds only what its files support: a documented actor is no link.
    _, _, body = get(staff.client, f"/cases/{world.case}/export/chain-links.csv")
    assert {int(r["id"]) for r in rows(body)} == {world.link}
