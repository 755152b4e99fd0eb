"""Staff sessions (DESIGN.md §3): the user key sealed under a key that only the browser holds.

At sign-in the password unlocks the user key. We make a random 32-byte session key, seal the
user key under it (``crypto_secretbox``) in a ``staff_sessions`` row found by the key's
SHA-256, and hand the key to the browser as the session cookie. The server keeps neither the
key nor the password: someone who copies the database gets sealed boxes and hashes of random
keys, which open nothing. Every request reads the row, so any number of processes can serve.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass

import nacl.exceptions
import nacl.secret
import nacl.utils
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from casework.errors import SessionExpired, SessionInvalid, SessionMissing
from casework.models import StaffSession
from crypto.keys import BoxKeyPair
from filon.db import utc_now
from filon.models import User

# ``__Host-`` makes the browser refuse the cookie unless it is Secure, has Path=/ and no
# Domain: a sibling host or a plain-HTTP response cannot plant or overwrite it.
COOKIE_NAME = "__Host-filon-session"
# An unattended, signed-in browser is the likeliest way into a desk: half an hour of idleness
# ends a session, and no session outlives a working day however busy it is.
IDLE_LIMIT = dt.timedelta(minutes=30)
ABSOLUTE_LIMIT = dt.timedelta(hours=12)
# Writing last_seen_at on every request would make every page view a write; a minute of
# slack in the idle limit costs nothing.
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True, repr=False)
class ActiveSession:
    """A resumed session: the user and their unlocked key, for one request only."""

    row: StaffSession
    user: User
    user_key: BoxKeyPair


def key_hash(session_key: bytes) -> str:
    """The stored name of a session: SHA-256 of its 32 random bytes (no brute force possible)."""
    return hashlib.sha256(session_key).hexdigest()


def encode_cookie(session_key: bytes) -> str:
    """The cookie value of a session key."""
    return base64.urlsafe_b64encode(session_key).decode("ascii").rstrip("=")


def decode_cookie(value: str) -> bytes:
    """The session key in a cookie value (raises :class:`SessionMissing` for anything else)."""
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SessionMissing("the session cookie is malformed") from exc
    if len(key) != nacl.secret.SecretBox.KEY_SIZE:
        raise SessionMissing("the session cookie is malformed")
    return key


def start_session(
    session: Session, *, user: User, user_key: BoxKeyPair, now: dt.datetime | None = None
) -> str:
    """Store the user key sealed under a fresh session key; return the cookie value."""
    now = now or utc_now()
    session_key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    session.add(
        StaffSession(
            key_hash=key_hash(session_key),
            user_id=user.id,
            sealed_user_key=nacl.secret.SecretBox(session_key).encrypt(user_key.private),
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_LIMIT,
        )
    )
    session.flush()
    return encode_cookie(session_key)


def resume_session(
    session: Session, cookie: str | None, *, now: dt.datetime | None = None
) -> ActiveSession:
    """Find the cookie's session, check both expiries and open the user key.

    An expired session raises :class:`SessionExpired`; the caller deletes it with
    :func:`end_session` in a transaction of its own (this one rolls back on the error).
    """
    if not cookie:
        raise SessionMissing("no session cookie")
    now = now or utc_now()
    session_key = decode_cookie(cookie)
    row = session.scalars(
        select(StaffSession).where(StaffSession.key_hash == key_hash(session_key))
    ).first()
    if row is None:
        raise SessionMissing("no session matches the cookie")
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_LIMIT:
        raise SessionExpired("the session has expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise SessionExpired("the account is gone or disabled")
    try:
        private = nacl.secret.SecretBox(session_key).decrypt(row.sealed_user_key)
    except nacl.exceptions.CryptoError as exc:
        raise SessionInvalid("the session does not open with this cookie") from exc
    user_key = BoxKeyPair.from_private(private)
    # A database writer could point a session row at another account; the key it opens to
    # must be that account's key, or the row is refused.
    if user_key.public != user.public_key:
        raise SessionInvalid("the session's key is not its user's key")
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return ActiveSession(row, user, user_key)


def end_session(session: Session, cookie: str | None) -> None:
    """Delete the cookie's session row, if there is one."""
    if not cookie:
        return
    try:
        session_key = decode_cookie(cookie)
    except SessionMissing:
        return
    session.execute(delete(StaffSession).where(StaffSession.key_hash == key_hash(session_key)))


def end_user_sessions(session: Session, *, user_id: int, keep: int | None = None) -> int:
    """Delete every session of a user (but the one with id ``keep``); return how many went.

    After a password change or a reset, a browser signed in elsewhere (perhaps by whoever
    learnt the old password) must not stay in.
    """
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def purge_expired(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete every session past either limit; return how many went."""
    now = now or utc_now()
    result = session.execute(
        delete(StaffSession).where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - IDLE_LIMIT)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
