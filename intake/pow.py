"""Proof of work for submissions (DESIGN.md §4).

A nonce is valid when SHA-256(challenge ‖ ASCII decimal nonce) starts with ``difficulty`` zero
bits. Challenges live in the database (so any app process can check one another issued),
are stored only as their hash, used once, and expire.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import Session

from filon.db import utc_now
from filon.models import PowChallenge

CHALLENGE_BYTES = 32
# Two hours: a source on a slow Tor circuit uploads files before the final submission.
CHALLENGE_LIFETIME = dt.timedelta(hours=2)
MAX_NONCE_DIGITS = 20


class PowError(Exception):
    """Base class of proof-of-work failures."""


class PowInvalid(PowError):
    """The nonce does not meet the difficulty, or is not a non-negative integer."""


class PowUnknown(PowError):
    """The challenge was never issued, has expired, or was already used."""


def issue_challenge(session: Session) -> bytes:
    """Make and record a fresh challenge; drop expired ones on the way."""
    now = utc_now()
    session.execute(delete(PowChallenge).where(PowChallenge.expires_at < now))
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    session.add(
        PowChallenge(
            challenge_hash=hashlib.sha256(challenge).hexdigest(),
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    return challenge


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits a digest starts with."""
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def nonce_is_valid(challenge: bytes, nonce: int, difficulty: int) -> bool:
    """Whether ``nonce`` solves ``challenge`` at ``difficulty``."""
    if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
        return False
    digits = str(nonce)
    if len(digits) > MAX_NONCE_DIGITS:
        return False
    digest = hashlib.sha256(challenge + digits.encode("ascii")).digest()
    return leading_zero_bits(digest) >= difficulty


def solve(challenge: bytes, difficulty: int) -> int:
    """Find a nonce (for tests and scripted clients)."""
    nonce = 0
    while not nonce_is_valid(challenge, nonce, difficulty):
        nonce += 1
    return nonce


def consume(session: Session, challenge: bytes, nonce: object, difficulty: int) -> None:
    """Check a solution and spend its challenge, in the caller's transaction."""
    if not isinstance(nonce, int) or not nonce_is_valid(challenge, nonce, difficulty):
        raise PowInvalid("the proof of work does not solve the challenge")
    deleted = session.execute(
        delete(PowChallenge).where(
            PowChallenge.challenge_hash == hashlib.sha256(challenge).hexdigest(),
            PowChallenge.expires_at >= utc_now(),
        )
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise PowUnknown("the challenge is unknown, expired or already used: fetch a new one")
