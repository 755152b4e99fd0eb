"""Ed25519 detached signatures (org signing key: intake key, receipts, dossiers)."""

from __future__ import annotations

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from crypto.errors import KeyFormatError, SignatureInvalid
from crypto.keys import SigningKeyPair, _check_length

SIGNATURE_BYTES = 64


def sign_detached(message: bytes, key: SigningKeyPair) -> bytes:
    """Return the 64-byte Ed25519 signature of ``message``."""
    return SigningKey(key.seed).sign(message).signature


def verify_detached(message: bytes, signature: bytes, public_key: bytes) -> None:
    """Check a detached signature; raise :class:`SignatureInvalid` if it does not hold."""
    _check_length(public_key, "Ed25519 public key")
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureInvalid(f"a signature is {SIGNATURE_BYTES} bytes, not {len(signature)}")
    try:
        VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureInvalid("the signature does not match this message and key") from exc
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise KeyFormatError("not a valid Ed25519 public key") from exc
