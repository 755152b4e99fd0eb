"""Staff accounts and keys: password change, step-up, desk members, resets (SQLite and PostgreSQL).

Everything runs through the real app and services; the only things tests reach into the
database for are the clock of a step-up (to age it past five minutes without sleeping) and
the record of used TOTP steps (so one test can sign in and step up more than twice within
one 30-second step).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update
from werkzeug.test import TestResponse

from casework.auth import ATTEMPTS_PER_USER, totp_step
from casework.models import StaffSession, TotpStep
from casework.stepup import STEP_UP_LIMIT, safe_next
from crypto.errors import WrongPassword
from crypto.keys import BoxKeyPair, format_recovery_key, parse_recovery_key
from filon.accounts import (
    DeskGrant,
    create_user,
    get_user,
    password_hasher,
    unlock_user_key,
)
from filon.cli import cli
from filon.db import transaction, utc_now
from filon.desks import create_desk, get_desk, open_desk_key_with_recovery
from filon.errors import NotFound
from filon.instance import Created, Instance
from filon.models import CustodyEvent, DeskMembership, OrgKeyGrant, Role
from filon.submissions import open_submission
from intake.demo import seed_submissions
from tests.conftest import (
    STAFF_PASSWORD,
    DeskSetup,
    Staff,
    StaffAccount,
    csrf_token,
    make_account,
    totp_code,
)

NEW_PASSWORD = "a-brand-new-password-for-tests"
DESK = "drc-minerals"
MEMBERS = f"/admin/desks/{DESK}/members"


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def admin(created: Created, desk: DeskSetup) -> StaffAccount:
    """An admin who is a member of ``drc-minerals`` (its key opened with the recovery key)."""
    instance = created.instance
    recovery = parse_recovery_key(created.recovery_key_text)
    with transaction(instance.sessions) as session:
        found = get_desk(session, DESK)
        made = create_user(
            session,
            username="admin",
            role=Role.ADMIN,
            password=STAFF_PASSWORD,
            grants=[DeskGrant(found, open_desk_key_with_recovery(found, recovery), True)],
            signing_key=instance.keyring.signing_key(),
        )
    return StaffAccount("admin", STAFF_PASSWORD, made.totp_secret)


@pytest.fixture
def receipts(instance: Instance, desk: DeskSetup) -> list[str]:
    """The demo's two submissions to ``drc-minerals``, sent through the real intake."""
    return [outcome.receipt for outcome in seed_submissions(instance, DESK)]


def signed_in(app: Flask, account: StaffAccount) -> Staff:
    """A new browser signed in as ``account`` (with the current code, used or not)."""
    forget_used_codes(app.extensions["filon"])
    person = Staff(app.test_client(), account)
    assert person.log_in().status_code == 303
    return person


def forget_used_codes(instance: Instance) -> None:
    """Let the current TOTP code be used again (only tests ever do this)."""
    with transaction(instance.sessions) as session:
        session.execute(delete(TotpStep))


def wrong_code(secret: str) -> str:
    """A six-digit code that matches no step in the drift window."""
    step = totp_step()
    valid = {totp_code(secret, step + offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def step_up(person: Staff, *, code: str | None = None, next_path: str = "/") -> TestResponse:
    """Fill in the step-up page."""
    return person.client.post(
        "/step-up",
        data={
            "csrf_token": csrf_token(person.client, "/step-up"),
            "password": person.account.password,
            "code": totp_code(person.account.totp_secret) if code is None else code,
            "next": next_path,
        },
    )


def stepped_up(instance: Instance, person: Staff) -> Staff:
    """Step ``person`` up (after forgetting the code that signed them in)."""
    forget_used_codes(instance)
    assert step_up(person).status_code == 303
    return person


def post(person: Staff, path: str, form_path: str, **data: Any) -> TestResponse:
    """Post a form with the browser's CSRF token."""
    return person.client.post(
        path, data={"csrf_token": csrf_token(person.client, form_path), **data}
    )


def session_count(instance: Instance, username: str) -> int:
    with instance.sessions() as session:
        user = get_user(session, username)
        query = select(func.count()).select_from(StaffSession)
        return session.scalar(query.where(StaffSession.user_id == user.id)) or 0


def events(instance: Instance, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    with instance.sessions() as session:
        found = session.scalars(
            select(CustodyEvent).where(CustodyEvent.subject == subject).order_by(CustodyEvent.seq)
        )
        return [(e.actor, e.action, json.loads(e.details)) for e in found]


def opens(instance: Instance, username: str, password: str, reference: str) -> bool:
    """Whether ``username`` with ``password`` opens the submission (the desk key reaches them)."""
    with instance.sessions() as session:
        user = get_user(session, username)
        key = unlock_user_key(user, password)
        try:
            opened = open_submission(session, reference=reference, user=user, user_key=key)
        except NotFound:
            return False
        return opened.submission.reference == reference


def is_member(instance: Instance, username: str, slug: str = DESK) -> bool:
    with instance.sessions() as session:
        return any(m.desk.slug == slug for m in get_user(session, username).memberships)


# -- password change -----------------------------------------------------------------------------


def change_password(person: Staff, **changes: str) -> TestResponse:
    data = {
        "current_password": person.account.password,
        "code": totp_code(person.account.totp_secret),
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
        **changes,
    }
    return post(person, "/account/password", "/account", **data)


def test_password_change_rewraps_the_key_and_ends_other_sessions(
    instance: Instance, casework_app: Flask, investigator: StaffAccount, receipts: list[str]
) -> None:
    with instance.sessions() as session:
        before = get_user(session, "investigator")
        old_public, old_wrapped = before.public_key, before.wrapped_private_key
    elsewhere = signed_in(casework_app, investigator)
    here = signed_in(casework_app, investigator)
    forget_used_codes(instance)
    assert session_count(instance, "investigator") == 2

    response = change_password(here)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account?changed=1"

    with instance.sessions() as session:
        user = get_user(session, "investigator")
        with pytest.raises(WrongPassword):
            unlock_user_key(user, STAFF_PASSWORD)
        assert unlock_user_key(user, NEW_PASSWORD).public == old_public  # the same key
        assert user.wrapped_private_key[16:32] != old_wrapped[16:32]  # a fresh Argon2id salt
        password_hasher().verify(user.password_hash, NEW_PASSWORD)
    assert opens(instance, "investigator", NEW_PASSWORD, receipts[0])  # desk content still opens
    # This browser stays in; the other one was signed out.
    assert here.client.get("/account").status_code == 200
    assert "Your password was changed" in here.client.get("/account?changed=1").get_data(True)
    assert elsewhere.client.get(f"/desks/{DESK}").status_code == 303
    assert session_count(instance, "investigator") == 1
    assert events(instance, "account:investigator") == [
        ("user:investigator", "password_changed", {"other_sessions_ended": 1})
    ]
    # The old password no longer signs in; the new one does.
    forget_used_codes(instance)
    fresh = Staff(casework_app.test_client(), investigator)
    assert fresh.log_in().status_code == 401
    forget_used_codes(instance)
    assert fresh.log_in(password=NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong current password", 401),
        ("wrong code", 401),
        ("code that signed in", 401),
        ("passwords differ", 400),
        ("too short", 400),
        ("missing csrf", 400),
    ],
)
def test_password_change_refusals_change_nothing(
    instance: Instance, casework_app: Flask, investigator: StaffAccount, case: str, status: int
) -> None:
    elsewhere = signed_in(casework_app, investigator)
    here = signed_in(casework_app, investigator)
    if case != "code that signed in":
        forget_used_codes(instance)
    changes: dict[str, str] = {}
    if case == "wrong current password":
        changes["current_password"] = "not-the-password"
    elif case == "wrong code":
        changes["code"] = wrong_code(investigator.totp_secret)
    elif case == "passwords differ":
        changes["new_password_again"] = NEW_PASSWORD + "x"
    elif case == "too short":
        changes = {"new_password": "short", "new_password_again": "short"}
    if case == "missing csrf":
        response = here.client.post(
            "/account/password",
            data={
                "current_password": STAFF_PASSWORD,
                "code": totp_code(investigator.totp_secret),
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
    else:
        response = change_password(here, **changes)
    assert response.status_code == status
    with instance.sessions() as session:
        unlock_user_key(get_user(session, "investigator"), STAFF_PASSWORD)  # still the old one
    assert session_count(instance, "investigator") == 2
    assert elsewhere.client.get(f"/desks/{DESK}").status_code == 200
    assert events(instance, "account:investigator") == []


# -- step-up -------------------------------------------------------------------------------------


def test_key_operations_need_a_step_up_that_lasts_five_minutes(
    instance: Instance, casework_app: Flask, admin: StaffAccount, receipts: list[str]
) -> None:
    make_account(instance, "journalist", "journalist")
    person = signed_in(casework_app, admin)
    assert person.client.get(MEMBERS).status_code == 200  # reading the list needs none

    response = post(person, MEMBERS, MEMBERS, username="journalist")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/step-up?next={MEMBERS}"
    assert not is_member(instance, "journalist")

    page = person.client.get(response.headers["Location"])
    assert page.status_code == 200
    assert f'value="{MEMBERS}"' in page.get_data(as_text=True)
    # The code that signed in is spent: it cannot also step up.
    assert step_up(person, code=totp_code(admin.totp_secret), next_path=MEMBERS).status_code == 401
    forget_used_codes(instance)
    assert step_up(person, code=wrong_code(admin.totp_secret)).status_code == 401
    forget_used_codes(instance)
    back = step_up(person, next_path=MEMBERS)
    assert back.status_code == 303
    assert back.headers["Location"] == MEMBERS

    assert post(person, MEMBERS, MEMBERS, username="journalist").status_code == 303
    assert is_member(instance, "journalist")

    # Four minutes later it still holds; past five it is asked for again.
    remove = f"{MEMBERS}/journalist/remove"
    for age, allowed in [
        (STEP_UP_LIMIT - dt.timedelta(minutes=1), True),
        (STEP_UP_LIMIT + dt.timedelta(seconds=1), False),
    ]:
        with transaction(instance.sessions) as session:
            session.execute(update(StaffSession).values(stepped_up_at=utc_now() - age))
        if allowed:
            assert person.client.get(remove).status_code == 200
        response = post(person, remove, remove)
        if allowed:
            assert response.status_code == 303
            assert response.headers["Location"] == MEMBERS
            assert not is_member(instance, "journalist")
            assert post(person, MEMBERS, MEMBERS, username="journalist").status_code == 303
        else:
            assert response.headers["Location"].startswith("/step-up?next=")
            assert is_member(instance, "journalist")  # nothing was done


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/desks/drc-minerals/members", "/admin/desks/drc-minerals/members"),
        ("/desks/drc-minerals?page=2", "/desks/drc-minerals?page=2"),
        ("https://evil.example/steal", "/"),
        ("//evil.example/steal", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/\r\nLocation: https://evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_step_up_returns_only_to_a_path_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_step_up_page_refuses_to_send_the_browser_elsewhere(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    person = signed_in(casework_app, admin)
    forget_used_codes(instance)
    response = step_up(person, next_path="https://evil.example/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


# -- desk membership -----------------------------------------------------------------------------


def test_a_new_member_opens_the_desk_and_a_removed_one_no_longer_does(
    instance: Instance, casework_app: Flask, admin: StaffAccount, receipts: list[str]
) -> None:
    journalist = make_account(instance, "journalist", "journalist")
    reader = signed_in(casework_app, journalist)
    submission = f"/submissions/{receipts[0]}"
    assert reader.client.get(submission).status_code == 404
    assert not opens(instance, "journalist", STAFF_PASSWORD, receipts[0])

    person = stepped_up(instance, signed_in(casework_app, admin))
    listing = person.client.get(MEMBERS).get_data(as_text=True)
    assert '<option value="journalist">journalist</option>' in listing
    response = post(person, MEMBERS, MEMBERS, username="journalist", can_export="y")
    assert response.status_code == 303
    assert opens(instance, "journalist", STAFF_PASSWORD, receipts[0])
    assert reader.client.get(submission).status_code == 200
    assert "journalist" in person.client.get(MEMBERS).get_data(as_text=True)
    with instance.sessions() as session:
        membership = session.scalars(
            select(DeskMembership).where(
                DeskMembership.user_id == get_user(session, "journalist").id
            )
        ).one()
        assert membership.can_export

    remove = f"{MEMBERS}/journalist/remove"
    assert post(person, remove, remove).status_code == 303
    assert not opens(instance, "journalist", STAFF_PASSWORD, receipts[0])
    assert reader.client.get(submission).status_code == 404

    actions = [(a, act, d) for a, act, d in events(instance, f"audit:{DESK}") if act != "viewed"]
    assert actions == [
        ("user:admin", "member_added", {"member": "journalist", "can_export": True}),
        ("user:admin", "member_removed", {"member": "journalist"}),
    ]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("already a member", 400),
        ("disabled account", 400),
        ("unknown account", 404),
        ("no csrf", 400),
        ("unknown desk", 404),
    ],
)
def test_adding_a_member_refuses_bad_input(
    instance: Instance, casework_app: Flask, admin: StaffAccount, case: str, status: int
) -> None:
    person = stepped_up(instance, signed_in(casework_app, admin))
    if case == "disabled account":
        make_account(instance, "journalist", "journalist")
        with transaction(instance.sessions) as session:
            get_user(session, "journalist").active = False
    if case == "no csrf":
        response = person.client.post(MEMBERS, data={"username": "investigator"})
    else:
        username = {
            "already a member": "investigator",
            "disabled account": "journalist",
            "unknown account": "nobody",
        }.get(case, "investigator")
        path = "/admin/desks/no-such-desk/members" if case == "unknown desk" else MEMBERS
        response = person.client.post(
            path, data={"csrf_token": csrf_token(person.client, MEMBERS), "username": username}
        )
    assert response.status_code == status
    with instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeskMembership)) == 2
    assert [e for e in events(instance, f"audit:{DESK}") if e[1].startswith("member")] == []


def test_an_admin_who_is_not_a_member_cannot_seal_the_desk_key(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    outsider = make_account(instance, "outsider", "admin")
    make_account(instance, "journalist", "journalist")
    person = stepped_up(instance, signed_in(casework_app, outsider))
    page = person.client.get(MEMBERS)
    assert page.status_code == 200
    assert "you do not hold its key" in page.get_data(as_text=True)
    response = post(person, MEMBERS, MEMBERS, username="journalist")
    assert response.status_code == 403
    assert "not a member of drc-minerals" in response.get_data(as_text=True)
    assert not is_member(instance, "journalist")


def test_the_last_member_is_not_removed(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    person = stepped_up(instance, signed_in(casework_app, admin))
    remove = f"{MEMBERS}/investigator/remove"
    assert post(person, remove, remove).status_code == 303
    mine = f"{MEMBERS}/admin/remove"
    response = post(person, mine, mine)
    assert response.status_code == 400
    assert "last member" in response.get_data(as_text=True)
    assert is_member(instance, "admin")


# -- admin reset ---------------------------------------------------------------------------------


def test_admin_reset_reseals_the_desks_it_holds_and_ends_sessions(
    created: Created,
    casework_app: Flask,
    admin: StaffAccount,
    investigator: StaffAccount,
    receipts: list[str],
) -> None:
    instance = created.instance
    # The investigator also holds a desk the admin does not: that one cannot be re-sealed.
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="antwerp",
            name="Antwerp diamonds",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(get_user(session, "investigator"), False)],
        )
    victim = signed_in(casework_app, investigator)
    forget_used_codes(instance)
    person = stepped_up(instance, signed_in(casework_app, admin))
    confirm = person.client.get("/admin/users/investigator/reset").get_data(as_text=True)
    assert "antwerp: lost" in confirm
    assert "drc-minerals: re-sealed" in confirm

    path = "/admin/users/investigator/reset"
    response = post(person, path, path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    password = re.search(r'<code class="secret">([a-z2-9-]{23})</code>', body)
    secret = re.search(r'<code class="secret">([A-Z2-7]{32})</code>', body)
    assert password is not None
    assert secret is not None
    assert "<svg" in body
    assert "TOTP enrolment QR code" in body
    assert f"secret={secret.group(1)}" in body
    assert response.headers["Cache-Control"] == "no-store"

    assert victim.client.get(f"/desks/{DESK}").status_code == 303  # signed out
    assert session_count(instance, "investigator") == 0
    with pytest.raises(WrongPassword):
        opens(instance, "investigator", STAFF_PASSWORD, receipts[0])
    assert opens(instance, "investigator", password.group(1), receipts[0])
    assert not is_member(instance, "investigator", "antwerp")
    with instance.sessions() as session:
        assert get_user(session, "investigator").totp_secret == secret.group(1)

    assert events(instance, "account:investigator") == [
        (
            "user:admin",
            "account_reset",
            {"resealed": ["drc-minerals"], "lost": ["antwerp"], "sessions_ended": 1},
        )
    ]
    assert events(instance, "audit:antwerp")[-1] == (
        "user:admin",
        "member_reset",
        {"member": "investigator", "resealed": False},
    )
    assert ("user:admin", "member_reset", {"member": "investigator", "resealed": True}) in events(
        instance, f"audit:{DESK}"
    )
    # The investigator signs in with what was handed over.
    fresh = Staff(
        casework_app.test_client(), StaffAccount("investigator", password.group(1), secret.group(1))
    )
    assert fresh.log_in().status_code == 303


def test_resetting_an_admin_reseals_the_signing_key(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    other = make_account(instance, "second-admin", "admin")
    person = stepped_up(instance, signed_in(casework_app, admin))
    path = "/admin/users/second-admin/reset"
    assert post(person, path, path).status_code == 200
    with instance.sessions() as session:
        user = get_user(session, other.username)
        grants = list(session.scalars(select(OrgKeyGrant).where(OrgKeyGrant.user_id == user.id)))
    assert len(grants) == 1  # sealed to the new user key (make_account gave none before)


def test_an_admin_resets_others_not_themselves(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    person = stepped_up(instance, signed_in(casework_app, admin))
    path = "/admin/users/admin/reset"
    response = post(person, path, path)
    assert response.status_code == 400
    assert "Account page" in response.get_data(as_text=True)
    unknown = "/admin/users/nobody/reset"
    assert post(person, unknown, "/admin/").status_code == 404
    assert (
        person.client.post("/admin/users/investigator/reset", data={}).status_code == 400
    )  # no CSRF token
    with instance.sessions() as session:
        unlock_user_key(get_user(session, "investigator"), STAFF_PASSWORD)  # untouched
    assert events(instance, "account:investigator") == []


def test_reset_needs_a_step_up(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    person = signed_in(casework_app, admin)
    path = "/admin/users/investigator/reset"
    response = post(person, path, path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/step-up?next=")
    with instance.sessions() as session:
        unlock_user_key(get_user(session, "investigator"), STAFF_PASSWORD)


# -- command line reset with the recovery key ------------------------------------------------------


def run_reset(created: Created, *args: str, stdin: str = "") -> Any:
    instance_dir = str(created.instance.settings.instance_dir)
    return CliRunner().invoke(
        cli, ["user", "reset", *args, "--instance", instance_dir], input=stdin
    )


@pytest.mark.parametrize("how", ["prompt", "file"])
def test_cli_reset_with_the_recovery_key_reseals_every_desk(
    created: Created,
    casework_app: Flask,
    investigator: StaffAccount,
    receipts: list[str],
    tmp_path: Path,
    how: str,
) -> None:
    instance = created.instance
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="antwerp",
            name="Antwerp diamonds",
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(get_user(session, "investigator"), False)],
        )
    victim = signed_in(casework_app, investigator)
    if how == "file":
        key_file = tmp_path / "recovery.txt"
        key_file.write_text(created.recovery_key_text + "\n")
        result = run_reset(created, "investigator", "--recovery-key-file", str(key_file))
    else:
        result = run_reset(created, "investigator", stdin=created.recovery_key_text + "\n")
    assert result.exit_code == 0, result.output
    assert "desks re-sealed: antwerp, drc-minerals" in result.output
    password = re.search(r"password:\s+(\S+)", result.output)
    secret = re.search(r"totp secret:\s+([A-Z2-7]{32})", result.output)
    assert password is not None
    assert secret is not None
    assert f"otpauth://totp/Filon:investigator?secret={secret.group(1)}" in result.output
    assert opens(instance, "investigator", password.group(1), receipts[0])
    assert is_member(instance, "investigator", "antwerp")
    assert victim.client.get(f"/desks/{DESK}").status_code == 303
    assert events(instance, "account:investigator") == [
        (
            "recovery-key",
            "account_reset",
            {"resealed": ["antwerp", "drc-minerals"], "lost": [], "sessions_ended": 1},
        )
    ]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("another instance's key", "not the recovery key of this instance"),
        ("mistyped key", "does not check out"),
        ("unknown user", "no user named 'nobody'"),
    ],
)
def test_cli_reset_refusals_change_nothing(
    created: Created, investigator: StaffAccount, case: str, message: str
) -> None:
    key = created.recovery_key_text
    username = "investigator"
    if case == "another instance's key":
        key = format_recovery_key(BoxKeyPair.generate().private)
    elif case == "mistyped key":
        key = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]  # inside a group
    else:
        username = "nobody"
    result = run_reset(created, username, stdin=key + "\n")
    assert result.exit_code != 0
    assert message in result.output + str(result.exception)
    with created.instance.sessions() as session:
        unlock_user_key(get_user(session, "investigator"), STAFF_PASSWORD)


# -- roles, CSRF and cookies ---------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/admin/"),
    ("GET", MEMBERS),
    ("POST", MEMBERS),
    ("GET", f"{MEMBERS}/investigator/remove"),
    ("POST", f"{MEMBERS}/investigator/remove"),
    ("GET", "/admin/users/investigator/reset"),
    ("POST", "/admin/users/investigator/reset"),
]


@pytest.mark.parametrize("role", ["no session", "investigator", "journalist"])
def test_admin_pages_refuse_everyone_but_admins(
    role: str, instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    client: FlaskClient = casework_app.test_client()
    if role == "investigator":
        with instance.sessions() as session:
            secret = get_user(session, "investigator").totp_secret
        account = StaffAccount("investigator", STAFF_PASSWORD, secret)
    elif role == "journalist":
        account = make_account(instance, "journalist", "journalist")
    if role != "no session":
        # Not stepped up: the role is refused before any password is asked for.
        client = signed_in(casework_app, account).client
    for method, path in ADMIN_ROUTES:
        if method == "GET":
            response = client.get(path)
        else:
            data = {"username": "journalist"}
            if role != "no session":
                data["csrf_token"] = csrf_token(client, "/account")
            response = client.post(path, data=data)
        if role == "no session":
            assert response.status_code == 303, path
            assert response.headers["Location"] == "/login"
        else:
            assert response.status_code == 403, (method, path)
    with instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeskMembership)) == 2
    assert [e for e in events(instance, f"audit:{DESK}") if e[1].startswith("member")] == []


def test_step_up_and_account_pages_need_a_session_and_csrf(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    client = casework_app.test_client()
    for path in ("/account", "/step-up"):
        assert client.get(path).headers["Location"] == "/login"
    person = signed_in(casework_app, admin)
    forget_used_codes(instance)
    response = person.client.post(
        "/step-up",
        data={"password": STAFF_PASSWORD, "code": totp_code(admin.totp_secret), "next": "/"},
    )
    assert response.status_code == 400
    with instance.sessions() as session:
        assert session.scalars(select(StaffSession)).one().stepped_up_at is None


def test_cookies_are_host_only_secure_strict_and_logout_clears_the_site(
    casework_app: Flask, admin: StaffAccount
) -> None:
    client = casework_app.test_client()
    page = client.get("/login")
    csrf_cookie = [h for h in page.headers.getlist("Set-Cookie") if "filon-csrf" in h]
    assert len(csrf_cookie) == 1
    attributes = [part.strip() for part in csrf_cookie[0].split(";")]
    assert attributes[0].startswith("__Host-filon-csrf=")
    assert {"Secure", "HttpOnly", "Path=/", "SameSite=Strict"} <= set(attributes)
    assert not any(a.lower().startswith("domain=") for a in attributes)

    person = Staff(client, admin)
    signed = person.log_in()
    session_cookie = next(h for h in signed.headers.getlist("Set-Cookie") if "filon-session" in h)
    assert {"Secure", "HttpOnly", "Path=/", "SameSite=Strict"} <= {
        p.strip() for p in session_cookie.split(";")
    }
    assert session_cookie.startswith("__Host-filon-session=")

    out = person.log_out()
    assert out.headers["Clear-Site-Data"] == '"cookies", "storage", "cache"'
    cleared = next(h for h in out.headers.getlist("Set-Cookie") if "filon-session" in h)
    parts = {p.strip() for p in cleared.split(";")}
    # A browser ignores a __Host- cookie deletion that is not Secure with Path=/.
    assert cleared.startswith("__Host-filon-session=;")
    assert {"Secure", "Path=/"} <= parts
    assert any(p.startswith("Expires=Thu, 01 Jan 1970") for p in parts)


def test_qr_code_is_inline_svg_with_nothing_fetched(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    person = stepped_up(instance, signed_in(casework_app, admin))
    path = "/admin/users/investigator/reset"
    body = post(person, path, path).get_data(as_text=True)
    svg = body[body.index("<svg") : body.index("</svg>")]
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg  # the namespace name, never fetched
    assert "href" not in svg
    assert "<image" not in svg
    assert "<script" not in svg
    assert "src=" not in svg


def test_account_page_shows_the_history_and_names_a_broken_chain(
    instance: Instance, casework_app: Flask, investigator: StaffAccount
) -> None:
    person = signed_in(casework_app, investigator)
    assert "No password change or reset yet" in person.client.get("/account").get_data(True)
    forget_used_codes(instance)
    assert change_password(person).status_code == 303
    page = person.client.get("/account").get_data(as_text=True)
    assert "password_changed" in page
    assert "does not verify" not in page
    with transaction(instance.sessions) as session:
        session.execute(
            update(CustodyEvent)
            .where(CustodyEvent.subject == "account:investigator")
            .values(details='{"other_sessions_ended":5}')
        )
    tampered = person.client.get("/account")
    assert tampered.status_code == 200
    assert "This history does not verify" in tampered.get_data(as_text=True)


def test_step_up_shares_the_sign_in_throttle(
    instance: Instance, casework_app: Flask, admin: StaffAccount
) -> None:
    person = signed_in(casework_app, admin)  # one attempt counted
    for _ in range(ATTEMPTS_PER_USER - 1):
        guess = person.client.post(
            "/step-up",
            data={
                "csrf_token": csrf_token(person.client, "/step-up"),
                "password": "a-wrong-guess",
                "code": "000000",
                "next": "/",
            },
        )
        assert guess.status_code == 401
    forget_used_codes(instance)
    throttled = step_up(person)  # the right password and code, too late
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.get_data(as_text=True)
    with instance.sessions() as session:
        assert session.scalars(select(StaffSession)).one().stepped_up_at is None
