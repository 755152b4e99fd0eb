"""Every casework route × every role: the exact answer, and nothing served or changed when refused.

The routes come from the app's own URL map, so a route added without an expectation here
fails :func:`test_every_route_has_an_expectation` by name. Each role runs against a world
made through the real intake pipeline: two submissions to ``drc-minerals`` (one with a
photo), one to another desk, a case with a sealed note, and a reply. A refused request must
leave the whole record (submissions, cases, notes, replies, audit trail) and the blob store
exactly as they were, and its body must carry none of the desk's content.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import delete, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart
from werkzeug.wrappers import Request

from casework import cases, geo, inbox
from casework.models import Actor, ActorKind, Case, CaseNote, GeotagMethod, MineSite
from casework.sessions import COOKIE_NAME, encode_cookie
from casework.views.auth import LOGIN_FAILED
from crypto.sealing import open_sealed
from filon.accounts import add_member, get_user, open_desk_key, unlock_user_key
from filon.db import Base, current_hour, transaction
from filon.desks import create_desk, get_desk
from filon.instance import Instance
from filon.models import CustodyEvent, DeskMembership, Reply, Source, Submission, SubmissionStatus
from filon.replies import create_reply
from intake.demo import SAMPLES, sample_photo, seed_submissions
from intake.sources import derive
from intake.submission import submit
from tests.conftest import STAFF_PASSWORD, Staff, StaffAccount, csrf_token, make_account

DESK = "drc-minerals"
OTHER_DESK = "other-desk"
REPORT = SAMPLES[0].answers["report"]
SECOND_REPORT = SAMPLES[1].answers["report"]
OTHER_REPORT = "Someone at the Antwerp bourse re-papers stones from Alrosa (example)."
NOTE = "The treasurer confirmed the second ledger (sealed note)."
CASE_TITLE = "Levies at the Rubaya washing site"
SPARE_TITLE = "A second lead on the washing site"
REPLY = "Thank you. Which day were the barriers put up?"
FILED_REPORT = "Filed for a source who called: the barrier moved to the bridge."
# Tables the server writes on its own on every request or sign-in: session bookkeeping,
# throttling counters and proof-of-work challenges. Everything else must stay as it was.
BOOKKEEPING = {"staff_sessions", "totp_steps", "rate_counters", "pow_challenges"}


# -- the world every role meets -------------------------------------------------------------------


@dataclass
class World:
    """What is on the instance before a role starts: receipts, a case, a codename."""

    refs: list[str]  # drc-minerals: the photo one, then the text-only one
    other_ref: str  # other-desk
    case_id: int  # on drc-minerals, from refs[0], with NOTE
    spare_id: int  # on drc-minerals, from refs[0], with refs[0]'s photo linked (link_id)
    link_id: int
    search_id: int  # the investigator's saved search on drc-minerals
    other_case_id: int  # on other-desk
    codename: str  # the source of refs[0]
    geotag_id: int  # on refs[0], placed by hand
    accounts: dict[str, StaffAccount] = field(default_factory=dict)
    site_id: int = 0  # a mine site of the register
    actor_id: int = 0  # a trader of the register


@pytest.fixture
def world(instance: Instance, investigator: StaffAccount) -> World:
    """Submissions through the intake, a second desk, staff of every kind, a case and a reply."""
    outcomes = seed_submissions(instance, DESK)
    accounts = {
        "investigator": investigator,
        "outsider": make_account(instance, "outsider", "investigator"),
        "journalist": make_account(instance, "journalist", "journalist"),
        "journalist-outside": make_account(instance, "journalist-outside", "journalist"),
        "admin": make_account(instance, "admin", "admin"),
        "admin-outside": make_account(instance, "admin-outside", "admin"),
        "former": make_account(instance, "former", "investigator"),
    }
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug=OTHER_DESK,
            name="Other desk",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(get_user(session, "outsider"), True)],
        )
        desk = get_desk(session, DESK)
        owner = get_user(session, "investigator")
        desk_key = open_desk_key(
            session, desk=desk, user=owner, user_key=unlock_user_key(owner, STAFF_PASSWORD)
        )
        for name in ("journalist", "admin", "former"):
            add_member(session, desk=desk, desk_key=desk_key, user=get_user(session, name))
    other = submit(
        instance,
        desk_slug=OTHER_DESK,
        lang="en",
        answers={"report": OTHER_REPORT},
        files=[],
        codename=None,
    )
    with transaction(instance.sessions) as session:
        owner, desk = get_user(session, "investigator"), get_desk(session, DESK)
        case = cases.create_case(
            session, user=owner, references=[outcomes[0].receipt], title=CASE_TITLE
        )
        cases.add_note(session, user=owner, case_id=case.id, text=NOTE)
        other_case = cases.create_case(
            session, user=get_user(session, "outsider"), references=[other.receipt], title="Bourse"
        )
        submission = session.scalars(
            select(Submission).where(Submission.reference == outcomes[0].receipt)
        ).one()
        create_reply(
            session,
            source=session.get_one(Source, submission.source_id),
            desk=desk,
            text=REPLY,
            author=owner,
        )
        spare = cases.create_case(
            session, user=owner, references=[outcomes[0].receipt], title=SPARE_TITLE
        )
        link = cases.link_evidence(
            session,
            user=owner,
            case_id=spare.id,
            reference=outcomes[0].receipt,
            number=1,
            comment="",
        )
        search = inbox.save_search(
            session, user=owner, slug=DESK, name="New ones", query="status=new"
        )
        geotag = geo.place_geotag(
            session,
            user=owner,
            reference=outcomes[0].receipt,
            position=geo.check_position(-1.58, 28.88, 500),
            method=GeotagMethod.TEXT,
            note="Named in the report.",
        )
        case_id, other_case_id, spare_id, link_id = case.id, other_case.id, spare.id, link.id
        search_id, geotag_id = search.id, geotag.id
        site = MineSite(
            dataset="test",
            external_id="SYN-1",
            name="Rubaya D2",
            latitude=-1.6,
            longitude=28.9,
            updated_hour=current_hour(),
        )
        actor = Actor(kind=ActorKind.TRADER, name="Maison Tantale", updated_hour=current_hour())
        session.add_all([site, actor])
        session.flush()
        site_id, actor_id = site.id, actor.id
    assert outcomes[0].codename is not None
    return World(
        refs=[o.receipt for o in outcomes],
        other_ref=other.receipt,
        case_id=case_id,
        spare_id=spare_id,
        link_id=link_id,
        search_id=search_id,
        other_case_id=other_case_id,
        codename=outcomes[0].codename,
        geotag_id=geotag_id,
        accounts=accounts,
        site_id=site_id,
        actor_id=actor_id,
    )


def snapshot(instance: Instance) -> dict[str, Any]:
    """Every row of every table but the bookkeeping ones, and every stored blob's digest."""
    rows: dict[str, Any] = {}
    with instance.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name not in BOOKKEEPING:
                rows[table.name] = sorted(map(repr, session.execute(select(table)).all()))
    rows["blobs"] = {
        blob_id: hashlib.sha256(instance.store.path(blob_id).read_bytes()).hexdigest()
        for blob_id in instance.store.ids()
    }
    return rows


def audit_actions(instance: Instance, slug: str = DESK) -> list[str]:
    with instance.sessions() as session:
        return list(
            session.scalars(
                select(CustodyEvent.action)
                .where(CustodyEvent.subject == f"audit:{slug}")
                .order_by(CustodyEvent.seq)
            )
        )


# -- the requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to a route; ``{ref}``, ``{ref2}``, ``{case}`` are filled from the world."""

    path: str
    data: tuple[tuple[str, str], ...] = ()


# (endpoint, method) → the request made. Every route of the URL map must be here.
CALLS: dict[tuple[str, str], Call] = {
    ("auth.login", "GET"): Call("/login"),
    ("desks.static", "GET"): Call("/static/casework/casework.css"),
    # The probes (filon/health.py): the same bare answer for everyone, signed in or not.
    ("health.healthz", "GET"): Call("/healthz"),
    ("health.readyz", "GET"): Call("/readyz"),
    ("desks.home", "GET"): Call("/"),
    ("desks.inbox", "GET"): Call(f"/desks/{DESK}"),
    ("desks.audit_trail", "GET"): Call(f"/desks/{DESK}/audit"),
    # The desk's map and its features (organisation-wide sites; desk content joins later).
    ("maps.map_page", "GET"): Call(f"/desks/{DESK}/map"),
    ("maps.features", "GET"): Call(f"/desks/{DESK}/map/features.geojson?bbox=26,-5,30,0"),
    # Exports of places and chain links: any member, audited; the world's geotag is in.
    ("exports.desk_file", "GET"): Call(f"/desks/{DESK}/export/geotags.geojson?precision=3"),
    ("exports.case_file", "GET"): Call("/cases/{case}/export/chain-links.csv"),
    # The map's libraries and basemap: the same public files for everyone, as the stylesheet.
    ("maps.vendor", "GET"): Call("/map/vendor/leaflet.js"),
    ("maps.basemap", "GET"): Call("/map/basemap/countries.geojson"),
    # The inbox's selection and saved searches (before the case from {ref2} attaches it).
    ("inbox.selection", "POST"): Call(
        f"/desks/{DESK}/selection",
        (("submission", "{ref2}"), ("action", "status"), ("status", "read"), ("back", "")),
    ),
    ("inbox.save_search", "POST"): Call(
        f"/desks/{DESK}/searches", (("name", "Read ones"), ("query", "status=read"))
    ),
    ("inbox.delete_search", "POST"): Call(f"/desks/{DESK}/searches/{{search}}/delete"),
    ("desks.submission", "GET"): Call("/submissions/{ref}"),
    ("desks.download", "GET"): Call("/submissions/{ref}/files/1"),
    ("desks.preview", "GET"): Call("/submissions/{ref}/files/1/preview"),
    ("desks.original", "GET"): Call("/submissions/{ref}/files/1/original"),
    ("desks.file_form", "GET"): Call("/file"),
    ("desks.file_submit", "POST"): Call(
        "/file", (("desk", DESK), ("report", FILED_REPORT), ("lang", "en"))
    ),
    ("desks.reply", "POST"): Call("/submissions/{ref}/replies", (("text", "A second question."),)),
    ("cases.listing", "GET"): Call(f"/desks/{DESK}/cases"),
    ("cases.create", "POST"): Call("/submissions/{ref2}/case", (("title", "Night trucks"),)),
    ("cases.case", "GET"): Call("/cases/{case}"),
    ("cases.status", "POST"): Call("/cases/{case}/status", (("status", "triage"),)),
    ("cases.update", "POST"): Call(
        "/cases/{case}",
        (("title", CASE_TITLE), ("priority", "high"), ("risk_categories", "taxes")),
    ),
    ("cases.note", "POST"): Call("/cases/{case}/notes", (("text", "A second note."),)),
    ("cases.link_evidence", "POST"): Call(
        "/submissions/{ref}/files/1/links", (("case", "{case}"), ("comment", "From the road."))
    ),
    ("cases.comment_evidence", "POST"): Call(
        "/cases/{spare}/evidence/{link}", (("comment", "Taken at dawn."),)
    ),
    ("cases.unlink_evidence", "POST"): Call("/cases/{spare}/evidence/{link}/unlink"),
    ("cases.merge", "POST"): Call("/cases/{spare}/merge", (("into", "{case}"),)),
    # Geotags: one from the photo's consented location; the world's own corrected, deleted.
    ("geotags.create", "POST"): Call(
        "/submissions/{ref}/geotags", (("method", "consented"), ("file", "1"))
    ),
    ("geotags.correct", "POST"): Call(
        "/geotags/{geotag}",
        (
            ("method", "investigator"),
            ("latitude", "-1.6"),
            ("longitude", "28.9"),
            ("precision_m", "200"),
            ("note", "Moved by hand."),
        ),
    ),
    ("geotags.delete", "POST"): Call("/geotags/{geotag}/delete"),
    # Registers under a desk: sites, actors and the desk's own chain links.
    ("registers.chain_link_form", "GET"): Call(
        f"/desks/{DESK}/chain-links/new?site={{site}}&submission={{ref}}"
    ),
    ("registers.chain_link_create", "POST"): Call(
        f"/desks/{DESK}/chain-links",
        (
            ("from_site", "{site}"),
            ("to_actor", "{actor}"),
            ("mineral", "coltan"),
            ("reference", "{ref}"),
            ("evidence", "1"),
        ),
    ),
    ("registers.site", "GET"): Call(f"/desks/{DESK}/sites/{{site}}"),
    ("registers.actors", "GET"): Call(f"/desks/{DESK}/actors?q=tantale"),
    ("registers.actor_create", "POST"): Call(
        f"/desks/{DESK}/actors", (("kind", "comptoir"), ("name", "Comptoir du Lac"))
    ),
    ("registers.actor", "GET"): Call(f"/desks/{DESK}/actors/{{actor}}"),
    # Exporting a dossier: only members whose membership allows exports (none in the world).
    ("dossier.choose", "GET"): Call("/cases/{case}/export"),
    ("dossier.download", "POST"): Call(
        "/cases/{case}/export", (("evidence", "1"), ("location_precision", "2"))
    ),
    # The account pages (any staff member): wrong passwords change nothing.
    ("account.account", "GET"): Call("/account"),
    ("account.change_password", "POST"): Call(
        "/account/password",
        (
            ("current_password", "wrong-password"),
            ("code", "000000"),
            ("new_password", "a-new-password-for-tests"),
            ("new_password_again", "a-new-password-for-tests"),
        ),
    ),
    ("account.step_up", "GET"): Call("/step-up?next=/"),
    ("account.step_up", "POST"): Call(
        "/step-up", (("password", "wrong-password"), ("code", "000000"), ("next", "/"))
    ),
    # The admin pages (admins only); every key operation first asks for a step-up.
    ("admin.index", "GET"): Call("/admin/"),
    ("admin.members", "GET"): Call(f"/admin/desks/{DESK}/members"),
    ("admin.add_member", "POST"): Call(f"/admin/desks/{DESK}/members", (("username", "outsider"),)),
    ("admin.confirm_remove", "GET"): Call(f"/admin/desks/{DESK}/members/journalist/remove"),
    ("admin.remove_member", "POST"): Call(f"/admin/desks/{DESK}/members/journalist/remove"),
    ("admin.confirm_reset", "GET"): Call("/admin/users/journalist/reset"),
    ("admin.reset", "POST"): Call("/admin/users/journalist/reset"),
    # Last two: signing out ends the session; a failed sign-in (wrong code) is the same for all.
    ("auth.logout", "POST"): Call("/logout"),
    ("auth.login", "POST"): Call(
        "/login", (("username", "investigator"), ("password", "wrong"), ("code", "000000"))
    ),
}

PUBLIC = {
    ("auth.login", "GET"),
    ("desks.static", "GET"),
    ("auth.logout", "POST"),
    ("health.healthz", "GET"),
    ("health.readyz", "GET"),
    ("maps.vendor", "GET"),
    ("maps.basemap", "GET"),
}
STAFF_ONLY = [key for key in CALLS if key not in PUBLIC and key != ("auth.login", "POST")]

ROLES = [
    "no session",
    "source",
    "journalist of no desk",
    "investigator of another desk",
    "admin of no desk",
    "member removed while signed in",
    "investigator of the desk",
    "journalist of the desk",
    "admin of the desk",
]
MEMBERS = {"investigator of the desk", "journalist of the desk", "admin of the desk"}
ACCOUNT = {
    "journalist of no desk": "journalist-outside",
    "investigator of another desk": "outsider",
    "admin of no desk": "admin-outside",
    "member removed while signed in": "former",
    "investigator of the desk": "investigator",
    "journalist of the desk": "journalist",
    "admin of the desk": "admin",
}

# An outcome: status, where a redirect leads (None: no redirect), and what a member's
# request records on the desk's audit trail.
Outcome = tuple[int, str | None]


ACCOUNT_ROUTES = [k for k in CALLS if k[0].startswith("account.")]
ADMIN_ROUTES = [k for k in CALLS if k[0].startswith("admin.")]
ADMINS = {"admin of no desk", "admin of the desk"}


def expected(role: str) -> dict[tuple[str, str], Outcome]:
    """What ``role`` gets from each route (paths use the world's placeholders)."""
    table: dict[tuple[str, str], Outcome] = {
        ("auth.login", "GET"): (200, None),
        ("desks.static", "GET"): (200, None),
        ("health.healthz", "GET"): (200, None),
        ("health.readyz", "GET"): (200, None),
        ("maps.vendor", "GET"): (200, None),
        ("maps.basemap", "GET"): (200, None),
        ("auth.logout", "POST"): (303, "/login"),
        ("auth.login", "POST"): (401, None),
    }
    if role in {"no session", "source"}:
        return {**table, **dict.fromkeys(STAFF_ONLY, (303, "/login"))}
    return {**table, **desk_outcomes(role), **account_outcomes(role)}


def desk_outcomes(role: str) -> dict[tuple[str, str], Outcome]:
    """The desk's inbox, submissions and cases: members only."""
    desk_routes = [k for k in STAFF_ONLY if k not in ACCOUNT_ROUTES + ADMIN_ROUTES]
    if role not in MEMBERS:
        # A desk, submission or case the user cannot open looks exactly like none at all.
        refused = dict.fromkeys(desk_routes, (404, None))
        home: Outcome = (303, f"/desks/{OTHER_DESK}") if "investigator" in role else (200, None)
        # The filing form lists only the user's own desks; filing into this one finds no desk.
        return {**refused, ("desks.home", "GET"): home, ("desks.file_form", "GET"): (200, None)}
    return {
        ("desks.home", "GET"): (303, f"/desks/{DESK}"),
        ("desks.inbox", "GET"): (200, None),
        ("desks.audit_trail", "GET"): (200, None),
        ("maps.map_page", "GET"): (200, None),
        ("maps.features", "GET"): (200, None),
        ("exports.desk_file", "GET"): (200, None),
        ("exports.case_file", "GET"): (200, None),
        ("inbox.selection", "POST"): (303, f"/desks/{DESK}"),
        ("inbox.save_search", "POST"): (303, f"/desks/{DESK}?status=read"),
        # A saved search is its owner's alone: another member finds none.
        ("inbox.delete_search", "POST"): (303, f"/desks/{DESK}")
        if role == "investigator of the desk"
        else (404, None),
        ("desks.submission", "GET"): (200, None),
        ("desks.download", "GET"): (200, None),
        ("desks.preview", "GET"): (200, None),
        ("desks.original", "GET"): (404, None),  # this desk keeps no originals
        ("desks.file_form", "GET"): (200, None),
        ("desks.file_submit", "POST"): (200, None),
        ("desks.reply", "POST"): (303, "/submissions/{ref}?sent=1"),
        ("cases.listing", "GET"): (200, None),
        ("cases.create", "POST"): (303, "/cases/{new_case}"),
        ("cases.case", "GET"): (200, None),
        ("cases.status", "POST"): (303, "/cases/{case}"),
        ("cases.update", "POST"): (303, "/cases/{case}"),
        ("cases.note", "POST"): (303, "/cases/{case}"),
        ("cases.link_evidence", "POST"): (303, "/cases/{case}"),
        ("cases.comment_evidence", "POST"): (303, "/cases/{spare}"),
        ("cases.unlink_evidence", "POST"): (303, "/cases/{spare}"),
        ("cases.merge", "POST"): (303, "/cases/{case}"),
        ("geotags.create", "POST"): (303, "/submissions/{ref}#geotags"),
        ("geotags.correct", "POST"): (303, "/submissions/{ref}#geotags"),
        ("geotags.delete", "POST"): (303, "/submissions/{ref}#geotags"),
        ("registers.chain_link_form", "GET"): (200, None),
        ("registers.chain_link_create", "POST"): (303, f"/desks/{DESK}/sites/{{site}}"),
        ("registers.site", "GET"): (200, None),
        ("registers.actors", "GET"): (200, None),
        ("registers.actor_create", "POST"): (303, f"/desks/{DESK}/actors/{{new_actor}}"),
        ("registers.actor", "GET"): (200, None),
        # No member of the world may export: refused before any step-up is asked for.
        ("dossier.choose", "GET"): (403, None),
        ("dossier.download", "POST"): (403, None),
    }


def account_outcomes(role: str) -> dict[tuple[str, str], Outcome]:
    """Any staff member's own account pages; the admin pages for admins only."""
    own: dict[tuple[str, str], Outcome] = {
        ("account.account", "GET"): (200, None),
        ("account.change_password", "POST"): (401, None),  # the wrong current password
        ("account.step_up", "GET"): (200, None),
        ("account.step_up", "POST"): (401, None),
    }
    if role not in ADMINS:
        return {**own, **dict.fromkeys(ADMIN_ROUTES, (403, None))}
    admin: dict[tuple[str, str], Outcome] = {
        key: (200, None) for key in ADMIN_ROUTES if key[1] == "GET"
    }
    for key in ADMIN_ROUTES:
        if key[1] == "POST":  # a key operation without a fresh step-up: asked for one first
            path = CALLS[key].path
            admin[key] = (303, f"/step-up?next={path}")
    return {**own, **admin}


# What a member's request adds to the desk's audit trail (and nothing else records one).
AUDITED = {
    ("desks.submission", "GET"): ["viewed"],
    ("desks.download", "GET"): ["downloaded"],
    ("desks.reply", "POST"): ["replied"],
    ("cases.create", "POST"): ["case_created"],
    ("cases.case", "GET"): ["case_viewed"],
    ("cases.status", "POST"): ["case_status"],
    ("cases.update", "POST"): ["case_updated"],
    ("cases.note", "POST"): ["case_note"],
    ("inbox.selection", "POST"): ["submissions_status"],
    ("inbox.save_search", "POST"): [],  # a saved search is the user's own, not desk content
    ("inbox.delete_search", "POST"): [],
    ("desks.preview", "GET"): ["previewed"],
    ("desks.file_submit", "POST"): ["filed_on_behalf"],
    ("cases.link_evidence", "POST"): ["case_evidence_linked"],
    ("cases.comment_evidence", "POST"): ["case_evidence_updated"],
    ("cases.unlink_evidence", "POST"): ["case_evidence_unlinked"],
    ("cases.merge", "POST"): ["case_merged", "case_merged_into"],
    ("geotags.create", "POST"): ["geotag_created"],
    ("geotags.correct", "POST"): ["geotag_corrected"],
    ("geotags.delete", "POST"): ["geotag_deleted"],
    ("registers.chain_link_create", "POST"): ["chain_link_created"],
    ("registers.actor_create", "POST"): ["actor_created"],
    ("exports.desk_file", "GET"): ["register_exported"],
    ("exports.case_file", "GET"): ["register_exported"],
}


def routes_of(app: Flask) -> set[tuple[str, str]]:
    """Every (endpoint, method) the app answers, but HEAD and OPTIONS (Flask adds those)."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }


def test_every_route_has_an_expectation(casework_app: Flask) -> None:
    routes = routes_of(casework_app)
    missing = sorted(routes - set(CALLS))
    assert not missing, (
        "casework routes without an access expectation (add them to CALLS and expected() in "
        f"tests/test_casework_access.py): {', '.join(f'{m} {e}' for e, m in missing)}"
    )
    stale = sorted(set(CALLS) - routes)
    assert not stale, f"expectations for routes that no longer exist: {stale}"
    for role in ROLES:
        assert set(expected(role)) == set(CALLS), role


# -- the roles ------------------------------------------------------------------------------------


def source_client(app: Flask, instance: Instance, intake_client: FlaskClient, codename: str) -> Any:
    """A browser that holds what a source holds: the codename and the intake's cookies.

    Whatever a source could present (a session cookie made from the key their codename
    derives, the intake's signed cookie under the casework's name) must count for nothing.
    """
    intake_client.get("/replies")
    intake_cookie = intake_client.get_cookie("session")
    assert intake_cookie is not None
    client = app.test_client()
    keys = derive(instance, codename)
    client.set_cookie(COOKIE_NAME, encode_cookie(keys.keypair.private))
    client.set_cookie("__Host-filon-csrf", intake_cookie.value)
    client.set_cookie("session", intake_cookie.value)
    return client


def client_for(
    role: str, app: Flask, instance: Instance, world: World, intake_client: FlaskClient
) -> FlaskClient:
    if role == "no session":
        return app.test_client()
    if role == "source":
        return source_client(app, instance, intake_client, world.codename)
    client = app.test_client()
    assert Staff(client, world.accounts[ACCOUNT[role]]).log_in().status_code == 303
    if role == "member removed while signed in":
        with transaction(instance.sessions) as session:
            user, desk = get_user(session, "former"), get_desk(session, DESK)
            session.execute(
                delete(DeskMembership).where(
                    DeskMembership.user_id == user.id, DeskMembership.desk_id == desk.id
                )
            )
    return client


def request(
    client: FlaskClient, key: tuple[str, str], path: str, call: Call, world: World
) -> TestResponse:
    if key[1] == "GET":
        return client.get(path)
    token = csrf_token(client)  # the sign-in page's token: one per browser serves every form
    data = {"csrf_token": token, **{name: fill(value, world) for name, value in call.data}}
    # The filing form is read by its own multipart parser, as a browser sends it.
    multipart = "multipart/form-data" if key == ("desks.file_submit", "POST") else None
    return client.post(path, data=data, content_type=multipart)


def fill(text: str, world: World, **more: object) -> str:
    return text.format(
        ref=world.refs[0],
        ref2=world.refs[1],
        case=world.case_id,
        spare=world.spare_id,
        link=world.link_id,
        search=world.search_id,
        geotag=world.geotag_id,
        site=world.site_id,
        actor=world.actor_id,
        other=world.other_ref,
        **more,
    )


# Content that only a member of drc-minerals may ever receive.
def secrets_of(world: World) -> list[bytes]:
    values = [REPORT, SECOND_REPORT, NOTE, REPLY, CASE_TITLE, SPARE_TITLE, FILED_REPORT]
    values += [*world.refs, world.codename]
    return [v.encode() for v in values] + [str(escape(v)).encode() for v in values]


def check_content(
    key: tuple[str, str], response: TestResponse, body: bytes, instance: Instance, world: World
) -> None:
    """A 200 carries the content the route is for."""
    text = body.decode("utf-8", "replace")
    checks: dict[tuple[str, str], Callable[[], None]] = {
        ("desks.inbox", "GET"): lambda: all_in(text, world.refs),
        ("desks.audit_trail", "GET"): lambda: all_in(text, ["case_created", "case_note"]),
        ("desks.submission", "GET"): lambda: all_in(
            text, [escape(REPORT), "IMG_0042.jpg", "GPS", "Cleaning: cleaned"]
        ),
        ("desks.download", "GET"): lambda: check_download(response, body, instance, world),
        ("cases.listing", "GET"): lambda: all_in(text, [CASE_TITLE]),
        ("maps.map_page", "GET"): lambda: all_in(text, ["Map: ", 'id="map"']),
        ("maps.features", "GET"): lambda: all_in(text, ['"type":"FeatureCollection"']),
        ("exports.desk_file", "GET"): lambda: check_export(
            response, text, "application/geo+json", [f'"submission":"{world.refs[0]}"', "-1.58"]
        ),
        ("exports.case_file", "GET"): lambda: check_export(
            response, text, "text/csv; charset=utf-8", ["id,from_kind,from_id,from_name"]
        ),
        ("maps.vendor", "GET"): lambda: all_in(text, ["Leaflet 1.9.4"]),
        ("maps.basemap", "GET"): lambda: all_in(text, ['"MultiLineString"']),
        ("cases.case", "GET"): lambda: all_in(text, [CASE_TITLE, NOTE, world.refs[0]]),
        ("account.account", "GET"): lambda: all_in(text, ["Current password"]),
        ("health.healthz", "GET"): lambda: check_probe(response, body),
        ("health.readyz", "GET"): lambda: check_probe(response, body),
        ("desks.preview", "GET"): lambda: check_preview(response, body),
        ("desks.file_submit", "POST"): lambda: all_in(text, ["FLN-"]),
        ("admin.index", "GET"): lambda: all_in(text, ["journalist-outside", OTHER_DESK]),
        ("admin.members", "GET"): lambda: all_in(text, ["investigator", "journalist"]),
        ("admin.confirm_remove", "GET"): lambda: all_in(text, ["journalist"]),
        ("admin.confirm_reset", "GET"): lambda: all_in(text, ["journalist"]),
        ("registers.chain_link_form", "GET"): lambda: all_in(
            text, ["Rubaya D2", 'name="evidence" value="1"']
        ),
        ("registers.site", "GET"): lambda: all_in(text, ["Rubaya D2", "Downstream"]),
        ("registers.actors", "GET"): lambda: all_in(text, ["Maison Tantale"]),
        ("registers.actor", "GET"): lambda: all_in(text, ["Maison Tantale", "Upstream"]),
    }
    if key in checks:
        checks[key]()


def all_in(text: str, wanted: list[str]) -> None:
    for value in wanted:
        assert value in text, value


def check_export(response: TestResponse, text: str, media_type: str, wanted: list[str]) -> None:
    assert response.headers["Content-Type"] == media_type
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    all_in(text, wanted)


def check_probe(response: TestResponse, body: bytes) -> None:
    # Whoever asks, signed in or not: "ok" and no cookie, nothing about the desk or the server.
    assert body == b"ok\n"
    assert "Set-Cookie" not in response.headers


def check_preview(response: TestResponse, body: bytes) -> None:
    assert response.headers["Content-Type"] in {"image/jpeg", "image/png"}
    assert body[:4] in {b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\x89PNG"}
    assert b"ExampleCam" not in body


def check_download(response: TestResponse, body: bytes, instance: Instance, world: World) -> None:
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == "attachment; filename=01-IMG_0042.jpg"
    assert body.startswith(b"\xff\xd8")
    assert b"ExampleCam" not in body  # the cleaned copy, never the original


# -- the matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_route_role_matrix(
    role: str,
    instance: Instance,
    casework_app: Flask,
    intake_client: FlaskClient,
    world: World,
) -> None:
    assert routes_of(casework_app) <= set(CALLS), "see test_every_route_has_an_expectation"
    client = client_for(role, casework_app, instance, world, intake_client)
    outcomes = expected(role)
    for key, call in CALLS.items():
        before, trail = snapshot(instance), audit_actions(instance)
        response = request(client, key, fill(call.path, world), call, world)
        body = response.get_data()
        response.close()
        status, location = outcomes[key]
        cell = f"{role} × {key[1]} {key[0]}"
        assert response.status_code == status, cell
        if key[1] == "GET" and role not in MEMBERS:  # HEAD runs the same view: no way round
            head = client.head(fill(call.path, world))
            head.close()
            assert (head.status_code, head.headers.get("Location")) == (
                response.status_code,
                response.headers.get("Location"),
            ), cell
        new_case, new_actor = max_case_id(instance), max_actor_id(instance)
        if location is None:
            assert "Location" not in response.headers, cell
        else:
            assert response.headers["Location"] == fill(
                location, world, new_case=new_case, new_actor=new_actor
            ), cell
        if role not in MEMBERS:  # nothing this role gets carries anything of the desk
            for secret in secrets_of(world):
                assert secret not in body, (cell, secret)
        if status == 200:
            check_content(key, response, body, instance, world)
        if role in MEMBERS and key in AUDITED and status < 400:
            assert audit_actions(instance) == trail + AUDITED[key], cell
        else:
            # Refused, or only read: the record and the blob store are exactly as they were.
            assert snapshot(instance) == before, cell
    check_effects(role, instance, world)


def max_case_id(instance: Instance) -> int:
    with instance.sessions() as session:
        return max(session.scalars(select(Case.id)))


def max_actor_id(instance: Instance) -> int:
    with instance.sessions() as session:
        return max(session.scalars(select(Actor.id)))


def check_effects(role: str, instance: Instance, world: World) -> None:
    """After the run: members' actions took effect; nobody else's did, on either desk."""
    with instance.sessions() as session:
        notes = list(session.scalars(select(CaseNote)))
        replies = list(session.scalars(select(Reply)))
        case = session.get_one(Case, world.case_id)
        statuses = dict(session.execute(select(Submission.reference, Submission.status)).all())
        desk_key = None
        if role in MEMBERS:
            account = world_account(world, role)
            user = get_user(session, account.username)
            desk_key = open_desk_key(
                session,
                desk=get_desk(session, DESK),
                user=user,
                user_key=unlock_user_key(user, account.password),
            )
    assert audit_actions(instance, OTHER_DESK) == ["case_created"]  # only the world's own
    if desk_key is None:
        assert len(notes) == 1
        assert len(replies) == 1
        assert (str(case.status), str(case.priority)) == ("new", "normal")
        assert statuses[world.refs[1]] is SubmissionStatus.NEW
        return
    texts = sorted(open_sealed(n.sealed_text, desk_key).decode() for n in notes)
    assert texts == sorted([NOTE, "A second note."])
    assert sorted(open_sealed(r.sealed_for_desk, desk_key).decode() for r in replies) == sorted(
        [REPLY, "A second question."]
    )
    assert (str(case.status), str(case.priority), case.risk_categories) == (
        "triage",
        "high",
        ["taxes"],
    )
    assert statuses[world.refs[1]] is SubmissionStatus.ATTACHED


def world_account(world: World, role: str) -> StaffAccount:
    return world.accounts[ACCOUNT[role]]


# -- what a refusal looks like --------------------------------------------------------------------


def test_another_desks_things_look_exactly_like_missing_ones(
    instance: Instance, casework_app: Flask, intake_client: FlaskClient, world: World
) -> None:
    client = client_for(
        "investigator of another desk", casework_app, instance, world, intake_client
    )
    pairs = [
        (f"/desks/{DESK}", "/desks/no-such-desk"),
        (f"/desks/{DESK}/cases", "/desks/no-such-desk/cases"),
        (f"/desks/{DESK}/audit", "/desks/no-such-desk/audit"),
        (f"/submissions/{world.refs[0]}", "/submissions/FLN-AAAA-AAAA-AAAA-AAAA"),
        (f"/cases/{world.case_id}", "/cases/9999"),
    ]
    for real, missing in pairs:
        shown, absent = client.get(real), client.get(missing)
        assert (shown.status_code, shown.get_data()) == (absent.status_code, absent.get_data())
    # And the member of that other desk reads their own desk's things.
    own = client.get(f"/submissions/{world.other_ref}").get_data(as_text=True)
    assert escape(OTHER_REPORT) in own
    assert "Bourse" in client.get(f"/cases/{world.other_case_id}").get_data(as_text=True)


def test_a_source_codename_is_no_staff_credential(
    instance: Instance, casework_app: Flask, intake_client: FlaskClient, world: World
) -> None:
    """Signing in with the codename (as a username or a password) fails like any wrong guess."""
    client = casework_app.test_client()
    for username, password in [(world.codename, world.codename), ("investigator", world.codename)]:
        response = client.post(
            "/login",
            data={
                "csrf_token": csrf_token(client),
                "username": username,
                "password": password,
                "code": "000000",
            },
        )
        # 400 when the codename is longer than any username (the form refuses it), else 401:
        # the same generic message either way.
        assert response.status_code in {400, 401}
        assert LOGIN_FAILED in response.get_data(as_text=True)
        assert client.get_cookie(COOKIE_NAME) is None
    assert client.get(f"/submissions/{world.refs[0]}").headers["Location"] == "/login"


# -- bad input: a clear 4xx, never a 500 ----------------------------------------------------------

BAD_GETS = [
    ("/cases/99999999999999999999999", 404),
    ("/submissions/{ref}/files/99999999999999999999999", 404),
    ("/submissions/{ref}/files/0", 404),
    (f"/desks/{DESK}?before=not-a-cursor", 400),
    (f"/desks/{DESK}?after=99999999999999999999999", 400),
    (f"/desks/{DESK}?status=bogus", 400),
    ("/submissions/%00", 400),
    ("/desks/%00", 400),
    ("/desks/%00/cases", 400),
    (f"/desks/{DESK}/audit?action=%00", 400),
    ("/submissions/" + "X" * 5000, 404),
    (f"/desks/{DESK}/sites/99999999999999999999", 404),
    (f"/desks/{DESK}/sites/99999", 404),
    (f"/desks/{DESK}/actors/99999", 404),
    (f"/desks/{DESK}/actors?kind=wizard", 400),
    (f"/desks/{DESK}/actors?q=%00", 400),
    (f"/desks/{DESK}/chain-links/new?site=abc", 400),
    (f"/desks/{DESK}/chain-links/new?site={{site}}&submission={{other}}", 404),
    (f"/desks/{DESK}/map?armed=maybe", 400),
    (f"/desks/{DESK}/map/features.geojson?bbox=30,-5,26,0", 400),
    (f"/desks/{DESK}/map/features.geojson?since=2024-02-30", 400),
    (f"/desks/{DESK}/map/features.geojson?mineral=%00", 400),
    ("/desks/no-such-desk/map/features.geojson", 404),
    (f"/desks/{DESK}/export/geotags.geojson?precision=9", 400),
    (f"/desks/{DESK}/export/sites.kml", 404),
    ("/desks/no-such-desk/export/sites.geojson", 404),
    ("/cases/99999/export/chain-links.csv", 404),
    ("/map/vendor/../package.json", 404),
]

BAD_POSTS = [
    ("/submissions/{ref2}/case", {"title": "Night\x00trucks"}, 400),
    ("/submissions/{ref2}/case", {"title": "   "}, 400),
    ("/cases/{case}", {"title": "T\x00", "priority": "high"}, 400),
    ("/cases/{case}", {"title": "T", "priority": "high", "assignee": "a\x00"}, 400),
    ("/cases/{case}", {"title": "T", "priority": "highest"}, 400),
    ("/cases/{case}", {"title": "T", "priority": "high", "risk_categories": "aliens"}, 400),
    ("/cases/{case}/status", {"status": "bogus"}, 400),
    ("/cases/{case}/status", {"status": "archived"}, 400),
    ("/cases/{case}/notes", {"text": "n\x00"}, 400),
    ("/cases/{case}/notes", {"text": "n" * 20_001}, 400),
    ("/cases/99999999999999999999/notes", {"text": "n"}, 404),
    ("/submissions/{ref}/replies", {"text": "r\x00"}, 400),
    ("/submissions/{ref}/replies", {"text": ""}, 400),
    ("/submissions/FLN-NOPE/replies", {"text": "r"}, 404),
    ("/cases/{spare}/merge", {"into": "99999999999999999999"}, 404),
    ("/cases/{spare}/merge", {"into": "{spare}"}, 400),
    ("/submissions/{ref}/files/1/links", {"case": "99999999999999999999"}, 404),
    ("/submissions/{ref}/files/9/links", {"case": "{case}"}, 400),
    ("/cases/{spare}/evidence/99999999999999999999", {"comment": "c"}, 404),
    ("/file", {"desk": "drc\x00minerals", "report": "r", "lang": "en"}, 400),
    ("/file", {"desk": DESK, "report": "r\x00", "lang": "en"}, 400),
    ("/file", {"desk": "no-such-desk", "report": "r", "lang": "en"}, 404),
    ("/submissions/{ref}/geotags", {"method": "consented", "file": "9"}, 400),
    ("/submissions/{ref}/geotags", {"method": "consented", "file": "99999999999999999999"}, 400),
    ("/submissions/{ref}/geotags", {"method": "consented", "file": "1", "case": "9999"}, 404),
    (
        "/submissions/{ref}/geotags",
        {"method": "investigator", "latitude": "nan", "longitude": "28", "precision_m": "9"},
        400,
    ),
    ("/submissions/FLN-NOPE/geotags", {"method": "consented", "file": "1"}, 404),
    (
        "/geotags/{geotag}",
        {"method": "investigator", "latitude": "1", "longitude": "2", "precision_m": "0"},
        400,
    ),
    (
        "/geotags/99999999999999999999",
        {"method": "investigator", "latitude": "1", "longitude": "2", "precision_m": "9"},
        404,
    ),
    ("/geotags/{geotag}", {"method": "investigator", "latitude": "1\x00"}, 400),
    (f"/desks/{DESK}/actors", {"kind": "wizard", "name": "X"}, 400),
    (f"/desks/{DESK}/actors", {"kind": "trader", "name": " "}, 400),
    (f"/desks/{DESK}/chain-links", {"from_site": "{site}", "to_actor": "99999"}, 404),
    (
        f"/desks/{DESK}/chain-links",
        {"from_site": "{site}", "to_actor": "{actor}", "mineral": "kryptonite"},
        400,
    ),
    (
        f"/desks/{DESK}/chain-links",
        {
            "from_site": "{site}",
            "to_actor": "{actor}",
            "mineral": "coltan",
            "reference": "{other}",
            "evidence": "1",
        },
        404,
    ),
]


@pytest.mark.parametrize(("path", "status"), BAD_GETS)
def test_bad_requests_get_a_clear_4xx(
    staff: Staff, instance: Instance, world: World, path: str, status: int
) -> None:
    staff.log_in()
    before = snapshot(instance)
    assert staff.client.get(fill(path, world)).status_code == status
    if status != 200:
        assert snapshot(instance) == before


@pytest.mark.parametrize(("path", "data", "status"), BAD_POSTS)
def test_bad_posts_get_a_clear_4xx_and_change_nothing(
    staff: Staff, instance: Instance, world: World, path: str, data: dict[str, str], status: int
) -> None:
    staff.log_in()
    before = snapshot(instance)
    token = csrf_token(staff.client)
    data = {"csrf_token": token, **{name: fill(value, world) for name, value in data.items()}}
    multipart = "multipart/form-data" if path == "/file" else None
    response = staff.client.post(fill(path, world), data=data, content_type=multipart)
    assert response.status_code == status
    assert snapshot(instance) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "investigator\x00", "password": "p", "code": "000000"},
        {"username": "investigator", "password": "p\x00", "code": "000000"},
    ],
)
def test_sign_in_with_a_nul_character_is_a_clear_400(
    casework_client: FlaskClient, world: World, fields: dict[str, str]
) -> None:
    data = {"csrf_token": csrf_token(casework_client), **fields}
    response = casework_client.post("/login", data=data)
    assert response.status_code == 400
    assert casework_client.get_cookie(COOKIE_NAME) is None


def test_posts_without_csrf_are_refused_and_change_nothing(
    staff: Staff, instance: Instance, world: World
) -> None:
    staff.log_in()
    before = snapshot(instance)
    for key, call in CALLS.items():
        if key[1] == "POST" and key not in {("auth.login", "POST")}:
            response = staff.client.post(fill(call.path, world), data=dict(call.data))
            # The admin pages refuse a non-admin (403) before they look at the form, as the
            # export refuses a member whose membership does not allow exports.
            refused_first = key in ADMIN_ROUTES or key == ("dossier.download", "POST")
            assert response.status_code == (403 if refused_first else 400), key
    assert snapshot(instance) == before
    assert staff.session_cookie() is not None  # the sign-out without a token did nothing
    assert staff.client.get(f"/submissions/{world.refs[0]}").status_code == 200


def test_the_intakes_cookie_and_csrf_token_count_for_nothing_here(
    staff: Staff, instance: Instance, intake_client: FlaskClient, world: World
) -> None:
    """What any visitor gets from the public intake is no casework CSRF session."""
    page = intake_client.get("/replies").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    intake_cookie = intake_client.get_cookie("session")
    assert token is not None
    assert intake_cookie is not None
    staff.log_in()
    staff.client.set_cookie("__Host-filon-csrf", intake_cookie.value)
    before = snapshot(instance)
    for path, data in [
        ("/logout", {}),
        (f"/submissions/{world.refs[0]}/replies", {"text": "Planted."}),
        (f"/cases/{world.case_id}/notes", {"text": "Planted."}),
    ]:
        response = staff.client.post(path, data={"csrf_token": token.group(1), **data})
        assert response.status_code == 400, path
    assert snapshot(instance) == before
    assert staff.session_cookie() is not None


@pytest.mark.parametrize("code", ["１２３４５６", "١٢٣٤٥٦", "12345é"])
def test_a_code_in_other_digits_is_a_failed_sign_in_not_a_500(
    staff: Staff, instance: Instance, code: str
) -> None:
    """Fullwidth or Arabic-Indic digits from a phone keyboard are a wrong code, said plainly."""
    response = staff.log_in(code=code)
    assert response.status_code == 401
    assert LOGIN_FAILED in response.get_data(as_text=True)
    assert staff.session_cookie() is None


def test_no_check_reads_the_filing_form_before_its_sealing_parser(
    staff: Staff, instance: Instance, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask's own form parsing would put a large file in a temporary file: plaintext on disk.

    The filing view parses its body itself, sealing files as they arrive; nothing before it
    (the NUL check, CSRF, sign-in) may make Flask parse that body first.
    """
    spooled: list[str | None] = []

    def refuse(_request: object, *_args: object, filename: str | None = None, **_: object) -> None:
        spooled.append(filename)
        raise AssertionError("Flask parsed a multipart body of the filing form")

    monkeypatch.setattr(Request, "_get_file_stream", refuse)
    staff.log_in()
    photo = sample_photo() + b"\0" * 600_000  # past werkzeug's 500 KB in-memory limit
    data = {
        "csrf_token": csrf_token(staff.client),
        "desk": DESK,
        "report": FILED_REPORT,
        "lang": "en",
        "files": FileStorage(io.BytesIO(photo), "call.jpg", content_type="image/jpeg"),
    }
    # Encoded in memory here (the test client would put so large a body in a temporary file).
    boundary, body = encode_multipart(MultiDict(data))
    response = staff.client.post(
        "/file", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200
    assert spooled == []
    assert FILED_REPORT not in response.get_data(as_text=True)  # the receipt page, filed
    assert "FLN-" in response.get_data(as_text=True)
