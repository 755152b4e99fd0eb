"""Shared fixtures, in layers: cheap KDFs → databases → instance → apps → clients.

The suite runs on SQLite and on a real PostgreSQL server that it starts itself (Debian's
``postgresql`` package, installed by ``scripts/test.sh``). Every test that takes ``db_url``
runs once per database, each time on a database of its own.
Set ``FILON_TEST_DATABASES=sqlite`` to run on SQLite alone for a quick local run, or
``FILON_TEST_POSTGRES_URL`` to use a server you already run.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from crypto import kdf
from filon.instance import Created, Instance, init_instance
from tests import postgres

DATABASES = [
    name
    for name in os.environ.get("FILON_TEST_DATABASES", "sqlite,postgresql").split(",")
    if name.strip()
]


@pytest.fixture(autouse=True)
def _cheap_kdf() -> Iterator[None]:
    """Argon2id at libsodium's minimum cost: tests exercise the code, not the hardness."""
    with kdf.cheap_mode_for_tests():
        yield


# -- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for this test run; yields a server URL without a database."""
    external = os.environ.get("FILON_TEST_POSTGRES_URL")
    if external:
        yield external.rstrip("/")
        return
    try:
        postgres.postgres_bin()
    except postgres.PostgresMissing as exc:
        pytest.fail(str(exc))
    with postgres.cluster() as url:
        yield url


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(server, name)
    try:
        yield url
    finally:
        postgres.drop_database(server, name)


# -- instance and apps ------------------------------------------------------------------------


@pytest.fixture
def created(tmp_path: Path, db_url: str) -> Iterator[Created]:
    """A new instance on the test's database, with the recovery key it printed."""
    # A low proof-of-work difficulty keeps many submissions fast; the check itself is the same.
    result = init_instance(tmp_path / "instance", database_url=db_url, pow_difficulty=4)
    yield result
    result.instance.close()


@pytest.fixture
def instance(created: Created) -> Instance:
    """A new, empty instance."""
    return created.instance


STAFF_PASSWORD = "investigator-password-for-tests"


@dataclass(frozen=True)
class DeskSetup:
    """A desk with one investigator, as the demo has."""

    slug: str
    username: str
    password: str


@pytest.fixture
def desk(instance: Instance) -> DeskSetup:
    """The desk ``drc-minerals`` with the member ``investigator``."""
    from filon.accounts import DeskGrant, create_user
    from filon.db import transaction
    from filon.desks import create_desk
    from filon.models import Role

    with transaction(instance.sessions) as session:
        made, key = create_desk(
            session,
            slug="drc-minerals",
            name="DR Congo minerals",
            recovery_public_key=instance.settings.recovery_public_key,
        )
        create_user(
            session,
            username="investigator",
            role=Role.INVESTIGATOR,
            password=STAFF_PASSWORD,
            grants=[DeskGrant(made, key)],
        )
    return DeskSetup("drc-minerals", "investigator", STAFF_PASSWORD)


@pytest.fixture
def intake_app(instance: Instance) -> Flask:
    """The intake app serving the test instance."""
    from intake import create_app

    app = create_app(instance.settings, instance)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def intake_client(intake_app: Flask) -> FlaskClient:
    """A test client of the intake app."""
    return intake_app.test_client()


@pytest.fixture
def live_intake(intake_app: Flask) -> Iterator[str]:
    """The intake app served as ``filon serve`` serves it, on a free localhost port."""
    from filon.serve import Listener, bind

    server = bind(Listener("intake", intake_app, "127.0.0.1", 0), threads=4)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)


@pytest.fixture
def casework_app(instance: Instance) -> Flask:
    """The casework app serving the test instance."""
    from casework import create_app
    from intake.ports import casework_ports

    app = create_app(instance.settings, instance, ports=casework_ports())
    app.config["TESTING"] = True
    # The casework's cookies are Secure (and __Host-): the test client must speak HTTPS.
    app.config["PREFERRED_URL_SCHEME"] = "https"
    return app


# -- casework staff -----------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def totp_code(secret: str, step: int | None = None) -> str:
    """A TOTP code for ``secret``: now, or for a chosen time step (to test replays)."""
    totp = pyotp.TOTP(secret)
    return totp.now() if step is None else totp.at(step * totp.interval)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``."""
    match = CSRF_FIELD.search(client.get(path).get_data(as_text=True))
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


@dataclass(frozen=True)
class StaffAccount:
    """A staff account as a person holds it: name, password and TOTP secret."""

    username: str
    password: str
    totp_secret: str


@dataclass
class Staff:
    """A staff member at a browser: signs in, reads, signs out."""

    client: FlaskClient
    account: StaffAccount

    def log_in(self, *, code: str | None = None, password: str | None = None) -> TestResponse:
        """Post the sign-in form (the current TOTP code unless one is given)."""
        return self.client.post(
            "/login",
            data={
                "csrf_token": csrf_token(self.client),
                "username": self.account.username,
                "password": self.account.password if password is None else password,
                "code": totp_code(self.account.totp_secret) if code is None else code,
            },
        )

    def session_cookie(self) -> str | None:
        """The value of the session cookie the browser holds, if any."""
        cookie = self.client.get_cookie("__Host-filon-session")
        return None if cookie is None else cookie.value

    def log_out(self) -> TestResponse:
        """Press "Sign out"."""
        token = csrf_token(self.client)  # one token per browser serves every form
        return self.client.post("/logout", data={"csrf_token": token})


def make_account(instance: Instance, username: str, role: str) -> StaffAccount:
    """Create a staff account that is a member of no desk."""
    from filon.accounts import create_user
    from filon.db import transaction
    from filon.models import Role

    with transaction(instance.sessions) as session:
        made = create_user(session, username=username, role=Role(role), password=STAFF_PASSWORD)
    return StaffAccount(username, STAFF_PASSWORD, made.totp_secret)


@pytest.fixture
def investigator(instance: Instance, desk: DeskSetup) -> StaffAccount:
    """The desk fixture's investigator, with the TOTP secret their account was given."""
    from filon.accounts import get_user

    with instance.sessions() as session:
        secret = get_user(session, desk.username).totp_secret
    return StaffAccount(desk.username, desk.password, secret)


@pytest.fixture
def casework_client(casework_app: Flask) -> FlaskClient:
    """A test client of the casework app, over HTTPS."""
    return casework_app.test_client()


@pytest.fixture
def staff(casework_client: FlaskClient, investigator: StaffAccount) -> Staff:
    """The investigator of ``drc-minerals`` at a browser, not yet signed in."""
    return Staff(casework_client, investigator)
