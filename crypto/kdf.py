"""Argon2id password key derivation and ``crypto_secretbox`` key wrapping (DESIGN.md §3).

A user's X25519 private key is kept wrapped: ``crypto_secretbox`` under a key derived with
Argon2id from the user's password and a salt of its own. The parameters travel inside the
wrapped blob, so raising them later never strands an existing account.

Wrapped key layout (``FWK1``), all integers big-endian::

    b"FWK1" | opslimit u32 | memlimit u64 | salt 16 | nonce 24 | secretbox(key) 48
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.utils

from crypto.errors import WrappedKeyError, WrongPassword

SALT_BYTES = argon2id.SALTBYTES
KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters as libsodium names them."""

    opslimit: int
    memlimit: int


# Staff passwords unlock keys that open whole desks: use libsodium's "moderate" cost
# (3 passes, 256 MiB, about 0.5 s on a 2-core server) so an offline guess at a stolen
# database costs an attacker as much as we can afford at each login.
USER_KEY_PARAMS = Argon2Params(argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE)

# Source codenames carry 88 bits of entropy, so the KDF's cost is not what protects them; it
# must instead run inside a cheap phone's browser (libsodium.js, WebAssembly) and, for the
# no-JavaScript path and every new source, on the server beside other requests: 3 passes
# over 16 MiB, a few tens of milliseconds, little memory on either side.
SOURCE_KEY_PARAMS = Argon2Params(3, 16 * 1024 * 1024)

# libsodium's minimum: only for tests, never reachable from production code paths.
CHEAP_PARAMS = Argon2Params(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)

# Refuse wrapped blobs that would make us spend absurd memory (a hostile or corrupt blob).
MAX_MEMLIMIT = 4 * 1024**3
MAX_OPSLIMIT = 64

_MAGIC = b"FWK1"
_HEADER = struct.Struct(">4sIQ")
_NONCE_BYTES = nacl.secret.SecretBox.NONCE_SIZE
_BOX_BYTES = KEY_BYTES + nacl.secret.SecretBox.MACBYTES
WRAPPED_KEY_BYTES = _HEADER.size + SALT_BYTES + _NONCE_BYTES + _BOX_BYTES

_cheap_mode = False


def user_key_params() -> Argon2Params:
    """Parameters for wrapping staff user keys (cheap only under the test switch)."""
    return CHEAP_PARAMS if _cheap_mode else USER_KEY_PARAMS


def source_key_params() -> Argon2Params:
    """Parameters for deriving source keys from codenames (cheap only under the test switch)."""
    return CHEAP_PARAMS if _cheap_mode else SOURCE_KEY_PARAMS


def cheap_mode_enabled() -> bool:
    """Whether the test-only cheap KDF mode is on."""
    return _cheap_mode


@contextmanager
def cheap_mode_for_tests() -> Iterator[None]:
    """Make every password KDF cheap while the block runs; refuses outside pytest.

    Weak parameters in production would let a stolen database be brute-forced, so this switch
    only works when pytest is loaded: a stray call in application code fails loudly.
    """
    global _cheap_mode  # noqa: PLW0603 - one process-wide switch, flipped only by tests
    if "pytest" not in sys.modules:
        raise RuntimeError("cheap KDF mode is for the test suite only")
    previous, _cheap_mode = _cheap_mode, True
    try:
        yield
    finally:
        _cheap_mode = previous


def derive_key(
    password: bytes, salt: bytes, params: Argon2Params, *, size: int = KEY_BYTES
) -> bytes:
    """Derive ``size`` bytes from a password with Argon2id."""
    if len(salt) != SALT_BYTES:
        raise WrappedKeyError(f"Argon2id salt must be {SALT_BYTES} bytes")
    return argon2id.kdf(size, password, salt, opslimit=params.opslimit, memlimit=params.memlimit)


def wrap_key(secret: bytes, password: str, params: Argon2Params | None = None) -> bytes:
    """Wrap a 32-byte secret under a password (Argon2id + ``crypto_secretbox``)."""
    if len(secret) != KEY_BYTES:
        raise WrappedKeyError(f"only {KEY_BYTES}-byte keys are wrapped")
    params = params or user_key_params()
    salt = nacl.utils.random(SALT_BYTES)
    box = nacl.secret.SecretBox(derive_key(password.encode("utf-8"), salt, params))
    sealed = box.encrypt(secret)  # nonce ‖ ciphertext, the nonce random per wrap
    return _HEADER.pack(_MAGIC, params.opslimit, params.memlimit) + salt + bytes(sealed)


def unwrap_key(blob: bytes, password: str) -> bytes:
    """Open a wrapped key with its password; raise :class:`WrongPassword` if it does not open."""
    params, salt, sealed = parse_wrapped_key(blob)
    box = nacl.secret.SecretBox(derive_key(password.encode("utf-8"), salt, params))
    try:
        return box.decrypt(sealed)
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassword("the password does not open this key") from exc


def parse_wrapped_key(blob: bytes) -> tuple[Argon2Params, bytes, bytes]:
    """Check a wrapped key's structure and return its parameters, salt and sealed part."""
    if len(blob) != WRAPPED_KEY_BYTES:
        raise WrappedKeyError(f"a wrapped key is {WRAPPED_KEY_BYTES} bytes, not {len(blob)}")
    magic, opslimit, memlimit = _HEADER.unpack_from(blob)
    if magic != _MAGIC:
        raise WrappedKeyError("not a Filon wrapped key (bad magic)")
    if not (
        argon2id.OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT
        and argon2id.MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT
    ):
        raise WrappedKeyError("wrapped key names Argon2id parameters out of range")
    salt = blob[_HEADER.size : _HEADER.size + SALT_BYTES]
    return Argon2Params(opslimit, memlimit), salt, blob[_HEADER.size + SALT_BYTES :]
