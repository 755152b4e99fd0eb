"""Staff sign-in, sessions and sign-out (DESIGN.md §3): on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from casework import create_app
from casework.auth import ATTEMPTS_PER_USER, log_in, totp_step
from casework.errors import (
    AccountDisabled,
    BadCode,
    BadPassword,
    CodeReused,
    LoginFailed,
    TooManyAttempts,
    UnknownUser,
)
from casework.models import StaffSession
from casework.sessions import ABSOLUTE_LIMIT, IDLE_LIMIT, decode_cookie, key_hash
from casework.views.auth import LOGIN_FAILED
from filon.db import transaction, utc_now
from filon.instance import Instance
from filon.models import User
from tests.conftest import Staff, StaffAccount, csrf_token, make_account, totp_code

PEPPER = b"p" * 32


def session_rows(instance: Instance) -> int:
    with instance.sessions() as session:
        return session.scalar(select(func.count()).select_from(StaffSession)) or 0


def disable(instance: Instance, username: str) -> None:
    with transaction(instance.sessions) as session:
        session.execute(update(User).where(User.username == username).values(active=False))


# -- the sign-in service: one exception per failure ----------------------------------------------


def _attempt(instance: Instance, account: StaffAccount, **changes: str) -> None:
    fields = {
        "username": account.username,
        "password": account.password,
        "code": totp_code(account.totp_secret),
        **changes,
    }
    log_in(instance.sessions, pepper=PEPPER, **fields)


def wrong_code(secret: str) -> str:
    """A six-digit code that matches no step in the drift window."""
    step = totp_step()
    valid = {totp_code(secret, step + offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("wrong password", BadPassword),
        ("wrong code", BadCode),
        ("replayed code", CodeReused),
        ("unknown user", UnknownUser),
        ("disabled user", AccountDisabled),
    ],
)
def test_log_in_failures_raise_their_own_error(
    instance: Instance, investigator: StaffAccount, case: str, error: type[LoginFailed]
) -> None:
    changes: dict[str, str] = {}
    if case == "wrong password":
        changes["password"] = "not-the-password"
    elif case == "wrong code":
        changes["code"] = wrong_code(investigator.totp_secret)
    elif case == "replayed code":
        _attempt(instance, investigator)
    elif case == "unknown user":
        changes["username"] = "nobody"
    else:
        disable(instance, investigator.username)
    with pytest.raises(error):
        _attempt(instance, investigator, **changes)


def test_a_time_step_works_once_and_never_an_earlier_one(
    instance: Instance, investigator: StaffAccount
) -> None:
    now = utc_now()
    step = totp_step(now)

    def at_step(offset: int) -> None:
        code = totp_code(investigator.totp_secret, step + offset)
        log_in(
            instance.sessions,
            username=investigator.username,
            password=investigator.password,
            code=code,
            pepper=PEPPER,
            now=now,
        )

    at_step(0)
    with pytest.raises(CodeReused):
        at_step(0)
    with pytest.raises(CodeReused):
        at_step(-1)  # inside the drift window, but older than the step just used
    at_step(1)  # the next step is still fresh
    with pytest.raises(BadCode):
        at_step(5)  # outside the drift window


def test_throttle_counts_per_username_across_failures(
    instance: Instance, investigator: StaffAccount
) -> None:
    for _ in range(ATTEMPTS_PER_USER):
        with pytest.raises(BadPassword):
            _attempt(instance, investigator, password="wrong-password-guess")
    with pytest.raises(TooManyAttempts):
        _attempt(instance, investigator)  # even the right password is refused now
    # Another account is not locked out by someone guessing at this one.
    _attempt(instance, make_account(instance, "journalist", "journalist"))


# -- the sign-in page ------------------------------------------------------------------------------


def test_sign_in_sets_a_host_only_secure_strict_cookie(staff: Staff) -> None:
    response = staff.log_in()
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    cookies = [h for h in response.headers.getlist("Set-Cookie") if "filon-session" in h]
    assert len(cookies) == 1
    attributes = [part.strip() for part in cookies[0].split(";")]
    assert attributes[0].startswith("__Host-filon-session=")
    assert {"Secure", "HttpOnly", "Path=/", "SameSite=Strict"} <= set(attributes)
    assert not any(a.lower().startswith("domain=") for a in attributes)
    assert staff.client.get("/").status_code == 303  # on to the desk
    assert staff.client.get("/desks/drc-minerals").status_code == 200


def test_session_row_holds_no_key_only_its_hash(staff: Staff, instance: Instance) -> None:
    staff.log_in()
    cookie = staff.session_cookie()
    assert cookie is not None
    session_key = decode_cookie(cookie)
    with instance.sessions() as session:
        row = session.scalars(select(StaffSession)).one()
    assert row.key_hash == key_hash(session_key)
    assert session_key not in row.sealed_user_key
    assert session_key.hex() not in row.key_hash
    assert row.expires_at - row.created_at == ABSOLUTE_LIMIT


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong password", 401),
        ("wrong code", 401),
        ("replayed code", 401),
        ("unknown user", 401),
        ("disabled user", 401),
        ("throttled", 401),
        ("missing csrf", 400),
    ],
)
def test_sign_in_failures_show_one_generic_message(
    staff: Staff, instance: Instance, case: str, status: int
) -> None:
    account = staff.account
    data = {
        "csrf_token": csrf_token(staff.client),
        "username": account.username,
        "password": account.password,
        "code": totp_code(account.totp_secret),
    }
    if case == "wrong password":
        data["password"] = "not-the-password"
    elif case == "wrong code":
        data["code"] = wrong_code(account.totp_secret)
    elif case == "replayed code":
        assert staff.log_in(code=data["code"]).status_code == 303
        staff.client.delete_cookie("__Host-filon-session")
    elif case == "unknown user":
        data["username"] = "nobody"
    elif case == "disabled user":
        disable(instance, account.username)
    elif case == "throttled":
        for _ in range(ATTEMPTS_PER_USER):
            assert staff.log_in(password="a-wrong-guess").status_code == 401
    else:
        del data["csrf_token"]
    rows_before = session_rows(instance)
    response = staff.client.post("/login", data=data)
    assert response.status_code == status
    assert LOGIN_FAILED in response.get_data(as_text=True)
    assert not any("filon-session=" in h for h in response.headers.getlist("Set-Cookie"))
    assert session_rows(instance) == rows_before


# -- expiry, sign-out, many processes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "age", "alive"),
    [
        ("last_seen_at", IDLE_LIMIT - dt.timedelta(minutes=2), True),
        ("last_seen_at", IDLE_LIMIT + dt.timedelta(seconds=1), False),
        ("created_at", ABSOLUTE_LIMIT - dt.timedelta(minutes=2), True),
        ("created_at", ABSOLUTE_LIMIT + dt.timedelta(seconds=1), False),
    ],
)
def test_idle_and_absolute_expiry(
    staff: Staff, instance: Instance, column: str, age: dt.timedelta, alive: bool
) -> None:
    staff.log_in()
    past = utc_now() - age
    values = {column: past}
    if column == "created_at":  # a busy session: seen just now, but started long ago
        values["expires_at"] = past + ABSOLUTE_LIMIT
    with transaction(instance.sessions) as session:
        session.execute(update(StaffSession).values(**values))
    response = staff.client.get("/desks/drc-minerals")
    if alive:
        assert response.status_code == 200
        assert session_rows(instance) == 1
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == "/login"
        assert session_rows(instance) == 0  # expiry deletes the row
        assert staff.session_cookie() is None


def test_sign_out_deletes_the_row_and_clears_the_site(staff: Staff, instance: Instance) -> None:
    staff.log_in()
    cookie = staff.session_cookie()
    assert session_rows(instance) == 1
    response = staff.log_out()
    assert response.status_code == 303
    assert response.headers["Clear-Site-Data"] == '"cookies", "storage", "cache"'
    assert session_rows(instance) == 0
    assert staff.session_cookie() is None
    staff.client.set_cookie("__Host-filon-session", cookie or "")
    assert staff.client.get("/desks/drc-minerals").status_code == 303  # the old key opens nothing


def test_sign_out_needs_csrf(staff: Staff, instance: Instance) -> None:
    staff.log_in()
    assert staff.client.post("/logout").status_code == 400
    assert session_rows(instance) == 1


@pytest.fixture
def second_app(instance: Instance) -> Iterator[Flask]:
    """Another process's app: its own engine on the same database."""
    app = create_app(instance.settings)
    app.config.update(TESTING=True, PREFERRED_URL_SCHEME="https")
    yield app
    app.extensions["filon"].close()


def test_two_app_processes_share_a_session(staff: Staff, second_app: Flask) -> None:
    staff.log_in()
    other = second_app.test_client()
    other.set_cookie("__Host-filon-session", staff.session_cookie() or "")
    assert other.get("/desks/drc-minerals").status_code == 200
    token = csrf_token(other, "/desks/drc-minerals")
    assert other.post("/logout", data={"csrf_token": token}).status_code == 303
    assert staff.client.get("/desks/drc-minerals").status_code == 303  # ended everywhere


def test_signing_in_again_replaces_the_browsers_old_session(
    staff: Staff, instance: Instance
) -> None:
    assert staff.log_in().status_code == 303
    first = staff.session_cookie()
    next_code = totp_code(staff.account.totp_secret, totp_step() + 1)  # a fresh step
    assert staff.log_in(code=next_code).status_code == 303
    assert staff.session_cookie() != first
    assert session_rows(instance) == 1


def test_a_sign_in_sweeps_expired_sessions(
    staff: Staff, instance: Instance, investigator: StaffAccount
) -> None:
    staff.log_in()
    with transaction(instance.sessions) as session:
        session.execute(update(StaffSession).values(last_seen_at=utc_now() - 2 * IDLE_LIMIT))
    other = make_account(instance, "journalist", "journalist")
    _attempt(instance, other)
    with instance.sessions() as session:
        remaining = list(session.scalars(select(StaffSession)))
    assert len(remaining) == 1
    with instance.sessions() as session:
        owner = session.get(User, remaining[0].user_id)
    assert owner is not None
    assert owner.username == "journalist"


def test_casework_pages_keep_the_strict_csp_and_no_store(staff: Staff) -> None:
    from filon.web import CONTENT_SECURITY_POLICY

    for response in (staff.client.get("/login"), staff.log_in()):
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["Cache-Control"] == "no-store"
    page = staff.client.get("/desks/drc-minerals").get_data(as_text=True)
    assert "<script" not in page
    assert "<style" not in page
    assert " style=" not in page
