"""Proof of work: valid once, never twice, never after expiry, never for a wrong nonce."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import update

from filon.db import transaction
from filon.instance import Instance
from filon.models import PowChallenge
from intake import pow as pow_

DIFFICULTY = 8


def _issue(instance: Instance) -> bytes:
    with transaction(instance.sessions) as session:
        return pow_.issue_challenge(session)


def test_a_solution_is_accepted_once(instance: Instance) -> None:
    challenge = _issue(instance)
    nonce = pow_.solve(challenge, DIFFICULTY)
    with transaction(instance.sessions) as session:
        pow_.consume(session, challenge, nonce, DIFFICULTY)
    with pytest.raises(pow_.PowUnknown), transaction(instance.sessions) as session:
        pow_.consume(session, challenge, nonce, DIFFICULTY)


def test_expired_challenge_is_refused(instance: Instance) -> None:
    challenge = _issue(instance)
    with transaction(instance.sessions) as session:
        session.execute(update(PowChallenge).values(expires_at=dt.datetime(2000, 1, 1)))
    nonce = pow_.solve(challenge, DIFFICULTY)
    with pytest.raises(pow_.PowUnknown), transaction(instance.sessions) as session:
        pow_.consume(session, challenge, nonce, DIFFICULTY)


def test_unknown_challenge_is_refused(instance: Instance) -> None:
    challenge = b"\x01" * 32
    nonce = pow_.solve(challenge, DIFFICULTY)
    with pytest.raises(pow_.PowUnknown), transaction(instance.sessions) as session:
        pow_.consume(session, challenge, nonce, DIFFICULTY)


@pytest.mark.parametrize("nonce", [-1, True, 1.5, "12", None, 10**25])
def test_malformed_nonces_are_invalid(instance: Instance, nonce: object) -> None:
    challenge = _issue(instance)
    with pytest.raises(pow_.PowInvalid), transaction(instance.sessions) as session:
        pow_.consume(session, challenge, nonce, 0)


def test_a_wrong_nonce_leaves_the_challenge_usable(instance: Instance) -> None:
    challenge = _issue(instance)
    good = pow_.solve(challenge, DIFFICULTY)
    bad = next(
        n
        for n in range(good + 1, good + 10**6)
        if not pow_.nonce_is_valid(challenge, n, DIFFICULTY)
    )
    with pytest.raises(pow_.PowInvalid), transaction(instance.sessions) as session:
        pow_.consume(session, challenge, bad, DIFFICULTY)
    with transaction(instance.sessions) as session:
        pow_.consume(session, challenge, good, DIFFICULTY)


def test_validity_follows_the_contract() -> None:
    challenge = b"filon"
    nonce = pow_.solve(challenge, 12)
    digest = hashlib.sha256(challenge + str(nonce).encode("ascii")).digest()
    assert int.from_bytes(digest, "big") >> (256 - 12) == 0
    assert all(not pow_.nonce_is_valid(challenge, n, 12) for n in range(nonce))


@pytest.mark.parametrize(
    ("digest", "bits"),
    [(b"\x80" + b"\x00" * 31, 0), (b"\x00\x01" + b"\xff" * 30, 15), (b"\x00" * 32, 256)],
)
def test_leading_zero_bits(digest: bytes, bits: int) -> None:
    assert pow_.leading_zero_bits(digest) == bits
