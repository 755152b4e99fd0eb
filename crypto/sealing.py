"""Sealed envelopes: libsodium's ``crypto_box_seal`` with structure checks (DESIGN.md §3–§4).

A sealed box is an ephemeral X25519 public key (32 bytes), then the ciphertext with its
16-byte tag. Anyone can seal to a public key; only the private key opens. The server never
trusts a client's claim that something is sealed: it opens every envelope itself.
"""

from __future__ import annotations

import nacl.exceptions
from nacl.bindings import crypto_box_SEALBYTES
from nacl.public import PrivateKey, PublicKey, SealedBox

from crypto.errors import EnvelopeNotForThisKey, EnvelopeTooLarge, EnvelopeTooShort
from crypto.keys import BoxKeyPair, _check_length

SEAL_OVERHEAD = crypto_box_SEALBYTES  # 48: ephemeral public key 32 + Poly1305 tag 16


def seal(plaintext: bytes, recipient_public: bytes) -> bytes:
    """Seal bytes to an X25519 public key."""
    _check_length(recipient_public, "recipient public key")
    return SealedBox(PublicKey(recipient_public)).encrypt(plaintext)


def open_sealed(envelope: bytes, recipient: BoxKeyPair, *, max_bytes: int | None = None) -> bytes:
    """Open a sealed envelope, checking its structure before any cryptography runs."""
    if len(envelope) < SEAL_OVERHEAD:
        raise EnvelopeTooShort(
            f"a sealed envelope is at least {SEAL_OVERHEAD} bytes, this one {len(envelope)}"
        )
    if max_bytes is not None and len(envelope) > max_bytes:
        raise EnvelopeTooLarge(f"a sealed envelope may be at most {max_bytes} bytes")
    try:
        return SealedBox(PrivateKey(recipient.private)).decrypt(envelope)
    except nacl.exceptions.CryptoError as exc:
        raise EnvelopeNotForThisKey(
            "the envelope does not open with this key: sealed to another key, or altered"
        ) from exc
