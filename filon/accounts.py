"""Staff accounts and their keys: create users, unlock user keys, open desk keys.

A user's X25519 key is wrapped under their password (Argon2id + secretbox, :mod:`crypto.kdf`);
the password verifier is a separate Argon2id hash (argon2-cffi), so checking a password at
login never needs the key-wrapping derivation and vice versa. Desk keys reach a user only
sealed to the user's public key; the org signing key reaches admins the same way.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import argon2
import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crypto import kdf
from crypto.keys import BoxKeyPair, SigningKeyPair
from crypto.sealing import open_sealed, seal
from filon.db import current_day
from filon.errors import AlreadyExists, InvalidName, NotFound
from filon.models import Desk, DeskMembership, OrgKey, OrgKeyGrant, Role, User

USERNAME = re.compile(r"\A[a-z][a-z0-9._-]{1,63}\Z")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
SIGNING_PURPOSE = "signing"
TOTP_ISSUER = "Filon"


def password_hasher() -> argon2.PasswordHasher:
    """The verifier's hasher: RFC 9106 defaults, or the cheapest cost under the test switch."""
    if kdf.cheap_mode_enabled():
        return argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return argon2.PasswordHasher()


def generate_password() -> str:
    """A random password to hand to a new account (about 100 bits, easy to type)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)


def check_password_rules(password: str) -> None:
    """Refuse a password shorter than the minimum (or absurdly long)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidName(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidName(f"a password has at most {MAX_PASSWORD_CHARS} characters")


def totp_uri(username: str, secret: str) -> str:
    """The ``otpauth://`` provisioning URI an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


@dataclass(frozen=True)
class DeskGrant:
    """A desk key to seal to a new member, with the member's rights."""

    desk: Desk
    desk_key: BoxKeyPair
    can_export: bool = False


@dataclass(frozen=True)
class NewUser:
    """A created account and the secrets to hand over once."""

    user: User
    password: str
    totp_secret: str


def create_user(
    session: Session,
    *,
    username: str,
    role: Role,
    password: str,
    grants: Sequence[DeskGrant] = (),
    signing_key: SigningKeyPair | None = None,
) -> NewUser:
    """Create a staff account, seal the granted desk keys to it, and the signing key to admins."""
    if not USERNAME.match(username):
        raise InvalidName(
            "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    check_password_rules(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"a user named {username!r} already exists")
    keypair = BoxKeyPair.generate()
    totp_secret = pyotp.random_base32()
    user = User(
        username=username,
        role=role,
        password_hash=password_hasher().hash(password),
        public_key=keypair.public,
        wrapped_private_key=kdf.wrap_key(keypair.private, password),
        totp_secret=totp_secret,
        active=True,
        created_day=current_day(),
    )
    session.add(user)
    session.flush()
    for grant in grants:
        add_member(
            session,
            desk=grant.desk,
            desk_key=grant.desk_key,
            user=user,
            can_export=grant.can_export,
        )
    if role is Role.ADMIN and signing_key is not None:
        grant_signing_key(session, user=user, signing_key=signing_key)
    return NewUser(user=user, password=password, totp_secret=totp_secret)


def add_member(
    session: Session, *, desk: Desk, desk_key: BoxKeyPair, user: User, can_export: bool = False
) -> DeskMembership:
    """Give a user a desk: the desk key sealed to the user's public key."""
    if desk_key.public != desk.public_key:
        raise ValueError("this is not the desk's key")
    membership = DeskMembership(
        desk_id=desk.id,
        user_id=user.id,
        sealed_desk_key=seal(desk_key.private, user.public_key),
        can_export=can_export,
    )
    session.add(membership)
    session.flush()
    return membership


def grant_signing_key(session: Session, *, user: User, signing_key: SigningKeyPair) -> None:
    """Seal the org signing key to an admin's user key."""
    org_key = session.scalars(select(OrgKey).where(OrgKey.purpose == SIGNING_PURPOSE)).one()
    if org_key.public_key != signing_key.public:
        raise ValueError("this is not the org signing key on record")
    session.add(
        OrgKeyGrant(
            org_key_id=org_key.id,
            user_id=user.id,
            sealed_private_key=seal(signing_key.seed, user.public_key),
        )
    )
    session.flush()


def get_user(session: Session, username: str) -> User:
    """A user by name."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def unlock_user_key(user: User, password: str) -> BoxKeyPair:
    """Open a user's key with their password (raises :class:`crypto.errors.WrongPassword`)."""
    return BoxKeyPair.from_private(kdf.unwrap_key(user.wrapped_private_key, password))


def open_desk_key(session: Session, *, desk: Desk, user: User, user_key: BoxKeyPair) -> BoxKeyPair:
    """Open a desk's key through the user's membership."""
    membership = session.scalars(
        select(DeskMembership).where(
            DeskMembership.desk_id == desk.id, DeskMembership.user_id == user.id
        )
    ).first()
    if membership is None:
        raise NotFound(f"{user.username} is not a member of the desk {desk.slug}")
    desk_key = BoxKeyPair.from_private(open_sealed(membership.sealed_desk_key, user_key))
    if desk_key.public != desk.public_key:
        raise ValueError("the sealed desk key does not match the desk")
    return desk_key


def remove_member(session: Session, *, desk: Desk, user: User) -> None:
    """Take a desk from a user: delete the membership holding the desk key sealed to them.

    This stops the user opening the desk through Filon. A member who copied the desk key
    while they held it keeps it; only a new desk key (not built yet) would shut them out.
    """
    membership = session.scalars(
        select(DeskMembership).where(
            DeskMembership.desk_id == desk.id, DeskMembership.user_id == user.id
        )
    ).first()
    if membership is None:
        raise NotFound(f"{user.username} is not a member of the desk {desk.slug}")
    session.delete(membership)
    session.flush()


def change_password(session: Session, *, user: User, user_key: BoxKeyPair, password: str) -> None:
    """Wrap the user's key under a new password (fresh salt) and replace the verifier.

    The user key itself stays the same, so every desk key sealed to it still opens; only the
    wrapping and the verifier change. The caller has checked the current password.
    """
    check_password_rules(password)
    if user_key.public != user.public_key:
        raise ValueError("this is not the user's key")
    user.wrapped_private_key = kdf.wrap_key(user_key.private, password)
    user.password_hash = password_hasher().hash(password)
    session.flush()


# Opens a desk's key for re-sealing, or returns None where the opener does not hold it.
DeskOpener = Callable[[Desk], BoxKeyPair | None]


@dataclass(frozen=True, repr=False)
class Reset:
    """A reset account: the secrets to hand over once, and which desks it kept."""

    user: User
    password: str
    totp_secret: str
    resealed: list[str] = field(default_factory=list)  # desk slugs
    lost: list[str] = field(default_factory=list)  # desk slugs whose key was not to be had


def reset_user(
    session: Session,
    *,
    user: User,
    open_desk: DeskOpener,
    signing_key: SigningKeyPair | None,
) -> Reset:
    """Give a user a new key, password and TOTP secret; re-seal the desk keys one can open.

    The old user key is gone with the old password, so every desk key sealed to it is
    useless: ``open_desk`` opens each of the user's desks (with an admin's session or the
    recovery key) and the key is sealed to the new user key. A desk it cannot open loses
    the membership (it could never open again) and is listed in ``lost``. A sealed
    custodian key cannot be re-sealed this way and is dropped. Admins get the org signing
    key sealed anew.
    """
    keypair = BoxKeyPair.generate()
    password = generate_password()
    totp_secret = pyotp.random_base32()
    resealed: list[str] = []
    lost: list[str] = []
    memberships = list(
        session.scalars(select(DeskMembership).where(DeskMembership.user_id == user.id))
    )
    for membership in sorted(memberships, key=lambda m: m.desk.slug):
        desk_key = open_desk(membership.desk)
        if desk_key is None:
            lost.append(membership.desk.slug)
            session.delete(membership)
            continue
        if desk_key.public != membership.desk.public_key:
            raise ValueError("the opened desk key does not match the desk")
        membership.sealed_desk_key = seal(desk_key.private, keypair.public)
        membership.sealed_custodian_key = None
        resealed.append(membership.desk.slug)
    user.public_key = keypair.public
    user.wrapped_private_key = kdf.wrap_key(keypair.private, password)
    user.password_hash = password_hasher().hash(password)
    user.totp_secret = totp_secret
    session.execute(delete(OrgKeyGrant).where(OrgKeyGrant.user_id == user.id))
    session.flush()
    if user.role is Role.ADMIN and signing_key is not None:
        grant_signing_key(session, user=user, signing_key=signing_key)
    return Reset(user, password, totp_secret, resealed, lost)
