"""Keys, password key wrapping, sealed envelopes, signatures and codenames (DESIGN.md §3–§4)."""

from __future__ import annotations

import base64
import hashlib
import struct
import sys
import unicodedata
from collections.abc import Callable

import nacl.pwhash.argon2id as argon2id
import pytest
from nacl.bindings import crypto_scalarmult_base

from crypto import kdf
from crypto.codename import (
    BITS_PER_WORD,
    CODENAME_WORDS,
    LANGUAGE_LISTS,
    MAX_CODENAME_CHARS,
    canonical_codename,
    canonical_word,
    codename_language,
    derive_source_keys,
    generate_codename,
    lookup_hash,
    wordlist,
)
from crypto.errors import (
    EnvelopeNotForThisKey,
    EnvelopeTooLarge,
    EnvelopeTooShort,
    InvalidCodename,
    KeyFormatError,
    SignatureInvalid,
    WrappedKeyError,
    WrongPassword,
)
from crypto.keys import (
    BoxKeyPair,
    SigningKeyPair,
    b64decode,
    b64encode,
    fingerprint,
    format_fingerprint,
)
from crypto.sealing import SEAL_OVERHEAD, open_sealed, seal
from crypto.signing import SIGNATURE_BYTES, sign_detached, verify_detached


def flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    """Return ``data`` with the byte at ``position`` XORed with ``mask``."""
    altered = bytearray(data)
    altered[position] ^= mask
    return bytes(altered)


# -- keys and fingerprints ------------------------------------------------------------------------


def test_fingerprint_is_lowercase_hex_blake2b_256_of_the_public_key() -> None:
    public = BoxKeyPair.generate().public
    fp = fingerprint(public)
    assert fp == hashlib.blake2b(public, digest_size=32).hexdigest()
    assert len(fp) == 64
    assert fp == fp.lower()
    int(fp, 16)  # hex only


def test_fingerprint_known_answer() -> None:
    assert fingerprint(bytes(32)) == hashlib.blake2b(bytes(32), digest_size=32).hexdigest()
    assert fingerprint(bytes(32)) != fingerprint(bytes(31) + b"\x01")


@pytest.mark.parametrize("public", [b"", bytes(31), bytes(33), "a" * 32], ids=repr)
def test_fingerprint_refuses_a_key_of_the_wrong_length(public: bytes) -> None:
    with pytest.raises(KeyFormatError):
        fingerprint(public)


def test_format_fingerprint_groups_of_four() -> None:
    fp = fingerprint(BoxKeyPair.generate().public)
    grouped = format_fingerprint(fp)
    groups = grouped.split(" ")
    assert len(groups) == 16
    assert all(len(group) == 4 for group in groups)
    assert "".join(groups) == fp
    assert format_fingerprint("1a2b3c4d5e") == "1a2b 3c4d 5e"


# RFC 7748 §6.1: Alice's X25519 key pair.
ALICE_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")


def test_box_key_pair_from_private_known_answer() -> None:
    pair = BoxKeyPair.from_private(ALICE_PRIVATE)
    assert pair.public == ALICE_PUBLIC
    assert pair.private == ALICE_PRIVATE


def test_box_key_pair_from_seed_is_deterministic_and_matches_libsodium() -> None:
    seed = bytes(range(32))
    first, second = BoxKeyPair.from_seed(seed), BoxKeyPair.from_seed(seed)
    assert first == second
    # crypto_box_seed_keypair: the private key is the first half of SHA-512(seed).
    assert first.private == hashlib.sha512(seed).digest()[:32]
    assert first.public == crypto_scalarmult_base(first.private)
    assert BoxKeyPair.from_seed(bytes(32)) != first


def test_generated_key_pairs_are_fresh_and_consistent() -> None:
    first, second = BoxKeyPair.generate(), BoxKeyPair.generate()
    assert first.private != second.private
    assert BoxKeyPair.from_private(first.private) == first
    signing = SigningKeyPair.generate()
    assert SigningKeyPair.from_seed(signing.seed) == signing


@pytest.mark.parametrize(
    "material", [b"", bytes(16), bytes(31), bytes(33), bytearray(32)], ids=repr
)
@pytest.mark.parametrize(
    "build",
    [BoxKeyPair.from_private, BoxKeyPair.from_seed, SigningKeyPair.from_seed],
    ids=["box-from-private", "box-from-seed", "signing-from-seed"],
)
def test_key_pairs_refuse_material_of_the_wrong_length(
    build: Callable[[bytes], object], material: bytes
) -> None:
    with pytest.raises(KeyFormatError):
        build(material)


def test_repr_never_shows_private_bytes() -> None:
    box, signing = BoxKeyPair.generate(), SigningKeyPair.generate()
    for pair, secret in ((box, box.private), (signing, signing.seed)):
        shown = [repr(pair), str(pair), f"{pair}", f"{[pair]}"]
        for text in shown:
            assert secret.hex() not in text
            assert repr(secret) not in text
            assert b64encode(secret) not in text
            assert fingerprint(pair.public) in text


# -- base64 -------------------------------------------------------------------------------------


def test_b64_round_trip() -> None:
    data = bytes(range(256))
    assert b64decode(b64encode(data)) == data
    assert b64decode(b64encode(bytes(32)), length=32) == bytes(32)
    assert b64encode(b"\xfb\xff") == "+/8="  # standard alphabet, padded


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("not base64!", None),
        ("AAA", None),  # missing padding
        ("AAAA AAAA", None),  # inner whitespace
        ("AAAA\n", None),  # trailing newline
        ("-_-_", None),  # URL-safe alphabet
        ("AA==AA==", None),  # padding in the middle
        ("ÀÀÀÀ", None),  # not ASCII
        (None, None),  # not a string
        (b"AAAA", None),  # bytes, not text
        (base64.b64encode(bytes(31)).decode(), 32),
        (base64.b64encode(bytes(33)).decode(), 32),
        ("", 32),
    ],
    ids=repr,
)
def test_b64decode_is_strict(text: str, length: int | None) -> None:
    with pytest.raises(KeyFormatError):
        b64decode(text, length=length, what="key")


def test_b64decode_names_the_value_in_its_message() -> None:
    with pytest.raises(KeyFormatError, match="public_key must be 32 bytes, not 31"):
        b64decode(b64encode(bytes(31)), length=32, what="public_key")


# -- password key wrapping ------------------------------------------------------------------------

SECRET = bytes(range(100, 132))


def with_header(blob: bytes, magic: bytes, opslimit: int, memlimit: int) -> bytes:
    """Replace a wrapped key's magic and Argon2id parameters."""
    return struct.pack(">4sIQ", magic, opslimit, memlimit) + blob[16:]


@pytest.mark.parametrize("password", ["correct horse battery staple", "pässwörd 🔑", ""])
def test_wrap_unwrap_round_trip(password: str) -> None:
    blob = kdf.wrap_key(SECRET, password)
    assert len(blob) == kdf.WRAPPED_KEY_BYTES == 104
    assert blob.startswith(b"FWK1")
    assert kdf.unwrap_key(blob, password) == SECRET


def test_each_wrap_uses_a_fresh_salt_and_nonce() -> None:
    first, second = kdf.wrap_key(SECRET, "pw"), kdf.wrap_key(SECRET, "pw")
    assert first[16:] != second[16:]
    assert kdf.parse_wrapped_key(first)[1] != kdf.parse_wrapped_key(second)[1]


@pytest.mark.parametrize(
    "password", ["wrong", "correct horse battery stapl", "Correct horse battery staple"]
)
def test_wrong_password(password: str) -> None:
    blob = kdf.wrap_key(SECRET, "correct horse battery staple")
    with pytest.raises(WrongPassword):
        kdf.unwrap_key(blob, password)


@pytest.mark.parametrize(
    "position",
    [16, 31, 32, 55, 56, 103],
    ids=["salt", "salt-end", "nonce", "nonce-end", "box", "mac-end"],
)
def test_altered_wrapped_key_does_not_open(position: int) -> None:
    blob = kdf.wrap_key(SECRET, "pw")
    with pytest.raises(WrongPassword):
        kdf.unwrap_key(flip(blob, position), "pw")


MIN_OPS, MIN_MEM = argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN

MALFORMED_WRAPPED_KEYS = {
    "empty": lambda blob: b"",
    "one-byte-short": lambda blob: blob[:-1],
    "one-byte-long": lambda blob: blob + b"\0",
    "bad-magic": lambda blob: with_header(blob, b"FWK2", MIN_OPS, MIN_MEM),
    "stream-magic": lambda blob: with_header(blob, b"FLN1", MIN_OPS, MIN_MEM),
    "opslimit-zero": lambda blob: with_header(blob, b"FWK1", 0, MIN_MEM),
    "opslimit-below-min": lambda blob: with_header(blob, b"FWK1", MIN_OPS - 1, MIN_MEM),
    "opslimit-above-max": lambda blob: with_header(blob, b"FWK1", kdf.MAX_OPSLIMIT + 1, MIN_MEM),
    "opslimit-huge": lambda blob: with_header(blob, b"FWK1", 2**32 - 1, MIN_MEM),
    "memlimit-zero": lambda blob: with_header(blob, b"FWK1", MIN_OPS, 0),
    "memlimit-below-min": lambda blob: with_header(blob, b"FWK1", MIN_OPS, MIN_MEM - 1),
    "memlimit-above-max": lambda blob: with_header(blob, b"FWK1", MIN_OPS, kdf.MAX_MEMLIMIT + 1),
    "memlimit-huge": lambda blob: with_header(blob, b"FWK1", MIN_OPS, 2**64 - 1),
}


@pytest.mark.parametrize(
    "mutate", MALFORMED_WRAPPED_KEYS.values(), ids=MALFORMED_WRAPPED_KEYS.keys()
)
def test_malformed_wrapped_key(mutate: Callable[[bytes], bytes]) -> None:
    blob = mutate(kdf.wrap_key(SECRET, "pw"))
    with pytest.raises(WrappedKeyError):
        kdf.parse_wrapped_key(blob)
    with pytest.raises(WrappedKeyError):
        kdf.unwrap_key(blob, "pw")


def test_parameter_bounds_are_inclusive() -> None:
    blob = kdf.wrap_key(SECRET, "pw")
    for ops, mem in ((MIN_OPS, MIN_MEM), (kdf.MAX_OPSLIMIT, kdf.MAX_MEMLIMIT)):
        params, _, _ = kdf.parse_wrapped_key(with_header(blob, b"FWK1", ops, mem))
        assert params == kdf.Argon2Params(ops, mem)


def test_wrap_refuses_a_secret_that_is_not_32_bytes() -> None:
    with pytest.raises(WrappedKeyError):
        kdf.wrap_key(bytes(31), "pw")


def test_parameters_travel_inside_the_blob(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key wrapped at one cost still opens after the default cost changes."""
    blob = kdf.wrap_key(SECRET, "pw")
    assert kdf.parse_wrapped_key(blob)[0] == kdf.CHEAP_PARAMS
    monkeypatch.setattr(kdf, "_cheap_mode", False)
    assert kdf.user_key_params() == kdf.USER_KEY_PARAMS
    # Opens with the cheap parameters it names, not today's (which would take seconds).
    assert kdf.unwrap_key(blob, "pw") == SECRET


def test_explicit_parameters_are_recorded() -> None:
    params = kdf.Argon2Params(opslimit=2, memlimit=2 * MIN_MEM)
    blob = kdf.wrap_key(SECRET, "pw", params)
    assert kdf.parse_wrapped_key(blob)[0] == params
    assert kdf.unwrap_key(blob, "pw") == SECRET


def test_production_parameters_are_not_cheap() -> None:
    assert kdf.USER_KEY_PARAMS.memlimit >= 256 * 1024**2
    assert kdf.USER_KEY_PARAMS.opslimit >= 3
    assert kdf.SOURCE_KEY_PARAMS.memlimit >= 16 * 1024**2
    assert kdf.CHEAP_PARAMS.memlimit < kdf.SOURCE_KEY_PARAMS.memlimit


def test_cheap_mode_is_on_in_tests() -> None:
    assert kdf.cheap_mode_enabled()
    assert kdf.user_key_params() == kdf.CHEAP_PARAMS
    assert kdf.source_key_params() == kdf.CHEAP_PARAMS


def test_cheap_mode_restores_the_previous_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kdf, "_cheap_mode", False)
    with kdf.cheap_mode_for_tests():
        assert kdf.source_key_params() == kdf.CHEAP_PARAMS
    assert not kdf.cheap_mode_enabled()
    assert kdf.source_key_params() == kdf.SOURCE_KEY_PARAMS


def test_cheap_mode_refuses_outside_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kdf, "_cheap_mode", False)
    monkeypatch.delitem(sys.modules, "pytest")
    with pytest.raises(RuntimeError, match="test suite only"), kdf.cheap_mode_for_tests():
        pass
    assert not kdf.cheap_mode_enabled()


def test_derive_key_is_deterministic_and_checks_the_salt() -> None:
    salt = bytes(kdf.SALT_BYTES)
    first = kdf.derive_key(b"pw", salt, kdf.CHEAP_PARAMS, size=64)
    assert len(first) == 64
    assert first == kdf.derive_key(b"pw", salt, kdf.CHEAP_PARAMS, size=64)
    assert first != kdf.derive_key(b"pw", b"\x01" * kdf.SALT_BYTES, kdf.CHEAP_PARAMS, size=64)
    with pytest.raises(WrappedKeyError):
        kdf.derive_key(b"pw", bytes(kdf.SALT_BYTES - 1), kdf.CHEAP_PARAMS)


# -- sealed envelopes -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1000, 70_000])
def test_seal_round_trip(size: int) -> None:
    recipient = BoxKeyPair.generate()
    message = bytes(i % 251 for i in range(size))
    envelope = seal(message, recipient.public)
    assert len(envelope) == size + SEAL_OVERHEAD == size + 48
    assert open_sealed(envelope, recipient) == message


def test_sealing_is_randomised() -> None:
    recipient = BoxKeyPair.generate()
    assert seal(b"same", recipient.public) != seal(b"same", recipient.public)


@pytest.mark.parametrize("length", [0, 1, 32, 47])
def test_envelope_too_short(length: int) -> None:
    with pytest.raises(EnvelopeTooShort):
        open_sealed(bytes(length), BoxKeyPair.generate())


def test_envelope_too_large() -> None:
    recipient = BoxKeyPair.generate()
    envelope = seal(bytes(52), recipient.public)
    assert len(envelope) == 100
    with pytest.raises(EnvelopeTooLarge):
        open_sealed(envelope, recipient, max_bytes=99)
    assert open_sealed(envelope, recipient, max_bytes=100) == bytes(52)


def test_envelope_for_another_key() -> None:
    envelope = seal(b"for someone else", BoxKeyPair.generate().public)
    with pytest.raises(EnvelopeNotForThisKey):
        open_sealed(envelope, BoxKeyPair.generate())


@pytest.mark.parametrize(
    "position", [0, 31, 32, 47, 48, -1], ids=["epk", "epk-end", "mac", "mac-end", "body", "last"]
)
def test_altered_envelope(position: int) -> None:
    recipient = BoxKeyPair.generate()
    envelope = seal(b"a short report", recipient.public)
    with pytest.raises(EnvelopeNotForThisKey):
        open_sealed(flip(envelope, position % len(envelope)), recipient)


def test_envelope_of_exactly_the_overhead_is_checked_cryptographically() -> None:
    with pytest.raises(EnvelopeNotForThisKey):
        open_sealed(bytes(SEAL_OVERHEAD), BoxKeyPair.generate())


@pytest.mark.parametrize("public", [b"", bytes(31), bytes(33)], ids=repr)
def test_seal_refuses_a_bad_public_key(public: bytes) -> None:
    with pytest.raises(KeyFormatError):
        seal(b"message", public)


# -- signatures -----------------------------------------------------------------------------------

# RFC 8032 §7.1, tests 1 and 2.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_signature_known_answer(seed: str, public: str, message: str, signature: str) -> None:
    key = SigningKeyPair.from_seed(bytes.fromhex(seed))
    assert key.public.hex() == public
    assert sign_detached(bytes.fromhex(message), key).hex() == signature
    verify_detached(bytes.fromhex(message), bytes.fromhex(signature), key.public)


def test_sign_verify_round_trip() -> None:
    key = SigningKeyPair.generate()
    signature = sign_detached(b"receipt 42", key)
    assert len(signature) == SIGNATURE_BYTES == 64
    verify_detached(b"receipt 42", signature, key.public)


@pytest.fixture(scope="module")
def signed() -> tuple[bytes, bytes, bytes]:
    key = SigningKeyPair.generate()
    message = b"receipt 42"
    return message, sign_detached(message, key), key.public


INVALID_SIGNATURES = {
    "altered-message": lambda m, s, k: (m + b"!", s, k),
    "empty-message": lambda m, s, k: (b"", s, k),
    "altered-signature-first": lambda m, s, k: (m, flip(s, 0), k),
    "altered-signature-r-end": lambda m, s, k: (m, flip(s, 31), k),
    "altered-signature-last": lambda m, s, k: (m, flip(s, 63), k),
    "signature-too-short": lambda m, s, k: (m, s[:-1], k),
    "signature-too-long": lambda m, s, k: (m, s + b"\0", k),
    "signature-empty": lambda m, s, k: (m, b"", k),
    "signature-zero": lambda m, s, k: (m, bytes(64), k),
    "other-key": lambda m, s, k: (m, s, SigningKeyPair.generate().public),
    "small-order-key": lambda m, s, k: (m, s, bytes(32)),
}


@pytest.mark.parametrize("alter", INVALID_SIGNATURES.values(), ids=INVALID_SIGNATURES.keys())
def test_invalid_signature(
    alter: Callable[[bytes, bytes, bytes], tuple[bytes, bytes, bytes]],
    signed: tuple[bytes, bytes, bytes],
) -> None:
    message, signature, public = alter(*signed)
    with pytest.raises(SignatureInvalid):
        verify_detached(message, signature, public)


@pytest.mark.parametrize("public", [b"", bytes(31), bytes(33), "k" * 32], ids=repr)
def test_verify_refuses_a_malformed_public_key(
    public: bytes, signed: tuple[bytes, bytes, bytes]
) -> None:
    message, signature, _ = signed
    with pytest.raises(KeyFormatError):
        verify_detached(message, signature, public)


# -- codenames ------------------------------------------------------------------------------------


def test_codenames_carry_at_least_80_bits() -> None:
    assert CODENAME_WORDS * BITS_PER_WORD >= 80


@pytest.mark.parametrize("language", LANGUAGE_LISTS)
def test_every_wordlist_has_2048_distinct_words_even_once_folded(language: str) -> None:
    words = wordlist(language)
    assert len(words) == 2**BITS_PER_WORD
    assert len({canonical_word(w) for w in words}) == 2**BITS_PER_WORD


@pytest.mark.parametrize("language", LANGUAGE_LISTS)
def test_generated_codename(language: str) -> None:
    codename = generate_codename(language)
    words = codename.split(" ")
    assert len(words) == CODENAME_WORDS
    assert set(words) <= set(wordlist(language))
    assert canonical_codename(codename) == " ".join(canonical_word(w) for w in words)
    assert len(codename) <= MAX_CODENAME_CHARS


def test_generated_codenames_differ() -> None:
    assert len({generate_codename() for _ in range(20)}) == 20


def test_generate_codename_follows_browser_language_tags() -> None:
    assert set(generate_codename("fr-CD").split()) <= set(wordlist("fr"))
    assert set(generate_codename("sw").split()) <= set(wordlist("en"))


EN = "ability absorb cotton window galaxy yellow abandon zoo"
FR = "prélude éluder abaisser abdiquer fromage girafe hibou abandon"
FR_CANONICAL = "prelude eluder abaisser abdiquer fromage girafe hibou abandon"
ZH = "".join(wordlist("zh")[:8])


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        (EN, EN),
        (EN.upper(), EN),
        (EN.title(), EN),
        ("  " + EN.replace(" ", " \t ") + "\n", EN),
        (FR, FR_CANONICAL),
        (FR_CANONICAL, FR_CANONICAL),
        (unicodedata.normalize("NFD", FR), FR_CANONICAL),
        (FR.upper(), FR_CANONICAL),
        (" ".join(ZH), " ".join(ZH)),
        (ZH, " ".join(ZH)),
        (f" {ZH} ", " ".join(ZH)),
        ("\u3000".join(wordlist("ja")[:8]), " ".join(map(canonical_word, wordlist("ja")[:8]))),
        ("ABACO " * 8, " ".join(["abaco"] * 8)),  # Spanish ábaco, typed without its accent
    ],
    ids=[
        "as-is",
        "upper",
        "title",
        "whitespace",
        "french-accents",
        "french-no-accents",
        "french-nfd",
        "french-upper",
        "chinese-spaced",
        "chinese-unspaced",
        "chinese-unspaced-padded",
        "japanese-ideographic-space",
        "spanish-no-accent",
    ],
)
def test_canonical_codename_tolerates_how_people_type(typed: str, canonical: str) -> None:
    assert canonical_codename(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        " ".join(EN.split()[:7]),
        "xyzzy plugh frobozz quux blorpt snark boojum grault",
        EN.replace("galaxy", "galaxies"),
        "ability absorb cotton window fromage girafe hibou abaisser",  # English and French
        " ".join(ZH[:4]) + " ability absorb cotton window",  # Chinese and English
        ZH[:7],
        "abandon " * (MAX_CODENAME_CHARS // len("abandon ") + 1),
        "a" * (MAX_CODENAME_CHARS + 1),
        "abilityabsorbcottonwindowgalaxyyellowabandonzoo",
    ],
    ids=[
        "empty",
        "blank",
        "seven-words",
        "no-list",
        "one-word-off",
        "mixed-en-fr",
        "mixed-zh-en",
        "seven-chinese-unspaced",
        "over-long-valid-words",
        "over-long",
        "english-unspaced",
    ],
)
def test_canonical_codename_rejects(typed: str) -> None:
    with pytest.raises(InvalidCodename):
        canonical_codename(typed)


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("fr-CD", "fr"),
        ("fr", "fr"),
        ("FR", "fr"),
        ("sw", "en"),
        ("sw-CD", "en"),
        ("ln", "en"),
        ("zh-TW", "zh-hant"),
        ("zh-HK", "zh-hant"),
        ("zh-Hant", "zh-hant"),
        ("zh-Hant-TW", "zh-hant"),
        ("zh_TW", "zh-hant"),
        ("zh-CN", "zh"),
        ("zh", "zh"),
        ("pt-BR", "pt"),
        (" es-419 ", "es"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_codename_language(tag: str | None, language: str) -> None:
    assert codename_language(tag) == language


SALT = bytes(range(16))
OTHER_SALT = bytes(range(1, 17))


def test_derive_source_keys_is_deterministic() -> None:
    params = kdf.source_key_params()
    first = derive_source_keys(EN, SALT, params)
    assert first == derive_source_keys(EN, SALT, params)
    assert len(first.lookup_id) == 32
    assert len(first.keypair.public) == 32
    # The way it is typed does not matter: only the canonical form is derived from.
    assert derive_source_keys(f" {EN.upper()} ", SALT, params) == first


def test_derive_source_keys_depends_on_salt_and_codename() -> None:
    params = kdf.source_key_params()
    first = derive_source_keys(EN, SALT, params)
    other_salt = derive_source_keys(EN, OTHER_SALT, params)
    other_codename = derive_source_keys(EN.replace("zoo", "zone"), SALT, params)
    for other in (other_salt, other_codename):
        assert other.lookup_id != first.lookup_id
        assert other.keypair.public != first.keypair.public
    # The lookup id and the key seed are separate halves: neither gives away the other.
    assert first.lookup_id != first.keypair.private


def test_derived_source_key_opens_what_is_sealed_to_it() -> None:
    params = kdf.source_key_params()
    keys = derive_source_keys(EN, SALT, params)
    reply = seal(b"a reply from the desk", keys.keypair.public)
    again = derive_source_keys(EN, SALT, params)
    assert open_sealed(reply, again.keypair) == b"a reply from the desk"


def test_derive_source_keys_refuses_an_invalid_codename() -> None:
    with pytest.raises(InvalidCodename):
        derive_source_keys("not a codename", SALT, kdf.source_key_params())


def test_source_keys_repr_hides_secrets() -> None:
    keys = derive_source_keys(EN, SALT, kdf.source_key_params())
    text = repr(keys)
    assert keys.lookup_id.hex() not in text
    assert keys.keypair.private.hex() not in text
    assert repr(keys.lookup_id) not in text


def test_lookup_hash_is_keyed_by_the_instance() -> None:
    lookup_id = derive_source_keys(EN, SALT, kdf.source_key_params()).lookup_id
    instance_key, other_instance_key = bytes(32), b"\x01" * 32
    digest = lookup_hash(lookup_id, instance_key)
    assert len(digest) == 64
    assert digest == lookup_hash(lookup_id, instance_key)
    assert digest == hashlib.blake2b(lookup_id, digest_size=32, key=instance_key).hexdigest()
    assert digest != lookup_hash(lookup_id, other_instance_key)
    assert digest != hashlib.blake2b(lookup_id, digest_size=32).hexdigest()
    assert digest != lookup_hash(bytes(32), instance_key)
