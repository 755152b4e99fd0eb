"""Staff accounts, desks and their sealed keys (DESIGN.md §3)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.errors import EnvelopeNotForThisKey, WrongPassword
from crypto.keys import parse_recovery_key
from crypto.sealing import open_sealed, seal
from filon.accounts import (
    DeskGrant,
    create_user,
    open_desk_key,
    password_hasher,
    unlock_user_key,
)
from filon.db import transaction
from filon.desks import create_desk, open_desk_key_with_recovery
from filon.errors import AlreadyExists, InvalidName, NotFound
from filon.instance import Created, Instance
from filon.models import DeskMembership, OrgKeyGrant, Role

PASSWORD = "correct horse battery"


def _desk(session: Session, instance: Instance, slug: str = "drc-minerals"):  # noqa: ANN202
    return create_desk(
        session, slug=slug, name="DRC", recovery_public_key=instance.settings.recovery_public_key
    )


def test_user_key_opens_only_with_the_password(instance: Instance) -> None:
    with transaction(instance.sessions) as session:
        new = create_user(session, username="amani", role=Role.INVESTIGATOR, password=PASSWORD)
    user = new.user
    assert unlock_user_key(user, PASSWORD).public == user.public_key
    with pytest.raises(WrongPassword):
        unlock_user_key(user, PASSWORD + "!")
    assert password_hasher().verify(user.password_hash, PASSWORD)
    assert PASSWORD.encode() not in user.wrapped_private_key
    assert len(new.totp_secret) >= 32


def test_a_member_opens_the_desk_and_an_outsider_cannot(instance: Instance) -> None:
    with transaction(instance.sessions) as session:
        desk, desk_key = _desk(session, instance)
        member = create_user(
            session,
            username="amani",
            role=Role.INVESTIGATOR,
            password=PASSWORD,
            grants=[DeskGrant(desk, desk_key)],
        ).user
        outsider = create_user(
            session, username="bisimwa", role=Role.INVESTIGATOR, password=PASSWORD
        ).user
        sealed_content = seal(b"report text", desk.public_key)
        opened = open_desk_key(
            session, desk=desk, user=member, user_key=unlock_user_key(member, PASSWORD)
        )
        assert open_sealed(sealed_content, opened) == b"report text"
        with pytest.raises(NotFound):
            open_desk_key(
                session, desk=desk, user=outsider, user_key=unlock_user_key(outsider, PASSWORD)
            )
        # Even with the member's sealed copy in hand, the outsider's key does not open it.
        membership = session.scalars(select(DeskMembership)).one()
        with pytest.raises(EnvelopeNotForThisKey):
            open_sealed(membership.sealed_desk_key, unlock_user_key(outsider, PASSWORD))


def test_recovery_key_opens_every_desk(created: Created) -> None:
    instance = created.instance
    with transaction(instance.sessions) as session:
        desk, desk_key = _desk(session, instance)
    recovered = open_desk_key_with_recovery(desk, parse_recovery_key(created.recovery_key_text))
    assert recovered.private == desk_key.private


def test_admins_get_the_signing_key_sealed_to_them(instance: Instance) -> None:
    signing = instance.keyring.signing_key()
    with transaction(instance.sessions) as session:
        admin = create_user(
            session, username="admin", role=Role.ADMIN, password=PASSWORD, signing_key=signing
        ).user
        create_user(
            session,
            username="reporter",
            role=Role.JOURNALIST,
            password=PASSWORD,
            signing_key=signing,
        )
        grants = list(session.scalars(select(OrgKeyGrant)))
    assert [g.user_id for g in grants] == [admin.id]
    assert (
        open_sealed(grants[0].sealed_private_key, unlock_user_key(admin, PASSWORD)) == signing.seed
    )


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("Amani", PASSWORD, "username"),
        ("a", PASSWORD, "username"),
        ("1amani", PASSWORD, "username"),
        ("amani/../x", PASSWORD, "username"),
        ("amani", "short", "password"),
    ],
)
def test_invalid_accounts_are_refused(
    instance: Instance, username: str, password: str, message: str
) -> None:
    with pytest.raises(InvalidName, match=message), transaction(instance.sessions) as session:
        create_user(session, username=username, role=Role.JOURNALIST, password=password)


def test_duplicates_are_refused(instance: Instance) -> None:
    with transaction(instance.sessions) as session:
        create_user(session, username="amani", role=Role.JOURNALIST, password=PASSWORD)
        _desk(session, instance)
    with pytest.raises(AlreadyExists), transaction(instance.sessions) as session:
        create_user(session, username="amani", role=Role.JOURNALIST, password=PASSWORD)
    with pytest.raises(AlreadyExists), transaction(instance.sessions) as session:
        _desk(session, instance)


@pytest.mark.parametrize("slug", ["DRC", "-drc", "drc-", "drc minerals", "drc/../x", ""])
def test_invalid_desk_slugs_are_refused(instance: Instance, slug: str) -> None:
    with pytest.raises(InvalidName), transaction(instance.sessions) as session:
        _desk(session, instance, slug)
