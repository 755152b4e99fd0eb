"""Sign-in: password, TOTP with replay protection, throttling, and the session it starts.

Every failure raises its own :class:`~casework.errors.LoginFailed` subclass so tests and logs
can tell them apart, while the page shows one generic message: a guesser learns nothing about
which part was wrong or whether the account exists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import argon2
import pyotp
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from casework.errors import (
    AccountDisabled,
    BadCode,
    BadPassword,
    CodeReused,
    TooManyAttempts,
    UnknownUser,
)
from casework.models import TotpStep
from casework.sessions import purge_expired, start_session
from crypto.errors import WrongPassword
from filon import ratelimit
from filon.accounts import password_hasher, unlock_user_key
from filon.db import transaction, utc_now
from filon.models import User

TOTP_PERIOD = 30
# One step either side absorbs a phone clock that is a little off; no wider, since every
# extra step is one more valid code for a guesser.
TOTP_DRIFT_STEPS = 1
# Throttling lives in the database so every process counts together. It is per username (a
# guesser aiming at one account) and global (a guesser spraying many accounts); we keep no IP
# addresses, by design, so there is no per-client limit.
ATTEMPTS_PER_USER = 10
USER_WINDOW = dt.timedelta(minutes=15)
ATTEMPTS_GLOBAL = 300
GLOBAL_WINDOW = dt.timedelta(minutes=1)
MAX_USERNAME_CHARS = 64

# Verifying against this when the username is unknown makes an unknown name cost as much
# time as a known one, so timing does not tell which accounts exist.
_DUMMY_HASH = password_hasher().hash("filon-no-such-user")


@dataclass(frozen=True, repr=False)
class SignedIn:
    """A successful sign-in: the account and the cookie value of its new session."""

    user: User
    cookie: str


def totp_step(at: dt.datetime | None = None) -> int:
    """The TOTP time step of a moment (UTC, naive)."""
    moment = (at or utc_now()).replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) // TOTP_PERIOD


def throttle_name(username: str, pepper: bytes) -> str:
    """The rate counter of a username: a keyed hash, since people type passwords there too."""
    digest = hmac.new(pepper, username.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"login:{digest[:32]}"


def count_attempt(session: Session, *, username: str, pepper: bytes) -> bool:
    """Count a sign-in attempt; return whether it is within both limits."""
    per_user = ratelimit.hit(
        session, throttle_name(username, pepper), limit=ATTEMPTS_PER_USER, window=USER_WINDOW
    )
    overall = ratelimit.hit(session, "login:*", limit=ATTEMPTS_GLOBAL, window=GLOBAL_WINDOW)
    return per_user and overall


def check_password(session: Session, *, username: str, password: str) -> User:
    """The account whose verifier matches, or the matching failure."""
    user = session.scalars(select(User).where(User.username == username)).first()
    hasher = password_hasher()
    if user is None:
        with contextlib.suppress(argon2.exceptions.VerificationError):
            hasher.verify(_DUMMY_HASH, password)
        raise UnknownUser("no such account")
    try:
        hasher.verify(user.password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError) as exc:
        raise BadPassword("wrong password") from exc
    if not user.active:
        raise AccountDisabled("the account is disabled")
    return user


def matching_step(secret: str, code: str, *, now: dt.datetime | None = None) -> int:
    """The time step whose code ``code`` is, within the allowed drift, or :class:`BadCode`."""
    code = code.strip().replace(" ", "")
    if not code.isascii():  # hmac.compare_digest raises on non-ASCII text: say "wrong" instead
        raise BadCode("the code is not valid now")
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    current = totp_step(now)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            return step
    raise BadCode("the code is not valid now")


def claim_step(session: Session, *, user: User, step: int) -> None:
    """Record ``step`` as used; :class:`CodeReused` if it or a later one already was.

    The conditional update is atomic, so two processes racing with one code cannot both win:
    a code seen over someone's shoulder, or replayed by a phishing proxy, works once.
    """
    moved = session.execute(
        update(TotpStep)
        .where(TotpStep.user_id == user.id, TotpStep.last_step < step)
        .values(last_step=step)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        return
    if session.get(TotpStep, user.id, populate_existing=True) is not None:
        raise CodeReused("this code was already used")
    try:
        with session.begin_nested():
            session.execute(insert(TotpStep).values(user_id=user.id, last_step=step))
    except IntegrityError as exc:  # another process used a code for this account first
        raise CodeReused("this code was already used") from exc


def confirm_identity(
    sessions: sessionmaker[Session],
    *,
    user_id: int,
    password: str,
    code: str,
    pepper: bytes,
    now: dt.datetime | None = None,
) -> None:
    """Check a signed-in user's password and a fresh TOTP code again (step-up, password change).

    It counts against the same per-account throttle as sign-in, so a stolen session cannot
    be used to guess the password faster than the sign-in page allows, and the code's time
    step is claimed like any other: the code that signed in does not also step up.
    """
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        if user is None:
            raise UnknownUser("no such account")
        allowed = count_attempt(session, username=user.username, pepper=pepper)
    if not allowed:
        raise TooManyAttempts("too many attempts; wait a while")
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        if user is None:
            raise UnknownUser("no such account")
        check_password(session, username=user.username, password=password)
        claim_step(session, user=user, step=matching_step(user.totp_secret, code, now=now))


def log_in(
    sessions: sessionmaker[Session],
    *,
    username: str,
    password: str,
    code: str,
    pepper: bytes,
    now: dt.datetime | None = None,
) -> SignedIn:
    """Check password and TOTP code, unlock the user key and start a session."""
    username = username.strip().lower()[:MAX_USERNAME_CHARS]
    # Counted in a transaction of its own, so a failed attempt still counts.
    with transaction(sessions) as session:
        allowed = count_attempt(session, username=username, pepper=pepper)
    if not allowed:
        raise TooManyAttempts("too many sign-in attempts; wait a while")
    with transaction(sessions) as session:
        # The slow part (two Argon2id runs) first, while the transaction has only read: on
        # SQLite the first write takes the database's one write lock, and holding it through
        # a key derivation made every other writer (sources' chunks) wait behind each sign-in.
        user = check_password(session, username=username, password=password)
        step = matching_step(user.totp_secret, code, now=now)
        try:
            user_key = unlock_user_key(user, password)
        except WrongPassword as exc:  # the verifier and the wrapped key disagree: refuse
            raise BadPassword("the password does not unlock the user key") from exc
        claim_step(session, user=user, step=step)
        cookie = start_session(session, user=user, user_key=user_key, now=now)
        # Expired rows still hold sealed user keys: a browser that was closed never presents
        # its cookie again, so sign-ins sweep them rather than leave them for a later thief.
        purge_expired(session, now=now)
    return SignedIn(user, cookie)
