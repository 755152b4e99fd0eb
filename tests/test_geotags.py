"""Geotags and nearest mine sites: the query against brute force, the routes, the map's query.

Runs on SQLite and PostgreSQL. Geotags are investigator-authored plaintext (DESIGN.md §6), but
desk content all the same: a member of another desk gets 404 and sees none of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from casework import cases, geo
from casework.geo import InvalidGeotag, MapFilters
from casework.models import Geotag, GeotagMethod, MineSite
from filon.accounts import get_user
from filon.db import Base, make_engine, transaction
from filon.desks import create_desk, get_desk
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import CustodyEvent
from intake import demo
from intake.demo import seed_submissions
from intake.submission import submit
from tests.conftest import Staff, StaffAccount, csrf_token, make_account

DESK = "drc-minerals"
# The demo photo's consented GPS position: 1°40'12" S, 28°52'30" E (near Rubaya).
PHOTO = (-(1 + 40 / 60 + 12 / 3600), 28 + 52 / 60 + 30 / 3600)
NOW = dt.datetime(2026, 11, 22, 10)


def site(n: int, lat: float, lon: float, **more: Any) -> MineSite:
    return MineSite(
        dataset="test",
        external_id=f"T-{n}",
        name=more.pop("name", f"Site {n}"),
        latitude=lat,
        longitude=lon,
        minerals=more.pop("minerals", []),
        updated_hour=NOW,
        **more,
    )


# -- distances and boxes ----------------------------------------------------------------------


def test_a_degree_of_latitude_is_about_111_km() -> None:
    assert geo.distance_km(0, 0, 1, 0) == pytest.approx(111.195, abs=0.001)
    assert geo.distance_km(10, 179.9, 10, -179.9) == pytest.approx(21.9, abs=0.1)
    assert geo.distance_km(89.9, 0, 89.9, 180) == pytest.approx(22.24, abs=0.01)


def test_a_box_across_the_antimeridian_is_two_ranges() -> None:
    box = geo.bounding_box(0.0, 179.95, 25)
    assert len(box.longitudes) == 2
    (west, east), (west2, east2) = box.longitudes
    assert east == 180.0
    assert west2 == -180.0
    assert east2 == pytest.approx(-179.825, abs=0.001)  # 0.225° past 180
    assert west == pytest.approx(179.725, abs=0.001)
    assert geo.bounding_box(0.0, -179.95, 25).longitudes[0][0] > 179.7


def test_a_box_reaching_a_pole_spans_every_longitude() -> None:
    for lat in (89.9, -89.9):
        box = geo.bounding_box(lat, 12.0, 25)
        assert box.longitudes == ((-180.0, 180.0),)
        assert box.north == 90.0 if lat > 0 else box.south == -90.0


def test_the_longitude_span_widens_with_latitude() -> None:
    span = [geo.bounding_box(lat, 0, 25).longitudes[0] for lat in (0, 60, 80)]
    widths = [east - west for west, east in span]
    assert widths[0] < widths[1] < widths[2]
    assert widths[1] == pytest.approx(2 * widths[0], rel=0.01)  # 1 / cos(60°)


# -- nearest sites against brute force --------------------------------------------------------


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


# Where random sites cluster: eastern DRC, the antimeridian, both poles, and anywhere.
CLUSTERS = [
    (-2.0, 28.5, 1.5),
    (-1.56, 28.88, 0.05),  # a district packed tight: the stepped search stops early there
    (0.0, 179.9, 0.5),
    (89.8, 0.0, 0.3),
    (-89.8, 0.0, 0.3),
]


def random_sites(rng: random.Random, count: int) -> list[tuple[float, float]]:
    points = []
    for n in range(count):
        if n % 6 == 5:
            points.append((rng.uniform(-90, 90), rng.uniform(-180, 180)))
            continue
        lat0, lon0, spread = CLUSTERS[n % 6]
        lat = max(-90.0, min(90.0, lat0 + rng.uniform(-spread, spread)))
        lon = lon0 + rng.uniform(-spread * 4, spread * 4)
        lon = (lon + 180) % 360 - 180  # wrap across the antimeridian
        points.append((lat, lon))
    return points


@pytest.fixture
def sites(engine: Engine) -> list[tuple[int, float, float]]:
    points = random_sites(random.Random(5), 2_000)  # noqa: S311 - test data, not secrets
    with Session(engine) as session, session.begin():
        session.add_all(site(n, lat, lon) for n, (lat, lon) in enumerate(points))
    with Session(engine) as session:
        return [
            tuple(row)
            for row in session.execute(select(MineSite.id, MineSite.latitude, MineSite.longitude))
        ]  # type: ignore[misc]


def brute_force(
    points: list[tuple[int, float, float]], lat: float, lon: float, radius: float, limit: int
) -> list[tuple[int, float]]:
    found = sorted(
        (geo.distance_km(lat, lon, site_lat, site_lon), site_id)
        for site_id, site_lat, site_lon in points
    )
    return [(site_id, d) for d, site_id in found if d <= radius][:limit]


near_edges = st.one_of(
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.floats(-3.5, -0.5), st.floats(27, 30)),
    st.tuples(st.floats(-1.7, -1.4), st.floats(28.7, 29.1)),
    st.tuples(st.floats(-1, 1), st.sampled_from([179.99, -179.99, 180.0, -180.0])),
    st.tuples(st.sampled_from([90.0, -90.0, 89.99, -89.99]), st.floats(-180, 180)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    point=near_edges,
    radius=st.floats(0.5, geo.MAX_RADIUS_KM),
    limit=st.integers(1, 40),
)
def test_nearest_sites_match_brute_force(
    engine: Engine,
    sites: list[tuple[int, float, float]],
    point: tuple[float, float],
    radius: float,
    limit: int,
) -> None:
    lat, lon = point
    with Session(engine) as session:
        found = geo.nearest_sites(session, lat, lon, radius, limit)
    expected = brute_force(sites, lat, lon, radius, limit)
    assert [s.id for s, _ in found] == [site_id for site_id, _ in expected]
    assert [d for _, d in found] == pytest.approx([d for _, d in expected])


def test_nearest_sites_reach_across_the_antimeridian_and_the_pole(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                site(1, 0.0, 179.95, name="East of the line"),
                site(2, 0.0, -179.95, name="West of the line"),
                site(3, 89.95, 180.0, name="Over the pole"),
                site(4, 89.95, 0.0, name="This side of the pole"),
                site(5, -1.6, 28.9, name="Rubaya"),
            ]
        )
    with Session(engine) as session:
        across = geo.nearest_sites(session, 0.0, -179.99, 25)
        assert [s.name for s, _ in across] == ["West of the line", "East of the line"]
        assert across[1][1] == pytest.approx(geo.distance_km(0, -179.99, 0, 179.95))
        polar = geo.nearest_sites(session, 89.99, 90.0, 25)
        assert sorted(s.name for s, _ in polar) == ["Over the pole", "This side of the pole"]
        # At the pole, every site 5.56 km down is as near as any other, whatever its longitude.
        at_pole = geo.nearest_sites(session, 90.0, 0.0, 10)
        assert sorted(s.name for s, _ in at_pole) == ["Over the pole", "This side of the pole"]
        assert [d for _, d in at_pole] == pytest.approx([5.56, 5.56], abs=0.01)
        assert geo.nearest_sites(session, *PHOTO, radius_km=1) == []
        assert [s.name for s, _ in geo.nearest_sites(session, *PHOTO)] == ["Rubaya"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((91.0, 0.0), "latitude must be from -90 to 90"),
        ((0.0, -180.5), "longitude must be from -180 to 180"),
        ((math.nan, 0.0), "latitude must be a finite number"),
        ((0.0, math.inf), "longitude must be a finite number"),
        ((0.0, 0.0, 0.0), "radius must be above 0"),
        ((0.0, 0.0, 501.0), "radius must be above 0 and at most 500 km"),
        ((0.0, 0.0, 25.0, 0), "ask for 1 to 100 sites"),
    ],
)
def test_nearest_sites_refuse_bad_input(
    engine: Engine, args: tuple[Any, ...], message: str
) -> None:
    with Session(engine) as session, pytest.raises(InvalidGeotag, match=message):
        geo.nearest_sites(session, *args)


# -- the routes -------------------------------------------------------------------------------


@pytest.fixture
def receipts(instance: Instance, investigator: StaffAccount) -> list[str]:
    """The demo's two submissions to drc-minerals (the first has the photo), and sites near."""
    made = [outcome.receipt for outcome in seed_submissions(instance, DESK)]
    with transaction(instance.sessions) as session:
        session.add_all(
            [
                site(1, -1.58, 28.88, name="Rubaya D2", minerals=["coltan"]),  # ~10 km
                site(2, -1.671, 28.876, name="Luwowo", minerals=["cassiterite"]),  # ~0.2 km
                site(3, -1.40, 28.88, name="Far north"),  # ~30 km: outside 25 km
            ]
        )
    return made


def post(staff: Staff, path: str, **data: str) -> Any:
    return staff.client.post(path, data={"csrf_token": csrf_token(staff.client), **data})


def geotags(instance: Instance) -> list[Geotag]:
    with instance.sessions() as session:
        return list(session.scalars(select(Geotag).order_by(Geotag.id)))


def audit_events(instance: Instance) -> list[tuple[str, dict[str, Any]]]:
    import json

    with instance.sessions() as session:
        events = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == f"audit:{DESK}")
            .order_by(CustodyEvent.seq)
        )
        return [(e.action, json.loads(e.details)) for e in events if e.action.startswith("geotag")]


def test_one_click_turns_a_consented_location_into_a_geotag(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    page = staff.client.get(f"/submissions/{receipts[0]}").get_data(as_text=True)
    assert "stored in plaintext" in page  # said before the click
    assert "Make a geotag from this location" in page
    response = post(staff, f"/submissions/{receipts[0]}/geotags", method="consented", file="1")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/submissions/{receipts[0]}#geotags"
    [made] = geotags(instance)
    assert (made.latitude, made.longitude) == pytest.approx(PHOTO, abs=1e-6)
    assert made.method is GeotagMethod.CONSENTED
    assert made.precision_m == geo.CONSENTED_PRECISION_M
    assert made.evidence_id is not None
    assert made.created_hour.minute == 0
    assert audit_events(instance) == [
        (
            "geotag_created",
            {"geotag": made.id, "submission": receipts[0], "method": "consented", "file": 1},
        )
    ]
    page = staff.client.get(f"/submissions/{receipts[0]}").get_data(as_text=True)
    section = page.split('id="geotags"', 1)[1].split("Place a geotag by hand", 1)[0]
    # The proposed sites, nearest first, with distances; the one 30 km away is not proposed.
    assert section.index("Luwowo") < section.index("Rubaya D2")
    assert "Far north" not in section
    assert f"{geo.distance_km(*PHOTO, -1.671, 28.876):.1f} km" in section
    with instance.sessions() as session:
        luwowo = session.scalars(select(MineSite).where(MineSite.name == "Luwowo")).one()
    link = f"/desks/{DESK}/chain-links/new?site={luwowo.id}&amp;submission={receipts[0]}"
    assert link in section


def test_a_geotag_placed_by_hand_is_corrected_and_deleted_with_an_audit_each(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    response = post(
        staff,
        f"/submissions/{receipts[1]}/geotags",
        method="text",
        latitude="-1,6",  # a French keyboard's decimal comma
        longitude=" 28.9 ",
        precision_m="5000",
        note="the report names the washing site at Rubaya",
    )
    assert response.status_code == 303
    [made] = geotags(instance)
    assert (made.latitude, made.longitude, made.precision_m) == (-1.6, 28.9, 5000)
    assert (made.method, made.evidence_id, made.case_id) == (GeotagMethod.TEXT, None, None)
    response = post(
        staff,
        f"/geotags/{made.id}",
        method="investigator",
        latitude="-1.671",
        longitude="28.876",
        precision_m="30",
        note="moved to the pit seen on the photo",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/submissions/{receipts[1]}#geotags"
    [moved] = geotags(instance)
    assert (moved.latitude, moved.longitude, moved.precision_m) == (-1.671, 28.876, 30)
    assert moved.method is GeotagMethod.INVESTIGATOR
    page = staff.client.get(f"/submissions/{receipts[1]}").get_data(as_text=True)
    assert "moved to the pit seen on the photo" in page
    assert post(staff, f"/geotags/{made.id}/delete").status_code == 303
    assert geotags(instance) == []
    assert [(action, details.get("fields")) for action, details in audit_events(instance)] == [
        ("geotag_created", None),
        ("geotag_corrected", ["latitude", "longitude", "method", "note", "precision_m"]),
        ("geotag_deleted", None),
    ]
    # The audit trail names what changed, never the position itself.
    assert all("28.876" not in str(details) for _, details in audit_events(instance))


BAD_PLACEMENTS = [
    ({"latitude": "91", "longitude": "28", "precision_m": "10"}, "latitude must be from -90 to 90"),
    ({"latitude": "-1", "longitude": "-181", "precision_m": "10"}, "longitude must be from"),
    ({"latitude": "nan", "longitude": "28", "precision_m": "10"}, "latitude must be a finite"),
    ({"latitude": "1", "longitude": "inf", "precision_m": "10"}, "longitude must be a finite"),
    ({"latitude": "north", "longitude": "28", "precision_m": "10"}, "is not a number"),
    ({"latitude": "", "longitude": "28", "precision_m": "10"}, "the latitude is missing"),
    ({"latitude": "1", "longitude": "28", "precision_m": "0.4"}, "precision must be from 1 m"),
    ({"latitude": "1", "longitude": "28", "precision_m": "100001"}, "to 100 km"),
    ({"latitude": "1", "longitude": "28", "precision_m": "1e400"}, "precision must be a finite"),
    (
        {"latitude": "1" * 41, "longitude": "28", "precision_m": "10"},
        "latitude: Field cannot be longer than 40",
    ),
    (
        {"latitude": "1", "longitude": "2", "precision_m": "9", "note": "n" * 201},
        "note: Field cannot be longer than 200",
    ),
    ({"latitude": "1", "longitude": "2", "precision_m": "9", "file": "7"}, "has no file 7"),
    ({"latitude": "1", "longitude": "2", "precision_m": "9", "file": "x"}, "file: Not a valid"),
    ({"latitude": "1", "longitude": "2", "precision_m": "9", "method": "consented"}, "say which"),
    (
        {"latitude": "1", "longitude": "2", "precision_m": "9", "method": "gps"},
        "Not a valid choice",
    ),
    ({"method": "consented", "file": "1"}, "the submission has no file 1"),  # text only
]


@pytest.mark.parametrize(("data", "message"), BAD_PLACEMENTS)
def test_bad_placements_get_a_clear_400_and_change_nothing(
    staff: Staff, instance: Instance, receipts: list[str], data: dict[str, str], message: str
) -> None:
    staff.log_in()
    response = post(
        staff, f"/submissions/{receipts[1]}/geotags", **{"method": "investigator", **data}
    )
    assert response.status_code == 400
    assert str(escape(message)) in response.get_data(as_text=True)
    assert geotags(instance) == []
    assert audit_events(instance) == []


def test_a_file_without_a_consented_location_makes_no_consented_geotag(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    """The source kept its photo's position to itself: nothing to copy, said plainly."""
    incoming = dataclasses.replace(
        demo._incoming(instance, "IMG_0043.jpg", "image/jpeg", demo.sample_photo()),
        keep_location=False,
    )
    withheld = submit(
        instance,
        desk_slug=DESK,
        lang="en",
        answers={"report": "Photo of the pit."},
        files=[incoming],
        codename=None,
    )
    staff.log_in()
    page = staff.client.get(f"/submissions/{withheld.receipt}").get_data(as_text=True)
    assert "withheld by the source" in page
    assert "Make a geotag from this location" not in page
    response = post(staff, f"/submissions/{withheld.receipt}/geotags", method="consented", file="1")
    assert response.status_code == 400
    assert "file 1 carries no location its source consented to share" in response.get_data(
        as_text=True
    )
    assert geotags(instance) == []


def test_a_correction_is_checked_like_a_placement_and_cannot_claim_consent(
    staff: Staff, instance: Instance, receipts: list[str]
) -> None:
    staff.log_in()
    post(staff, f"/submissions/{receipts[0]}/geotags", method="consented", file="1")
    [made] = geotags(instance)
    fields = {"latitude": "1", "longitude": "2", "precision_m": "10"}
    for data, message in [
        ({**fields, "method": "consented"}, "Not a valid choice"),
        ({**fields, "method": "investigator", "latitude": "-90.5"}, "latitude must be"),
    ]:
        response = post(staff, f"/geotags/{made.id}", **data)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert post(staff, "/geotags/99999999999999999999", **fields).status_code == 404
    assert post(staff, "/geotags/987654/delete").status_code == 404
    assert geotags(instance)[0].latitude == made.latitude


def test_a_geotag_of_a_merged_case_moves_with_it_and_a_tombstone_takes_none(
    staff: Staff, instance: Instance, investigator: StaffAccount, receipts: list[str]
) -> None:
    with transaction(instance.sessions) as session:
        user = get_user(session, investigator.username)
        first = cases.create_case(session, user=user, references=[receipts[0]], title="One")
        second = cases.create_case(session, user=user, references=[receipts[1]], title="Two")
        first_id, second_id = first.id, second.id
    staff.log_in()
    response = post(
        staff,
        f"/submissions/{receipts[0]}/geotags",
        method="consented",
        file="1",
        case=str(first_id),
    )
    assert response.status_code == 303
    assert post(staff, f"/cases/{first_id}/merge", into=str(second_id)).status_code == 303
    [moved] = geotags(instance)
    assert moved.case_id == second_id  # the tombstone keeps no place that could not change
    response = post(
        staff,
        f"/submissions/{receipts[0]}/geotags",
        method="consented",
        file="1",
        case=str(first_id),
    )
    assert response.status_code == 400
    assert f"was merged into case {second_id}" in response.get_data(as_text=True)
    # The case's timeline shows the geotag made for it.
    assert "geotag_created" in staff.client.get(f"/cases/{second_id}").get_data(as_text=True)


@pytest.fixture
def outsider(instance: Instance, receipts: list[str]) -> tuple[Staff, str]:
    """A member of another desk, signed in, and a submission of their own desk."""
    from casework import create_app

    account = make_account(instance, "outsider", "investigator")
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="other-desk",
            name="Other desk",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(get_user(session, "outsider"), True)],
        )
    own = submit(
        instance,
        desk_slug="other-desk",
        lang="en",
        answers={"report": "x"},
        files=[],
        codename=None,
    )
    app = create_app(instance.settings, instance)
    app.config.update(TESTING=True, PREFERRED_URL_SCHEME="https")
    staff = Staff(app.test_client(), account)
    assert staff.log_in().status_code == 303
    return staff, own.receipt


def test_another_desks_member_gets_404_and_sees_no_geotag(
    staff: Staff,
    instance: Instance,
    receipts: list[str],
    outsider: tuple[Staff, str],
) -> None:
    staff.log_in()
    post(staff, f"/submissions/{receipts[0]}/geotags", method="consented", file="1")
    [made] = geotags(instance)
    other, own_receipt = outsider
    fields = {"method": "investigator", "latitude": "1", "longitude": "2", "precision_m": "10"}
    for path, data in [
        (f"/submissions/{receipts[0]}/geotags", {"method": "consented", "file": "1"}),
        (f"/submissions/{receipts[1]}/geotags", fields),
        (f"/geotags/{made.id}", fields),
        (f"/geotags/{made.id}/delete", {}),
    ]:
        response = post(other, path, **data)
        assert response.status_code == 404, path
        missing = post(
            other, path.replace(str(made.id), "987654").replace(receipts[0], "FLN-NOPE"), **data
        )
        assert (missing.status_code, missing.get_data()) == (404, response.get_data())
    assert [(g.id, g.latitude) for g in geotags(instance)] == [(made.id, made.latitude)]
    # Their own submission takes a geotag; a case of this desk cannot be named on it.
    assert post(other, f"/submissions/{own_receipt}/geotags", **fields).status_code == 303
    with instance.sessions() as session:
        desks = {d.slug: d.id for d in (get_desk(session, DESK), get_desk(session, "other-desk"))}
        theirs = geo.geotags_in_bbox(session, [desks["other-desk"]], (-180, -90, 180, 90))
        assert [row.reference for row in theirs] == [own_receipt.upper()]
        ours = geo.geotags_in_bbox(session, [desks[DESK]], (-180, -90, 180, 90))
        assert [row.id for row in ours] == [made.id]


def test_a_case_of_another_desk_cannot_be_placed(
    staff: Staff, instance: Instance, receipts: list[str], outsider: tuple[Staff, str]
) -> None:
    other, own_receipt = outsider
    with transaction(instance.sessions) as session:
        user = get_user(session, "outsider")
        theirs = cases.create_case(session, user=user, references=[own_receipt], title="Theirs")
        their_case = theirs.id
    staff.log_in()
    response = post(
        staff,
        f"/submissions/{receipts[0]}/geotags",
        method="consented",
        file="1",
        case=str(their_case),
    )
    assert response.status_code == 404
    assert geotags(instance) == []


# -- the map's query --------------------------------------------------------------------------


def test_geotags_in_bbox_filter_by_area_labels_and_day(
    instance: Instance, investigator: StaffAccount, receipts: list[str]
) -> None:
    with transaction(instance.sessions) as session:
        user = get_user(session, investigator.username)
        desk = get_desk(session, DESK)
        case = cases.create_case(session, user=user, references=[receipts[0]], title="Rubaya")
        cases.update_case(
            session,
            user=user,
            case_id=case.id,
            title="Rubaya",
            priority=case.priority,
            assignee=None,
            summary="",
            minerals=["Coltan"],
            risk_categories=["armed_groups"],
            tags=[],
        )
        position = geo.check_position(-1.6, 28.9, 100)
        on_case = geo.place_geotag(
            session,
            user=user,
            reference=receipts[1],
            position=position,
            method=GeotagMethod.INVESTIGATOR,
            note="",
            case_id=case.id,
        )
        # No case of its own: it takes the labels of its submission's case.
        via_submission = geo.place_geotag(
            session,
            user=user,
            reference=receipts[0],
            position=geo.check_position(-1.7, 28.8, 100),
            method=GeotagMethod.TEXT,
            note="",
        )
        loose = geo.place_geotag(
            session,
            user=user,
            reference=receipts[1],
            position=geo.check_position(0.5, 179.9, 100),
            method=GeotagMethod.INVESTIGATOR,
            note="",
        )
        # A second case of the first submission: a geotag placing neither has both's labels.
        gold = cases.create_case(session, user=user, references=[receipts[0]], title="Gold")
        cases.update_case(
            session,
            user=user,
            case_id=gold.id,
            title="Gold",
            priority=gold.priority,
            assignee=None,
            summary="",
            minerals=["gold"],
            risk_categories=["taxes"],
            tags=["not-a-mineral"],
        )
        ids = (on_case.id, via_submission.id, loose.id)
        desk_id, case_ids = desk.id, (case.id, gold.id)

    def found(bbox: tuple[float, float, float, float], **filters: Any) -> list[int]:
        with instance.sessions() as session:
            rows = geo.geotags_in_bbox(session, [desk_id], bbox, MapFilters(**filters))
            return [row.id for row in rows]

    on_case_id, via_id, loose_id = ids
    world = (-180.0, -90.0, 180.0, 90.0)
    assert found(world) == [on_case_id, via_id, loose_id]
    assert found((28, -2, 29, -1)) == [on_case_id, via_id]
    assert found((179, 0, -179, 1)) == [loose_id]  # across the antimeridian
    assert found((-179, 0, 179, 1)) == []  # the other way round: the whole world but there
    assert found(world, mineral="coltan") == [on_case_id, via_id]
    assert found(world, mineral="COLTAN", risk="armed_groups") == [on_case_id, via_id]
    assert found(world, mineral="gold") == [via_id]
    assert found(world, mineral="gold", risk="armed_groups") == [via_id]
    assert found(world, mineral="cobalt") == []
    assert found(world, risk="taxes", until=dt.date(2020, 1, 1)) == []
    today = dt.datetime.now(dt.UTC).date()
    assert found(world, since=today - dt.timedelta(days=1), until=today) == [
        on_case_id,
        via_id,
        loose_id,
    ]
    assert found(world, until=today - dt.timedelta(days=2)) == []
    with instance.sessions() as session:
        [row] = geo.geotags_in_bbox(session, [desk_id], (28.85, -1.65, 28.95, -1.55))
        assert (row.case_ids, row.minerals, row.risks) == (
            (case.id,),
            ("coltan",),
            ("armed_groups",),
        )
        assert (row.method, row.precision_m, row.reference) == ("investigator", 100, receipts[1])
        [via] = geo.geotags_in_bbox(session, [desk_id], (28.75, -1.75, 28.85, -1.65))
        assert (via.case_id, via.case_ids) == (None, case_ids)
        assert (via.minerals, via.risks) == (("coltan", "gold"), ("armed_groups", "taxes"))
        assert len(geo.geotags_in_bbox(session, [desk_id], world, limit=2)) == 2
        assert geo.geotags_in_bbox(session, [], world) == []
        for bad in [(0, 10, 1, 5), (0, -91, 1, 0), (math.nan, 0, 1, 1), (-181, 0, 0, 1)]:
            with pytest.raises(InvalidGeotag, match="bounding box"):
                geo.geotags_in_bbox(session, [desk_id], bad)  # type: ignore[arg-type]


def test_a_non_member_service_call_finds_nothing(instance: Instance, receipts: list[str]) -> None:
    make_account(instance, "stranger", "investigator")
    with transaction(instance.sessions) as session:
        stranger = get_user(session, "stranger")
        with pytest.raises(NotFound):
            geo.place_geotag(
                session,
                user=stranger,
                reference=receipts[0],
                position=geo.check_position(0, 0, 10),
                method=GeotagMethod.INVESTIGATOR,
                note="",
            )


def test_the_map_shows_the_desks_geotags_and_their_cases_to_its_members_only(
    staff: Staff, instance: Instance, receipts: list[str], outsider: tuple[Staff, str]
) -> None:
    staff.log_in()
    post(staff, f"/submissions/{receipts[0]}/geotags", method="consented", file="1")
    [made] = geotags(instance)
    with transaction(instance.sessions) as session:
        case = cases.create_case(
            session,
            user=get_user(session, "investigator"),
            references=[receipts[0]],
            title="Levies at Luwowo",
        )
        case_id = case.id
    features = f"/desks/{DESK}/map/features.geojson"
    drawn = staff.client.get(features, query_string={"bbox": "28,-2,29.5,-1"}).get_json()
    by_layer = {
        f["properties"]["layer"]: f for f in drawn["features"] if f["properties"]["layer"] != "site"
    }
    tag = by_layer["geotag"]
    assert tag["geometry"]["coordinates"] == pytest.approx([PHOTO[1], PHOTO[0]])
    assert tag["properties"]["id"] == made.id
    assert tag["properties"]["url"] == f"/submissions/{receipts[0]}#geotags"
    assert (tag["properties"]["method"], tag["properties"]["case_ids"]) == ("consented", [case_id])
    assert by_layer["case"]["properties"]["name"] == "Levies at Luwowo"
    assert by_layer["case"]["properties"]["url"] == f"/cases/{case_id}"
    # A filter no case of the geotag carries leaves it out; outside the area it is not drawn.
    for query in ({"bbox": "28,-2,29.5,-1", "risk": "child_labour"}, {"bbox": "0,0,10,10"}):
        drawn = staff.client.get(features, query_string=query).get_json()
        assert {f["properties"]["layer"] for f in drawn["features"]} <= {"site", "cluster"}
    other, _ = outsider
    assert other.client.get(features).status_code == 404
    theirs = other.client.get("/desks/other-desk/map/features.geojson").get_json()
    assert [f for f in theirs["features"] if f["properties"]["layer"] in ("geotag", "case")] == []
