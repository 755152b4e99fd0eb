"""The main of the benchmarks that run once per database: SQLite, then a throwaway PostgreSQL.

Each benchmark gives a ``run(database, root, server)`` that builds its data in ``root`` (on
``server`` for PostgreSQL) and returns its figures; this prints them as one ``key=value``
line, prefixed ``sqlite_`` and ``pg_``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tests import postgres

if TYPE_CHECKING:
    from flask.testing import FlaskClient

    from filon.accounts import NewUser
    from filon.instance import Instance

Run = Callable[[str, Path, str | None], dict[str, float]]


def main_over_databases(run: Run, *, name: str, description: str) -> None:
    """Parse ``--databases``, run on each, and print the figures; ``KEEP=1`` keeps the files."""
    parser = argparse.ArgumentParser(description=description.split("\n", 1)[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    wanted = parser.parse_args().databases.split(",")
    figures: dict[str, float] = {}
    root = Path(tempfile.mkdtemp(prefix=f"filon-bench-{name}-"))
    try:
        for database in wanted:
            with contextlib.ExitStack() as stack:
                server = (
                    stack.enter_context(postgres.cluster("filon-bench-pg-"))
                    if database == "postgresql"
                    else None
                )
                found = run(database, root, server)
            prefix = "pg" if database == "postgresql" else "sqlite"
            figures.update({f"{prefix}_{k}": v for k, v in found.items()})
            print(f"{database}: {found}", file=sys.stderr)
    finally:
        if os.environ.get("KEEP"):  # keep the SQLite file to look at query plans
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


# -- what the benchmarks of the casework share ------------------------------------------------

DESK_SLUG = "drc-minerals"
PASSWORD = "bench-password-long-enough"  # noqa: S105 - a throwaway instance


def check(condition: bool, problem: str) -> None:
    """Stop the benchmark when its own setup is wrong (its figures would mean nothing)."""
    if not condition:
        raise SystemExit(f"benchmark setup is wrong: {problem}")


def make_desk_staff(instance: Instance, usernames: Sequence[str]) -> list[NewUser]:
    """The desk ``drc-minerals`` and these investigators, members of it (password PASSWORD)."""
    from filon.accounts import DeskGrant, create_user  # noqa: PLC0415
    from filon.db import transaction  # noqa: PLC0415
    from filon.desks import create_desk  # noqa: PLC0415
    from filon.models import Role  # noqa: PLC0415

    with transaction(instance.sessions) as session:
        desk, key = create_desk(
            session,
            slug=DESK_SLUG,
            name="DR Congo minerals",
            recovery_public_key=instance.settings.recovery_public_key,
        )
        return [
            create_user(
                session,
                username=name,
                role=Role.INVESTIGATOR,
                password=PASSWORD,
                grants=[DeskGrant(desk, key)],
            )
            for name in usernames
        ]


def signed_in_casework(instance: Instance, username: str, totp_secret: str) -> FlaskClient:
    """A test client of the casework, signed in as a person would (password and TOTP)."""
    import pyotp  # noqa: PLC0415

    from casework import create_app  # noqa: PLC0415

    app = create_app(instance.settings, instance)
    app.config["TESTING"] = True
    app.config["PREFERRED_URL_SCHEME"] = "https"  # the casework's cookies are Secure
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": username,
            "password": PASSWORD,
            "code": pyotp.TOTP(totp_secret).now(),
        },
    )
    check(signed_in.status_code == 303, f"sign-in answered {signed_in.status_code}")
    return client
