"""Source codenames and the keys derived from them (DESIGN.md §3).

A codename is eight words drawn uniformly from a 2,048-word BIP-39 list (the ``mnemonic``
package, maintained by Trezor): 88 bits, above the 80 the design asks for. Every language
the package ships is offered, so a source can get a codename in their own language.

A codename is compared in its *canonical form*: Unicode NFKD, lower case, combining marks
removed, the Turkish dotless ``ı`` read as ``i``, words separated by one space (split where
Python's ``str.split()`` splits; a single run of eight or more characters, as Chinese
codenames are often typed, is split into characters). Every list stays unambiguous in that
form (checked when first used), so a source may type a codename without accents or
capitals. The browser computes the same form: ``tests/interop/sodium.mjs`` holds the
JavaScript rule, tested against this one.

Argon2id(canonical codename, instance salt) gives 64 bytes: the first 32 are the lookup id
(stored only as a keyed BLAKE2b hash), the last 32 seed the source's X25519 key pair
(``crypto_box_seed_keypair``), whose private part is never stored.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from dataclasses import dataclass

from mnemonic import Mnemonic
from nacl.encoding import RawEncoder
from nacl.hash import blake2b

from crypto.errors import InvalidCodename
from crypto.kdf import Argon2Params, derive_key
from crypto.keys import BoxKeyPair

CODENAME_WORDS = 8
BITS_PER_WORD = 11  # 2,048 words
MAX_CODENAME_CHARS = 400

# Language tags (as browsers send them) to the wordlist names of the mnemonic package.
LANGUAGE_LISTS = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "cs": "czech",
    "ru": "russian",
    "tr": "turkish",
    "ja": "japanese",
    "ko": "korean",
    "zh": "chinese_simplified",
    "zh-hant": "chinese_traditional",
}
DEFAULT_LANGUAGE = "en"


def canonical_word(word: str) -> str:
    """NFKD, lower case, combining marks removed, Turkish dotless ı read as i."""
    folded = unicodedata.normalize("NFKD", word).lower()
    # "ı".upper() is "I", whose lower case is "i": without this, a Turkish codename typed in
    # capitals would not match its own words.
    folded = folded.replace("\u0131", "i")
    return "".join(c for c in folded if not unicodedata.category(c).startswith("M"))


@functools.cache
def wordlist(language: str) -> tuple[str, ...]:
    """The 2,048 words for a language tag, as the package spells them."""
    return tuple(Mnemonic(LANGUAGE_LISTS[language]).wordlist)


@functools.cache
def _canonical_index() -> dict[str, frozenset[str]]:
    """Canonical word set per language; refuses a list that folding would make ambiguous."""
    index = {}
    for language in LANGUAGE_LISTS:
        words = frozenset(canonical_word(w) for w in wordlist(language))
        if len(words) != 2**BITS_PER_WORD:
            raise RuntimeError(f"the {language} codename list is ambiguous once folded")
        index[language] = words
    return index


def codename_language(tag: str | None) -> str:
    """Pick the wordlist for a browser language tag such as ``fr-CD``; English otherwise."""
    if not tag:
        return DEFAULT_LANGUAGE
    tag = tag.strip().lower().replace("_", "-")
    if tag in LANGUAGE_LISTS:
        return tag
    if tag.startswith(("zh-hant", "zh-tw", "zh-hk", "zh-mo")):
        return "zh-hant"
    primary = tag.split("-", 1)[0]
    return primary if primary in LANGUAGE_LISTS else DEFAULT_LANGUAGE


def generate_codename(language: str = DEFAULT_LANGUAGE) -> str:
    """Draw a fresh codename of :data:`CODENAME_WORDS` words from the language's list."""
    words = wordlist(codename_language(language))
    return " ".join(secrets.choice(words) for _ in range(CODENAME_WORDS))


def canonical_codename(text: str) -> str:
    """Return the canonical form of a typed codename, or raise :class:`InvalidCodename`."""
    if len(text) > MAX_CODENAME_CHARS:
        raise InvalidCodename("a codename is at most a few dozen words")
    words = canonical_word(text).split()
    if len(words) == 1 and len(words[0]) >= CODENAME_WORDS:
        # Chinese codenames are single characters and are often typed without spaces.
        words = list(words[0])
    if len(words) < CODENAME_WORDS:
        raise InvalidCodename(f"a codename has {CODENAME_WORDS} words")
    for words_of_language in _canonical_index().values():
        if all(w in words_of_language for w in words):
            return " ".join(words)
    raise InvalidCodename("these words do not form a codename from any of our wordlists")


@dataclass(frozen=True, repr=False)
class SourceKeys:
    """What a codename opens: the lookup id and the source's key pair."""

    lookup_id: bytes
    keypair: BoxKeyPair

    def __repr__(self) -> str:
        return f"SourceKeys(public={self.keypair.public.hex()!r})"


def derive_source_keys(codename: str, salt: bytes, params: Argon2Params) -> SourceKeys:
    """Derive the lookup id and source key pair from a codename and the instance salt."""
    canonical = canonical_codename(codename)
    material = derive_key(canonical.encode("utf-8"), salt, params, size=64)
    return SourceKeys(lookup_id=material[:32], keypair=BoxKeyPair.from_seed(material[32:]))


def lookup_hash(lookup_id: bytes, instance_key: bytes) -> str:
    """Keyed BLAKE2b-256 of a lookup id: what the record stores to find a returning source.

    Keyed with a secret from the instance directory, so a database copy alone cannot test
    guessed codenames against it.
    """
    return blake2b(lookup_id, digest_size=32, key=instance_key, encoder=RawEncoder).hex()
