"""Known-answer vectors: Filon's formats pinned against values made by libsodium.js.

The JSON files in ``tests/vectors/`` come from ``tests/vectors/generate.mjs`` (libsodium.js, an
implementation independent of PyNaCl); ``tests/test_interop.py`` checks that the generator
still reproduces them byte for byte. These tests read the JSON only and never need node, so
any change to a format's bytes fails here on every machine.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)

from crypto import codename, kdf, sealing, signing, stream
from crypto.errors import EnvelopeNotForThisKey, SignatureInvalid, WrongPassword
from crypto.keys import BoxKeyPair, SigningKeyPair, b64decode, fingerprint, format_fingerprint

VECTORS = Path(__file__).resolve().parent / "vectors"
VECTOR_FILES = {
    "argon2id.json": "argon2id",
    "codename.json": "codename",
    "ed25519.json": "ed25519",
    "fingerprint.json": "fingerprint",
    "fwk1.json": "FWK1",
    "sealed.json": "sealed",
    "stream.json": "filon-stream/1",
}
STREAM_LENGTHS = [0, 1, 1_048_575, 1_048_576, 2_097_157]


@functools.cache
def load(name: str) -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return vectors


def cases(name: str, label: str = "name") -> list[Any]:
    """The cases of a vector file as parameters, each named by its ``label`` field."""
    return [pytest.param(case, id=str(case[label])) for case in load(name)["cases"]]


def b64(text: str, length: int | None = None) -> bytes:
    return b64decode(text, length=length)


@pytest.mark.parametrize(("name", "format_"), VECTOR_FILES.items())
def test_vector_file_is_present_small_and_named(name: str, format_: str) -> None:
    path = VECTORS / name
    assert path.stat().st_size < 16 * 1024  # no multi-MiB blobs in the repository
    vectors = load(name)
    assert vectors["format"] == format_
    assert vectors["generator"].startswith("tests/vectors/generate.mjs")
    assert len(vectors["cases"]) >= 2


# -- fingerprints ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("fingerprint.json"))
def test_fingerprint_vector(case: dict[str, Any]) -> None:
    fp = fingerprint(b64(case["public_key"], 32))
    assert fp == case["fingerprint"]
    assert format_fingerprint(fp) == case["display"]


# -- Ed25519 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("ed25519.json"))
def test_ed25519_vector(case: dict[str, Any]) -> None:
    key = SigningKeyPair.from_seed(b64(case["seed"], 32))
    message, signature = b64(case["message"]), b64(case["signature"], 64)
    assert key.public == b64(case["public_key"], 32)
    assert signing.sign_detached(message, key) == signature
    signing.verify_detached(message, signature, key.public)
    with pytest.raises(SignatureInvalid):
        signing.verify_detached(message + b"\x00", signature, key.public)


def test_ed25519_vectors_include_rfc_8032_test_1() -> None:
    first = load("ed25519.json")["cases"][0]
    assert first["name"].startswith("RFC 8032 TEST 1")
    assert b64(first["signature"]).hex().startswith("e5564300c360ac729086e2cc806e828a")


# -- Argon2id -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("argon2id.json"))
def test_argon2id_vector(case: dict[str, Any]) -> None:
    params = kdf.Argon2Params(case["opslimit"], case["memlimit"])
    output = kdf.derive_key(
        case["password"].encode("utf-8"), b64(case["salt"], 16), params, size=case["length"]
    )
    assert output == b64(case["output"], case["length"])


def test_argon2id_vectors_cover_the_source_key_parameters() -> None:
    pinned = {(c["opslimit"], c["memlimit"]) for c in load("argon2id.json")["cases"]}
    source = kdf.SOURCE_KEY_PARAMS
    assert (source.opslimit, source.memlimit) in pinned
    assert (kdf.CHEAP_PARAMS.opslimit, kdf.CHEAP_PARAMS.memlimit) in pinned


# -- codenames ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("codename.json", label="language"))
def test_codename_vector(case: dict[str, Any]) -> None:
    vectors = load("codename.json")
    params = kdf.Argon2Params(vectors["opslimit"], vectors["memlimit"])
    # The canonical form was computed by the browser's rule in JS; Python must agree.
    assert codename.canonical_codename(case["typed"]) == case["canonical"]
    listed = {codename.canonical_word(w) for w in codename.wordlist(case["language"])}
    assert set(case["canonical"].split(" ")) <= listed
    keys = codename.derive_source_keys(case["typed"], b64(vectors["salt"], 16), params)
    assert keys.lookup_id == b64(case["lookup_id"], 32)
    assert keys.keypair.public == b64(case["public_key"], 32)


# -- filon-stream/1 -------------------------------------------------------------------------------

_PATTERN = bytes(range(251))


def plaintext(length: int) -> bytes:
    """The vectors' plaintext: byte i is i % 251."""
    return (_PATTERN * (length // len(_PATTERN) + 1))[:length]


@functools.cache
def stream_with_header(key: bytes, header: bytes, length: int) -> bytes:
    """Test-only: the filon-stream/1 bytes of ``plaintext(length)`` under a chosen header.

    Production streams always take a random header from ``init_push``; ``init_pull`` derives
    from a header the very state ``init_push`` would have made, so pushing on it reproduces a
    stream bit for bit.
    """
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    data = plaintext(length)
    parts = [stream.MAGIC, header]
    for start in range(0, length + 1, stream.CHUNK_SIZE):
        chunk = data[start : start + stream.CHUNK_SIZE]
        final = len(chunk) < stream.CHUNK_SIZE
        tag = (
            crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if final
            else crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        parts.append(crypto_secretstream_xchacha20poly1305_push(state, chunk, None, tag))
    return b"".join(parts)


def _stream_inputs() -> tuple[bytes, bytes]:
    vectors = load("stream.json")
    return b64(vectors["key"], stream.KEY_BYTES), b64(vectors["header"], stream.HEADER_BYTES)


def test_stream_vectors_cover_the_chunk_boundaries() -> None:
    assert [c["plaintext_length"] for c in load("stream.json")["cases"]] == STREAM_LENGTHS


@pytest.mark.parametrize("case", cases("stream.json", label="plaintext_length"))
def test_stream_vector_ciphertext_is_reproduced(case: dict[str, Any]) -> None:
    key, header = _stream_inputs()
    length = case["plaintext_length"]
    data = stream_with_header(key, header, length)
    assert hashlib.sha256(plaintext(length)).hexdigest() == case["plaintext_sha256"]
    assert len(data) == case["stream_length"] == stream.stream_size(length)
    assert hashlib.sha256(data).hexdigest() == case["stream_sha256"]
    if "stream" in case:  # small streams are recorded whole
        assert data == b64(case["stream"])


@pytest.mark.parametrize("case", cases("stream.json", label="plaintext_length"))
def test_stream_vector_decrypts(case: dict[str, Any]) -> None:
    key, header = _stream_inputs()
    length = case["plaintext_length"]
    # Decrypt the recorded JS bytes when the file holds them; otherwise the reproduced bytes,
    # which the test above proves identical to JS's through their SHA-256.
    data = b64(case["stream"]) if "stream" in case else stream_with_header(key, header, length)
    sink = io.BytesIO()
    summary = stream.decrypt_stream(io.BytesIO(data), sink, key, expected_size=len(data))
    assert sink.getvalue() == plaintext(length)
    assert summary.plaintext_sha256 == case["plaintext_sha256"]
    assert summary.plaintext_size == length
    assert summary.ciphertext_size == case["stream_length"]
    assert summary.chunks == case["chunks"]


# -- sealed envelopes -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("sealed.json"))
def test_sealed_vector_opens(case: dict[str, Any]) -> None:
    vectors = load("sealed.json")
    recipient = BoxKeyPair.from_private(b64(vectors["recipient_private_key"], 32))
    assert recipient.public == b64(vectors["recipient_public_key"], 32)
    sealed, message = b64(case["sealed"]), b64(case["message"])
    assert len(sealed) == len(message) + sealing.SEAL_OVERHEAD
    assert sealing.open_sealed(sealed, recipient) == message
    with pytest.raises(EnvelopeNotForThisKey):
        sealing.open_sealed(sealed, BoxKeyPair.generate())


# -- FWK1 wrapped keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("fwk1.json"))
def test_fwk1_vector_unwraps(case: dict[str, Any]) -> None:
    blob = b64(case["blob"], kdf.WRAPPED_KEY_BYTES)
    params, _salt, _sealed = kdf.parse_wrapped_key(blob)
    assert params == kdf.Argon2Params(case["opslimit"], case["memlimit"])
    assert kdf.unwrap_key(blob, case["password"]) == b64(case["secret"], kdf.KEY_BYTES)
    with pytest.raises(WrongPassword):
        kdf.unwrap_key(blob, case["password"] + " ")
