"""Interoperability of Filon's Python crypto with libsodium.js, the library browsers run.

Every format a browser and the server both touch is exercised in both directions through
``tests/interop/sodium.mjs`` under node: ``filon-stream/1`` files, sealed envelopes, Ed25519
signatures, fingerprints, Argon2id, codename-derived source keys and FWK1 wrapped keys. Each
module fixture sends one batch request, so the whole file costs about a dozen node starts.

These tests need node and ``node_modules`` (``npm ci`` at the repository root). Missing either
is a failure, not a skip: CI installs both, and a silently skipped interop suite would let the
browser and the server drift apart.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
    crypto_secretstream_xchacha20poly1305_TAG_PUSH,
)

from crypto import codename, kdf, sealing, signing, stream
from crypto.errors import (
    BadHeader,
    BadMagic,
    ChunkAuthenticationFailed,
    ChunkOutOfOrder,
    ChunkSizeError,
    EnvelopeNotForThisKey,
    MissingFinalTag,
    StreamError,
    StreamTruncated,
    TrailingData,
    UnexpectedTag,
    WrappedKeyError,
)
from crypto.keys import BoxKeyPair, SigningKeyPair, b64decode, b64encode, fingerprint

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "tests" / "interop" / "sodium.mjs"
GENERATOR = ROOT / "tests" / "vectors" / "generate.mjs"
VECTORS = ROOT / "tests" / "vectors"
SODIUM_PACKAGE = ROOT / "node_modules" / "libsodium-wrappers-sumo" / "package.json"

MIB = stream.CHUNK_SIZE
STREAM_SIZES = [0, 1, MIB - 1, MIB, 2 * MIB + 5]
TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL
TAG_PUSH = crypto_secretstream_xchacha20poly1305_TAG_PUSH

_PATTERN = bytes(range(251))


# -- running the helper ---------------------------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: the interop tests need node 20+ to run libsodium.js "
            "(install node, then `npm ci` at the repository root)",
            pytrace=False,
        )
    if not SODIUM_PACKAGE.is_file():
        pytest.fail(
            f"{SODIUM_PACKAGE.parent} is missing: run `npm ci` at the repository root "
            "to install libsodium-wrappers-sumo from package-lock.json",
            pytrace=False,
        )
    return node


def _run_node(script: Path, *args: str, stdin: str = "") -> str:
    proc = subprocess.run(
        [_node(), str(script), *args],
        input=stdin,
        capture_output=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"{script.name} exited {proc.returncode}:\n{proc.stderr}", pytrace=False)
    return proc.stdout


def sodium(request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to libsodium.js and return its answer."""
    answer: dict[str, Any] = json.loads(_run_node(HELPER, stdin=json.dumps(request)))
    return answer


def sodium_batch(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send many requests in one node process; answers come back in order."""
    responses: list[dict[str, Any]] = sodium({"op": "batch", "requests": requests})["responses"]
    assert len(responses) == len(requests)
    return responses


def plaintext(length: int) -> bytes:
    """The deterministic test plaintext both sides use: byte i is i % 251."""
    return (_PATTERN * (length // len(_PATTERN) + 1))[:length]


class HashSink:
    """A writable that keeps only the SHA-256 and size of what it is given."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)


def test_node_runs_libsodium_js() -> None:
    answer = sodium({"op": "version"})
    assert re.fullmatch(r"1\.0\.\d+", answer["libsodium"]), answer


def test_helper_reports_refusals_as_errors_not_crashes(tmp_path: Path) -> None:
    missing_final = tmp_path / "no-final.fln"
    missing_final.write_bytes(stream.MAGIC + bytes(stream.HEADER_BYTES))
    answer = sodium(
        {"op": "stream_decrypt", "key": b64encode(bytes(32)), "path": str(missing_final)}
    )
    assert "error" in answer
    assert "plaintext_sha256" not in answer


# -- filon-stream/1: libsodium.js writes, Python reads ----------------------------------------


@pytest.fixture(scope="module")
def js_streams(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[int, Any]]:
    """Streams written by libsodium.js (random header from init_push), one per size."""
    key = stream.new_stream_key()
    directory = tmp_path_factory.mktemp("js-streams")
    paths = {size: directory / f"{size}.fln" for size in STREAM_SIZES}
    answers = sodium_batch(
        [
            {
                "op": "stream_encrypt",
                "key": b64encode(key),
                "plaintext_spec": {"length": size},
                "out": str(path),
            }
            for size, path in paths.items()
        ]
    )
    return key, {size: (paths[size], answer) for size, answer in zip(paths, answers, strict=True)}


@pytest.mark.parametrize("size", STREAM_SIZES)
def test_js_stream_decrypts_in_python(js_streams: tuple[bytes, dict[int, Any]], size: int) -> None:
    key, streams = js_streams
    path, answer = streams[size]
    expected_sha = hashlib.sha256(plaintext(size)).hexdigest()
    assert answer["plaintext_sha256"] == expected_sha  # the same plaintext rule on both sides
    assert path.stat().st_size == stream.stream_size(size) == answer["stream_length"]

    sink = HashSink()
    with open(path, "rb") as source:
        summary = stream.decrypt_stream(source, sink, key, expected_size=path.stat().st_size)
    assert sink.sha.hexdigest() == summary.plaintext_sha256 == expected_sha
    assert summary.plaintext_size == sink.size == size
    assert summary.chunks == answer["chunks"] == size // MIB + 1


@pytest.mark.parametrize("size", STREAM_SIZES)
def test_js_stream_chunks_follow_the_format(
    js_streams: tuple[bytes, dict[int, Any]], size: int
) -> None:
    key, streams = js_streams
    path, answer = streams[size]
    data = path.read_bytes()
    assert data[:4] == stream.MAGIC
    assert data[4 : stream.PREFIX_SIZE] == b64decode(answer["header"], length=24)
    reader = stream.StreamReader(io.BytesIO(data), key)
    lengths = [len(chunk) for chunk in reader]
    assert lengths == [MIB] * (size // MIB) + [size % MIB]
    assert reader.summary.ciphertext_size == len(data)


# -- filon-stream/1: Python writes, libsodium.js reads ----------------------------------------

PY_WRITERS = ["encrypt_stream", "StreamWriter"]


def _write_python_stream(path: Path, key: bytes, size: int, writer: str) -> stream.StreamSummary:
    data = plaintext(size)
    with open(path, "wb") as sink:
        if writer == "encrypt_stream":
            return stream.encrypt_stream(io.BytesIO(data), sink, key)
        with stream.StreamWriter(sink, key) as out:
            for start in range(0, size, 65_537):  # writes that straddle chunk boundaries
                out.write(data[start : start + 65_537])
        assert out.summary is not None
        return out.summary


@pytest.fixture(scope="module")
def python_streams(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str], Any]:
    """Python-written streams, each read back by libsodium.js: (summary, JS answer)."""
    key = stream.new_stream_key()
    directory = tmp_path_factory.mktemp("py-streams")
    written = {}
    for size in STREAM_SIZES:
        for writer in PY_WRITERS:
            path = directory / f"{size}-{writer}.fln"
            written[(size, writer)] = (path, _write_python_stream(path, key, size, writer))
    answers = sodium_batch(
        [
            {"op": "stream_decrypt", "key": b64encode(key), "path": str(path)}
            for path, _ in written.values()
        ]
    )
    return {
        case: (summary, answer)
        for (case, (_, summary)), answer in zip(written.items(), answers, strict=True)
    }


@pytest.mark.parametrize("writer", PY_WRITERS)
@pytest.mark.parametrize("size", STREAM_SIZES)
def test_python_stream_decrypts_in_js(
    python_streams: dict[tuple[int, str], Any], size: int, writer: str
) -> None:
    summary, answer = python_streams[(size, writer)]
    assert "error" not in answer, answer
    assert answer["plaintext_sha256"] == summary.plaintext_sha256
    assert answer["plaintext_sha256"] == hashlib.sha256(plaintext(size)).hexdigest()
    assert answer["plaintext_length"] == size
    assert answer["chunks"] == summary.chunks == size // MIB + 1


# -- filon-stream/1: both sides reject the same broken streams --------------------------------


def _raw_stream(key: bytes, chunks: list[tuple[int, int]]) -> bytes:
    """A stream with arbitrary (plaintext size, tag) chunks, rules or no rules."""
    state = crypto_secretstream_xchacha20poly1305_state()
    header = crypto_secretstream_xchacha20poly1305_init_push(state, key)
    body = [
        crypto_secretstream_xchacha20poly1305_push(state, plaintext(size), None, tag)
        for size, tag in chunks
    ]
    return stream.MAGIC + header + b"".join(body)


def _swap_first_chunks(data: bytes) -> bytes:
    first, second = stream.chunk_offset(0), stream.chunk_offset(1)
    chunk0, chunk1 = data[first:second], data[second : stream.chunk_offset(2)]
    return data[:first] + chunk1 + chunk0 + data[stream.chunk_offset(2) :]


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]


def _good(key: bytes) -> bytes:
    return _raw_stream(key, [(MIB, TAG_MESSAGE), (MIB, TAG_MESSAGE), (5, TAG_FINAL)])


# (name, how to break a stream, what Python raises, the stored size the reader is told as an
# offset from the real size, or None when the reader does not know it). libsodium.js is never
# told the size: it must reject every one of these on its own.
BROKEN_STREAMS = [
    ("bad magic", lambda key: b"FLN2" + _good(key)[4:], BadMagic, None),
    ("header cut short", lambda key: _good(key)[:14], BadHeader, None),
    (
        "nothing after the header",
        lambda key: _good(key)[: stream.PREFIX_SIZE],
        MissingFinalTag,
        None,
    ),
    ("no final chunk", lambda key: _raw_stream(key, [(MIB, TAG_MESSAGE)]), MissingFinalTag, None),
    (
        "short chunk not final",
        lambda key: _raw_stream(key, [(5, TAG_MESSAGE)]),
        ChunkSizeError,
        None,
    ),
    (
        "full chunk tagged final",
        lambda key: _raw_stream(key, [(MIB, TAG_FINAL)]),
        ChunkSizeError,
        None,
    ),
    ("TAG_PUSH chunk", lambda key: _raw_stream(key, [(5, TAG_PUSH)]), UnexpectedTag, None),
    # Without the stored size, a byte after the short final chunk is read as part of it.
    (
        "byte after the final chunk",
        lambda key: _good(key) + b"\x00",
        ChunkAuthenticationFailed,
        None,
    ),
    ("byte after the final chunk, size known", lambda key: _good(key) + b"\x00", TrailingData, -1),
    ("last byte missing", lambda key: _good(key)[:-1], ChunkAuthenticationFailed, None),
    ("last byte missing, size known", lambda key: _good(key)[:-1], StreamTruncated, 1),
    (
        "flipped bit in chunk 1",
        lambda key: _flip(_good(key), stream.chunk_offset(1) + 9),
        ChunkAuthenticationFailed,
        None,
    ),
    ("chunks 0 and 1 swapped", lambda key: _swap_first_chunks(_good(key)), ChunkOutOfOrder, None),
]


@pytest.fixture(scope="module")
def broken_streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    key = stream.new_stream_key()
    directory = tmp_path_factory.mktemp("broken-streams")
    paths = {}
    for index, (name, build, _, _) in enumerate(BROKEN_STREAMS):
        paths[name] = directory / f"{index}.fln"
        paths[name].write_bytes(build(key))
    answers = sodium_batch(
        [
            {"op": "stream_decrypt", "key": b64encode(key), "path": str(path)}
            for path in paths.values()
        ]
    )
    return {"key": key, "paths": paths, "answers": dict(zip(paths, answers, strict=True))}


@pytest.mark.parametrize(
    ("name", "error", "size_offset"),
    [pytest.param(name, error, offset, id=name) for name, _, error, offset in BROKEN_STREAMS],
)
def test_both_sides_reject_a_broken_stream(
    broken_streams: dict[str, Any], name: str, error: type[StreamError], size_offset: int | None
) -> None:
    answer = broken_streams["answers"][name]
    assert "error" in answer, f"libsodium.js accepted a stream with {name}: {answer}"
    assert "plaintext_sha256" not in answer
    path = broken_streams["paths"][name]
    expected_size = None if size_offset is None else path.stat().st_size + size_offset
    with open(path, "rb") as source, pytest.raises(error):
        stream.decrypt_stream(
            source, HashSink(), broken_streams["key"], expected_size=expected_size
        )


# -- sealed envelopes -------------------------------------------------------------------------

SEALED_MESSAGES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"x", id="one byte"),
    pytest.param(
        json.dumps(
            {"v": 1, "desk": "kivu", "lang": "sw", "codename": None, "answers": {"k": "ndiyo ✓"}},
            ensure_ascii=False,
        ).encode("utf-8"),
        id="envelope JSON",
    ),
    pytest.param(os.urandom(100_000), id="100 kB"),
]


@pytest.fixture(scope="module")
def sealed_exchange() -> dict[str, Any]:
    """Python seals to a key libsodium.js opens, and libsodium.js seals to a Python key."""
    recipient = BoxKeyPair.generate()
    other = BoxKeyPair.generate()
    messages = [param.values[0] for param in SEALED_MESSAGES]
    python_sealed = [sealing.seal(message, recipient.public) for message in messages]
    keys = {"public_key": b64encode(recipient.public), "private_key": b64encode(recipient.private)}
    requests = [{"op": "seal_open", **keys, "sealed": b64encode(s)} for s in python_sealed]
    requests += [
        {"op": "seal", "public_key": b64encode(recipient.public), "message": b64encode(m)}
        for m in messages
    ]
    requests.append(  # sealed to another key: libsodium.js must refuse it too
        {"op": "seal_open", **keys, "sealed": b64encode(sealing.seal(b"not yours", other.public))}
    )
    answers = sodium_batch(requests)
    count = len(messages)
    return {
        "recipient": recipient,
        "other": other,
        "opened_by_js": dict(zip(messages, answers[:count], strict=True)),
        "sealed_by_js": dict(zip(messages, answers[count : 2 * count], strict=True)),
        "wrong_key_in_js": answers[-1],
    }


@pytest.mark.parametrize("message", SEALED_MESSAGES)
def test_python_sealed_envelope_opens_in_js(sealed_exchange: dict[str, Any], message: bytes):
    answer = sealed_exchange["opened_by_js"][message]
    assert b64decode(answer["message"]) == message


@pytest.mark.parametrize("message", SEALED_MESSAGES)
def test_js_sealed_envelope_opens_in_python(sealed_exchange: dict[str, Any], message: bytes):
    sealed = b64decode(sealed_exchange["sealed_by_js"][message]["sealed"])
    assert len(sealed) == len(message) + sealing.SEAL_OVERHEAD
    assert sealing.open_sealed(sealed, sealed_exchange["recipient"]) == message
    with pytest.raises(EnvelopeNotForThisKey):
        sealing.open_sealed(sealed, sealed_exchange["other"])


def test_js_refuses_an_envelope_sealed_to_another_key(sealed_exchange: dict[str, Any]) -> None:
    assert "error" in sealed_exchange["wrong_key_in_js"]
    assert "message" not in sealed_exchange["wrong_key_in_js"]


# -- Ed25519 signatures -------------------------------------------------------------------------

SIGNED_MESSAGES = [
    pytest.param(b"", id="empty"),
    pytest.param("FLN-2025-0042 · reçu".encode(), id="receipt"),
    pytest.param(bytes(range(32)), id="public key"),
    pytest.param(os.urandom(5000), id="5000 bytes"),
]


@pytest.fixture(scope="module")
def signature_exchange() -> dict[str, Any]:
    key = SigningKeyPair.generate()
    messages = [param.values[0] for param in SIGNED_MESSAGES]
    python_signatures = [signing.sign_detached(m, key) for m in messages]
    pk = b64encode(key.public)
    requests: list[dict[str, Any]] = [
        {"op": "sign_detached", "seed": b64encode(key.seed), "message": b64encode(m)}
        for m in messages
    ]
    requests += [
        {
            "op": "verify_detached",
            "public_key": pk,
            "message": b64encode(m),
            "signature": b64encode(s),
        }
        for m, s in zip(messages, python_signatures, strict=True)
    ]
    requests += [  # the same signatures over an altered message must not verify
        {
            "op": "verify_detached",
            "public_key": pk,
            "message": b64encode(m + b"!"),
            "signature": b64encode(s),
        }
        for m, s in zip(messages, python_signatures, strict=True)
    ]
    answers = sodium_batch(requests)
    n = len(messages)
    return {
        "key": key,
        "python": dict(zip(messages, python_signatures, strict=True)),
        "js_signed": dict(zip(messages, answers[:n], strict=True)),
        "js_verified": dict(zip(messages, answers[n : 2 * n], strict=True)),
        "js_verified_altered": dict(zip(messages, answers[2 * n :], strict=True)),
    }


@pytest.mark.parametrize("message", SIGNED_MESSAGES)
def test_js_signature_verifies_in_python(signature_exchange: dict[str, Any], message: bytes):
    key = signature_exchange["key"]
    answer = signature_exchange["js_signed"][message]
    signature = b64decode(answer["signature"], length=signing.SIGNATURE_BYTES)
    assert b64decode(answer["public_key"]) == key.public  # crypto_sign_seed_keypair agrees
    signing.verify_detached(message, signature, key.public)
    # Ed25519 is deterministic: both libraries must produce the very same bytes.
    assert signature == signature_exchange["python"][message]


@pytest.mark.parametrize("message", SIGNED_MESSAGES)
def test_python_signature_verifies_in_js(signature_exchange: dict[str, Any], message: bytes):
    assert signature_exchange["js_verified"][message] == {"valid": True}
    assert signature_exchange["js_verified_altered"][message] == {"valid": False}


# -- fingerprints -------------------------------------------------------------------------------

FINGERPRINT_KEYS = [
    pytest.param(lambda: bytes(32), id="zero key"),
    pytest.param(lambda: BoxKeyPair.generate().public, id="X25519"),
    pytest.param(lambda: SigningKeyPair.generate().public, id="Ed25519"),
    pytest.param(lambda: b"\xff" * 32, id="all ones"),
]


@pytest.fixture(scope="module")
def fingerprint_pairs() -> list[tuple[bytes, str]]:
    keys = [param.values[0]() for param in FINGERPRINT_KEYS]
    answers = sodium_batch([{"op": "generichash", "message": b64encode(k)} for k in keys])
    return [(k, a["hash"]) for k, a in zip(keys, answers, strict=True)]


@pytest.mark.parametrize(
    "index", range(len(FINGERPRINT_KEYS)), ids=lambda i: FINGERPRINT_KEYS[i].id
)
def test_fingerprint_matches_js_blake2b(fingerprint_pairs: list[tuple[bytes, str]], index: int):
    public_key, js_hash = fingerprint_pairs[index]
    assert fingerprint(public_key) == js_hash
    assert re.fullmatch(r"[0-9a-f]{64}", js_hash)


# -- Argon2id -----------------------------------------------------------------------------------

ARGON2_CASES = [
    pytest.param("correct horse battery staple", 1, 8192, 32, id="cheap"),
    pytest.param("pässwörd ✓ 密码", 2, 16384, 32, id="non-ASCII, 16 KiB"),
    pytest.param("", 1, 8192, 16, id="empty password"),
    pytest.param("filon", 3, 65536, 64, id="64-byte output"),
]


@pytest.fixture(scope="module")
def argon2_outputs() -> dict[str, Any]:
    salt = os.urandom(kdf.SALT_BYTES)
    cases = [param.values for param in ARGON2_CASES]
    answers = sodium_batch(
        [
            {
                "op": "pwhash",
                "password": password,
                "salt": b64encode(salt),
                "opslimit": ops,
                "memlimit": mem,
                "length": length,
            }
            for password, ops, mem, length in cases
        ]
    )
    return {"salt": salt, "js": dict(zip(cases, answers, strict=True))}


@pytest.mark.parametrize(("password", "opslimit", "memlimit", "length"), ARGON2_CASES)
def test_argon2id_matches_js(
    argon2_outputs: dict[str, Any], password: str, opslimit: int, memlimit: int, length: int
) -> None:
    params = kdf.Argon2Params(opslimit, memlimit)
    ours = kdf.derive_key(password.encode("utf-8"), argon2_outputs["salt"], params, size=length)
    js = argon2_outputs["js"][(password, opslimit, memlimit, length)]
    assert b64decode(js["output"], length=length) == ours


# -- codenames ----------------------------------------------------------------------------------

LANGUAGES = sorted(codename.LANGUAGE_LISTS)
FIXED_WORDS = [3, 141, 592, 653, 1589, 793, 238, 462]  # the same words on every run
RANDOM_CODENAMES_PER_LANGUAGE = 10
SEPARATORS = [" ", "  ", "\t", "\u3000", "\xa0", "\u2003", "\n"]


def _typed_forms(words: list[str], language: str) -> list[str]:
    """Ways a source may type a codename: as listed, composed, spaced oddly, capitalised."""
    listed = " ".join(words)
    composed = unicodedata.normalize("NFC", listed)
    forms = [
        listed,
        composed,
        f"  {composed.replace(' ', chr(0x3000))}\n",
        composed[:1].upper() + composed[1:],
    ]
    # All capitals: in Turkish this turns dotless "ı" into "I", which both sides read as "i".
    forms.append("\t".join(words).upper())
    if language.startswith("zh"):
        forms.append("".join(words))  # Chinese codenames typed without spaces
    return forms


def _random_typed(language: str) -> str:
    words = codename.generate_codename(language).split(" ")
    seps = [SEPARATORS[b % len(SEPARATORS)] for b in os.urandom(len(words) - 1)]
    typed = words[0] + "".join(sep + word for sep, word in zip(seps, words[1:], strict=True))
    return unicodedata.normalize("NFC", typed) if os.urandom(1)[0] & 1 else typed


@pytest.fixture(scope="module")
def codename_answers() -> dict[str, Any]:
    """One batch: JS canonical forms of many typed codenames, and JS-derived source keys."""
    salt = os.urandom(kdf.SALT_BYTES)
    cheap = kdf.CHEAP_PARAMS
    typed: dict[str, list[str]] = {}
    for language in LANGUAGES:
        fixed = [codename.wordlist(language)[i] for i in FIXED_WORDS]
        typed[language] = _typed_forms(fixed, language) + [
            _random_typed(language) for _ in range(RANDOM_CODENAMES_PER_LANGUAGE)
        ]
    requests: list[dict[str, Any]] = [
        {"op": "canonicalize", "text": text} for language in LANGUAGES for text in typed[language]
    ]
    kdf_fields = {"salt": b64encode(salt), "opslimit": cheap.opslimit, "memlimit": cheap.memlimit}
    requests += [  # the browser's path: the typed codename, canonicalised in JS
        {"op": "source_keys", "codename": typed[language][2], **kdf_fields}
        for language in LANGUAGES
    ]
    source = kdf.SOURCE_KEY_PARAMS
    production_codename = typed["ru"][3]  # capitalised, with "й" to fold
    requests.append(  # one derivation at the production cost, from Python's canonical form
        {
            "op": "source_keys",
            "codename_canonical": codename.canonical_codename(production_codename),
            "salt": b64encode(salt),
            "opslimit": source.opslimit,
            "memlimit": source.memlimit,
        }
    )
    answers = iter(sodium_batch(requests))
    canonical = {
        language: [(text, next(answers)["canonical"]) for text in typed[language]]
        for language in LANGUAGES
    }
    keys = {language: (typed[language][2], next(answers)) for language in LANGUAGES}
    return {
        "salt": salt,
        "canonical": canonical,
        "keys": keys,
        "production": (production_codename, next(answers)),
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_js_canonical_codename_equals_python(codename_answers: dict[str, Any], language: str):
    pairs = codename_answers["canonical"][language]
    assert len(pairs) >= 5 + RANDOM_CODENAMES_PER_LANGUAGE
    for typed, js_canonical in pairs:
        assert js_canonical == codename.canonical_codename(typed), repr(typed)
        assert len(js_canonical.split(" ")) == codename.CODENAME_WORDS


@pytest.mark.parametrize("language", LANGUAGES)
def test_js_source_keys_equal_python(codename_answers: dict[str, Any], language: str) -> None:
    typed, answer = codename_answers["keys"][language]
    ours = codename.derive_source_keys(typed, codename_answers["salt"], kdf.CHEAP_PARAMS)
    assert answer["canonical"] == codename.canonical_codename(typed)
    assert b64decode(answer["lookup_id"], length=32) == ours.lookup_id
    assert b64decode(answer["public_key"], length=32) == ours.keypair.public


def test_js_source_keys_equal_python_at_production_cost(codename_answers: dict[str, Any]):
    typed, answer = codename_answers["production"]
    ours = codename.derive_source_keys(typed, codename_answers["salt"], kdf.SOURCE_KEY_PARAMS)
    assert b64decode(answer["lookup_id"], length=32) == ours.lookup_id
    assert b64decode(answer["public_key"], length=32) == ours.keypair.public


# -- FWK1 wrapped keys --------------------------------------------------------------------------

WRAP_CASES = [
    pytest.param("correct horse battery staple", kdf.CHEAP_PARAMS, id="cheap"),
    pytest.param("mot de passe très sûr ✓ 密码", kdf.Argon2Params(2, 16384), id="non-ASCII"),
    pytest.param("p", kdf.Argon2Params(3, 32768), id="3 passes, 32 KiB"),
]


@pytest.fixture(scope="module")
def unwrapped_by_js() -> dict[str, Any]:
    cases = [param.values for param in WRAP_CASES]
    wrapped_secrets = [os.urandom(kdf.KEY_BYTES) for _ in cases]
    blobs = [
        kdf.wrap_key(s, pw, params) for s, (pw, params) in zip(wrapped_secrets, cases, strict=True)
    ]
    requests = [
        {"op": "secretbox_unwrap", "blob": b64encode(blob), "password": password}
        for blob, (password, _) in zip(blobs, cases, strict=True)
    ]
    requests += [
        {"op": "secretbox_unwrap", "blob": b64encode(blob), "password": password + "x"}
        for blob, (password, _) in zip(blobs, cases, strict=True)
    ]
    answers = sodium_batch(requests)
    n = len(cases)
    return {
        password: {"secret": secret, "right": right, "wrong": wrong}
        for (password, _), secret, right, wrong in zip(
            cases, wrapped_secrets, answers[:n], answers[n:], strict=True
        )
    }


@pytest.mark.parametrize(("password", "params"), WRAP_CASES)
def test_python_wrapped_key_unwraps_in_js(
    unwrapped_by_js: dict[str, Any], password: str, params: kdf.Argon2Params
) -> None:
    case = unwrapped_by_js[password]
    assert b64decode(case["right"]["secret"], length=kdf.KEY_BYTES) == case["secret"]
    assert (case["right"]["opslimit"], case["right"]["memlimit"]) == (
        params.opslimit,
        params.memlimit,
    )
    assert "error" in case["wrong"]  # a wrong password opens nothing in the browser either


def test_both_sides_refuse_a_wrapped_key_with_absurd_parameters() -> None:
    blob = kdf.wrap_key(os.urandom(kdf.KEY_BYTES), "pw", kdf.CHEAP_PARAMS)
    hostile = blob[:4] + struct.pack(">IQ", 1, 64 * 1024**3) + blob[16:]  # 64 GiB of memory
    with pytest.raises(WrappedKeyError):
        kdf.unwrap_key(hostile, "pw")
    answer = sodium({"op": "secretbox_unwrap", "blob": b64encode(hostile), "password": "pw"})
    assert "out of range" in answer["error"]


# -- the committed vectors are what libsodium.js produces ------------------------------------


def test_generator_reproduces_committed_vectors(tmp_path: Path) -> None:
    _run_node(GENERATOR, str(tmp_path))
    generated = {path.name: path.read_bytes() for path in tmp_path.glob("*.json")}
    committed = {path.name: path.read_bytes() for path in VECTORS.glob("*.json")}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], f"tests/vectors/{name} differs from generate.mjs output"
