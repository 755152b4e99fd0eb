"""Demo data for ``filon init --demo``: a desk and three staff accounts.

Sample mine sites, actors and submissions join here as their issues land (they go through the
real importers and the real intake pipeline, never straight into tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from filon.accounts import DeskGrant, create_user, generate_password
from filon.db import transaction
from filon.desks import create_desk
from filon.instance import Instance
from filon.keyring import write_secret_file
from filon.models import Role

DEMO_DESK = "drc-minerals"
DEMO_DESK_NAME = "DR Congo minerals"
DEMO_USERS = (
    ("admin", Role.ADMIN, True),
    ("investigator", Role.INVESTIGATOR, False),
    ("journalist", Role.JOURNALIST, True),
)
LOGINS_FILE = "demo-logins.txt"


@dataclass(frozen=True)
class DemoLogin:
    """A demo account's credentials, printed for the person trying Filon."""

    username: str
    role: str
    password: str
    totp_secret: str


def seed_demo(instance: Instance, *, password: str | None = None) -> list[DemoLogin]:
    """Add the demo desk and accounts; returns their logins (the caller prints and keeps them)."""
    signing = instance.keyring.signing_key()
    logins = []
    with transaction(instance.sessions) as session:
        desk, desk_key = create_desk(
            session,
            slug=DEMO_DESK,
            name=DEMO_DESK_NAME,
            recovery_public_key=instance.settings.recovery_public_key,
            retention_days=365,
        )
        for username, role, can_export in DEMO_USERS:
            new = create_user(
                session,
                username=username,
                role=role,
                password=password or generate_password(),
                grants=[DeskGrant(desk, desk_key, can_export)],
                signing_key=signing,
            )
            logins.append(DemoLogin(username, role.value, new.password, new.totp_secret))
    return logins


def render_logins(logins: list[DemoLogin]) -> str:
    """The demo logins as printed and as kept in the demo instance."""
    lines = ["demo logins (a demo instance only; never use these accounts for real work):"]
    lines += [
        f"  {login.username:<13} role={login.role:<13} password={login.password}  "
        f"totp_secret={login.totp_secret}"
        for login in logins
    ]
    return "\n".join(lines) + "\n"


def render_samples(samples: Sequence[tuple[str, str | None]]) -> str:
    """The demo's sample submissions: receipt, and the codename its invented source holds.

    With a codename, whoever tries the demo can play the source too: read the desk's reply
    on the intake's "Read replies" page.
    """
    lines = [f"sample submissions on {DEMO_DESK} (the codename reads replies on the intake):"]
    lines += [f"  {receipt}  codename: {codename or '-'}" for receipt, codename in samples]
    return "\n".join(lines) + "\n"


def save_demo_text(instance_dir: Path, text: str) -> None:
    """Keep what ``filon init --demo`` printed in the demo instance (0600), to print again."""
    write_secret_file(instance_dir / LOGINS_FILE, text.encode())


def saved_logins(instance_dir: Path) -> str | None:
    """The demo logins kept in a demo instance, if it is one."""
    path = instance_dir / LOGINS_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else None
