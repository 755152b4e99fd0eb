"""Key pairs and fingerprints (DESIGN.md §3).

A fingerprint is the lowercase hex of BLAKE2b-256 over the raw public key bytes; people see it
in groups of four so that it can be read aloud and compared over the phone.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from crypto.errors import KeyFormatError

KEY_BYTES = 32


@dataclass(frozen=True, repr=False)
class BoxKeyPair:
    """An X25519 key pair (intake, desk, user, recovery, custodian and source keys)."""

    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> BoxKeyPair:
        """Make a fresh random key pair."""
        key = PrivateKey.generate()
        return cls(private=bytes(key), public=bytes(key.public_key))

    @classmethod
    def from_private(cls, private: bytes) -> BoxKeyPair:
        """Rebuild a key pair from its 32-byte private part."""
        _check_length(private, "X25519 private key")
        key = PrivateKey(private)
        return cls(private=private, public=bytes(key.public_key))

    @classmethod
    def from_seed(cls, seed: bytes) -> BoxKeyPair:
        """Derive a key pair from a 32-byte seed, as libsodium's ``crypto_box_seed_keypair``."""
        _check_length(seed, "X25519 seed")
        key = PrivateKey.from_seed(seed)
        return cls(private=bytes(key), public=bytes(key.public_key))

    def __repr__(self) -> str:
        # Never let a private key reach a log line or a traceback through repr().
        return f"BoxKeyPair(fingerprint={fingerprint(self.public)!r})"


@dataclass(frozen=True, repr=False)
class SigningKeyPair:
    """An Ed25519 key pair (the org signing key)."""

    seed: bytes
    public: bytes

    @classmethod
    def generate(cls) -> SigningKeyPair:
        """Make a fresh random signing key pair."""
        key = SigningKey.generate()
        return cls(seed=bytes(key), public=bytes(key.verify_key))

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKeyPair:
        """Rebuild a signing key pair from its 32-byte seed."""
        _check_length(seed, "Ed25519 seed")
        key = SigningKey(seed)
        return cls(seed=seed, public=bytes(key.verify_key))

    def __repr__(self) -> str:
        return f"SigningKeyPair(fingerprint={fingerprint(self.public)!r})"


def fingerprint(public_key: bytes) -> str:
    """Return the fingerprint of a public key: lowercase hex of BLAKE2b-256 over its bytes."""
    _check_length(public_key, "public key")
    return blake2b(public_key, digest_size=32, encoder=RawEncoder).hex()


def format_fingerprint(fp: str) -> str:
    """Group a fingerprint in fours for people to read: ``1a2b 3c4d …``."""
    return " ".join(fp[i : i + 4] for i in range(0, len(fp), 4))


def b64encode(data: bytes) -> str:
    """Standard base64 as the protocol uses it."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode standard base64 strictly, optionally checking the decoded length."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise KeyFormatError(f"{what} is not valid base64") from exc
    if base64.b64encode(data) != text.encode("ascii"):
        # Refuse non-canonical encodings ("AB==" for b"\x00"): one value, one text.
        raise KeyFormatError(f"{what} is not canonical base64")
    if length is not None and len(data) != length:
        raise KeyFormatError(f"{what} must be {length} bytes, not {len(data)}")
    return data


def _check_length(data: bytes, what: str) -> None:
    if not isinstance(data, bytes) or len(data) != KEY_BYTES:
        raise KeyFormatError(f"{what} must be {KEY_BYTES} bytes")


RECOVERY_PREFIX = "FRK1"


def format_recovery_key(private: bytes) -> str:
    """Render the recovery key's private part for printing once: ``FRK1-XXXX-XXXX-…``.

    Base32 (no padding) avoids letters people confuse; a BLAKE2b check group catches typos.
    """
    _check_length(private, "recovery private key")
    check = blake2b(private, digest_size=5, encoder=RawEncoder)
    text = base64.b32encode(private + check).decode("ascii").rstrip("=")
    return "-".join([RECOVERY_PREFIX, *(text[i : i + 4] for i in range(0, len(text), 4))])


def parse_recovery_key(text: str) -> BoxKeyPair:
    """Read a recovery key as printed by :func:`format_recovery_key` (case and spaces ignored)."""
    compact = "".join(text.split()).replace("-", "").upper()
    if not compact.startswith(RECOVERY_PREFIX):
        raise KeyFormatError(f"a recovery key starts with {RECOVERY_PREFIX}-")
    body = compact[len(RECOVERY_PREFIX) :]
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error as exc:
        raise KeyFormatError("the recovery key has a character that is not base32") from exc
    if len(raw) != KEY_BYTES + 5:
        raise KeyFormatError("the recovery key has the wrong length")
    private, check = raw[:KEY_BYTES], raw[KEY_BYTES:]
    if blake2b(private, digest_size=5, encoder=RawEncoder) != check:
        raise KeyFormatError("the recovery key does not check out: a group was mistyped")
    return BoxKeyPair.from_private(private)
