"""Check a Filon evidence dossier (format ``filon-dossier/1``) without Filon.

A dossier is a ZIP file. Its ``manifest.json`` lists every other file in it with its size and
SHA-256 hash, and ``manifest.sig`` holds an Ed25519 signature over the exact bytes of
``manifest.json``, made with the exporting organisation's signing key. This program checks:

1. that the ZIP can be read and holds nothing strange: no duplicate names, no path that would
   escape a folder when extracted, no absurd number of entries, no encrypted entry or
   symbolic link, no entry whose own header disagrees with the ZIP's directory, no two
   entries sharing bytes (any of these could make a tool extract something else than what
   was checked here);
2. that ``manifest.json`` is well-formed JSON of the ``filon-dossier/1`` format;
3. that ``manifest.sig`` is a valid signature over ``manifest.json`` by the key the manifest
   names, and that this key's fingerprint is the one the manifest names and, when you give
   one with ``--fingerprint``, the one you expected (ask the organisation for it through a
   channel you trust: a key checked only against itself proves nothing about who signed);
4. that every listed file is present with its listed size and SHA-256 hash, that no file is
   listed twice, and that the ZIP holds no file the manifest does not list.

It reports every problem it finds, not only the first, each naming the file concerned.

Usage::

    python verify.py DOSSIER.zip [--fingerprint FINGERPRINT]

Exit status: 0 when the dossier is intact, 1 when any problem was found, 2 when the command
was used wrongly or the file could not be read. Needs Python 3.11 or newer and PyNaCl
(``pip install pynacl``), nothing else. This same file is Filon's own verifier
(``filon verify``) and is copied unchanged into every dossier as ``verify.py``.
"""

from __future__ import annotations

import sys  # built in: no file can stand in for it

if __name__ == "__main__" and not sys.flags.safe_path:
    # Run as ``python verify.py``, Python looks for modules in this file's folder before its
    # own. A dossier extracted whole into that folder could bring a ``hashlib.py`` or a
    # ``nacl/`` that answers for the real one and says "OK". Look only where Python and
    # PyNaCl are installed.
    del sys.path[0]

import argparse
import base64
import binascii
import hashlib
import io
import json
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Sequence
from typing import IO, Any, NamedTuple, TypeGuard

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

FORMAT = "filon-dossier/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"

# A dossier holds a case's evidence: thousands of files is plenty. A ZIP claiming more entries
# is refused before any is looked at, so a crafted file cannot make us work without end.
MAX_ENTRIES = 100_000
# The manifest and its signature are read whole, so their size is bounded. A manifest holds
# metadata only (hashes, custody events, sites); 64 MiB is far beyond any real case.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_SIGNATURE_BYTES = 1024
# Evidence may be gigabytes: it is hashed in chunks of this size, never held in memory whole.
CHUNK_BYTES = 1024 * 1024

SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
HEX64 = re.compile(r"[0-9a-f]{64}")

# Printed after a dossier verified without --fingerprint.
UNCHECKED_KEY = (
    "Compare this fingerprint with the one the organisation gave you through another channel, "
    "or run again with --fingerprint: a dossier checked only against its own key could have "
    "been signed by anyone."
)

# Errors that reading a damaged or hostile ZIP can raise; each becomes a named problem.
LZMA_ERRORS: tuple[type[Exception], ...] = ()
try:
    import lzma  # not in every Python build; zipfile then refuses LZMA entries by itself

    LZMA_ERRORS = (lzma.LZMAError,)
except ImportError:
    pass
ZIP_ERRORS: tuple[type[Exception], ...] = (
    *LZMA_ERRORS,
    zlib.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    struct.error,
)


def normalize_fingerprint(text: str) -> str | None:
    """Return a fingerprint as 64 lowercase hex digits, or None if it is not one.

    People copy fingerprints grouped in fours (``1a2b 3c4d …``), in either case; spaces and
    case carry no meaning, so both are accepted.
    """
    plain = "".join(text.split()).lower()
    return plain if HEX64.fullmatch(plain) else None


def key_fingerprint(public_key: bytes) -> str:
    """The fingerprint of a public key: lowercase hex of BLAKE2b-256 over its raw bytes."""
    return hashlib.blake2b(public_key, digest_size=32).hexdigest()


def verify(path: str | os.PathLike[str] | IO[bytes], fingerprint: str | None = None) -> list[str]:
    """Check the dossier at ``path``; return every problem found (an empty list: it is intact).

    ``fingerprint``, when given, is the signing key fingerprint you expect, in any grouping
    or case. This function never raises for a damaged or hostile file: it names the damage.
    """
    return examine(path, fingerprint)[0]


def examine(
    path: str | os.PathLike[str] | IO[bytes], fingerprint: str | None = None
) -> tuple[list[str], str | None]:
    """Every problem of the dossier, and the fingerprint of the key that signed it (if known)."""
    problems: list[str] = []
    expected = None
    if fingerprint is not None:
        expected = normalize_fingerprint(fingerprint)
        if expected is None:
            problems.append(
                "--fingerprint: not a fingerprint (expected 64 hexadecimal digits, spaces allowed)"
            )
    if isinstance(path, str | os.PathLike):
        try:
            with open(path, "rb") as handle:
                found, signer = examine(handle, fingerprint)
        except OSError as exc:
            return [*problems, f"dossier: cannot be read ({describe(exc)})"], None
        return found, signer
    try:
        # Counted from the ZIP's end record before Python lists the entries, which takes
        # memory for each: a crafted ZIP claiming millions of entries is refused cheaply.
        count = declared_entries(path)
        if count is not None and count > MAX_ENTRIES:
            return [
                *problems,
                f"dossier: {count} entries, more than the {MAX_ENTRIES} allowed",
            ], None
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        return [*problems, f"dossier: not a readable ZIP file ({describe(exc)})"], None
    with archive:
        found, signer = check_dossier(archive, path, expected)
    return [printable(p) for p in problems + found], signer


def printable(line: str) -> str:
    """A problem line with control and invisible characters shown as escapes.

    File names come from the ZIP, that is from whoever last touched it: a name holding a
    terminal escape sequence or a right-to-left override could hide or disguise a problem
    on the reader's screen.
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


def declared_entries(handle: IO[bytes]) -> int | None:
    """The number of entries the ZIP's end record declares; None when there is no such record.

    The end record sits in the last 22 bytes plus at most a 65,535-byte comment; a ZIP64 file
    puts 0xFFFF there and the real count in a ZIP64 end record that a locator points to.
    """
    handle.seek(0, os.SEEK_END)
    start = max(0, handle.tell() - (20 + 22 + 0xFFFF))
    handle.seek(start)
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    (count,) = struct.unpack_from("<H", tail, at + 10)
    if count != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
        return int(count)
    (offset,) = struct.unpack_from("<Q", tail, at - 20 + 8)
    handle.seek(offset)
    record = handle.read(56)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        return None
    (count64,) = struct.unpack_from("<Q", record, 32)
    return int(count64)


def check_dossier(
    archive: zipfile.ZipFile, handle: IO[bytes], expected_fingerprint: str | None
) -> tuple[list[str], str | None]:
    """Every problem of an opened dossier, and its signer's key fingerprint if known."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        return [f"dossier: {len(entries)} entries, more than the {MAX_ENTRIES} allowed"], None
    problems = check_entries(entries)
    try:
        problems += check_layout(handle, entries)
    except ZIP_ERRORS as exc:
        problems.append(f"dossier: the ZIP's entries cannot be located ({describe(exc)})")
    # Duplicated names are already reported; from here on, a name means one entry, and
    # a duplicated one is not read at all (which copy would count is ambiguous).
    by_name: dict[str, zipfile.ZipInfo] = {}
    duplicated = set()
    for info in entries:
        if info.filename in by_name:
            duplicated.add(info.filename)
        by_name[info.filename] = info
    for name in duplicated:
        del by_name[name]
    # A file is looked up among the entries with one name; a duplicated name is reported once.
    members = Members(by_name, duplicated)

    manifest_bytes, manifest_problems = read_member(archive, members, MANIFEST, MAX_MANIFEST_BYTES)
    problems += manifest_problems
    signature_bytes, signature_problems = read_member(
        archive, members, SIGNATURE, MAX_SIGNATURE_BYTES
    )
    problems += signature_problems

    manifest = None
    if manifest_bytes is not None:
        manifest, parse_problems = parse_manifest(manifest_bytes)
        problems += parse_problems
    signature = None
    if signature_bytes is not None:
        signature, sig_problems = parse_signature(signature_bytes)
        problems += sig_problems

    public_key = None
    if manifest is not None:
        public_key, key_problems = check_key(manifest, expected_fingerprint)
        problems += key_problems
    if manifest_bytes is not None and signature is not None and public_key is not None:
        problems += check_signature(manifest_bytes, signature, public_key)

    listed: list[dict[str, Any]] = []
    if manifest is not None and isinstance(manifest.get("files"), list):
        listed = [item for item in manifest["files"] if isinstance(item, dict)]
    problems += check_files(archive, members, listed)
    problems += check_unlisted(entries, listed)
    return problems, None if public_key is None else key_fingerprint(public_key)


# -- the ZIP ------------------------------------------------------------------------------------


class Members(NamedTuple):
    """The ZIP's entries by name: those whose name is unique, and the names given twice."""

    unique: dict[str, zipfile.ZipInfo]
    duplicated: set[str]


def unsafe_path(name: str) -> str | None:
    """Why a path must not appear in a dossier, or None when it is an ordinary relative path.

    Extracting ``../x`` or ``/etc/x`` writes outside the folder a reader extracts into.
    """
    if not name:
        return "an empty path"
    if "\x00" in name:
        return "a path with a NUL character"
    if "\\" in name:
        return "a path with a backslash (ZIP paths use '/')"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "a path with a '..' component"
    if "." in parts or "" in parts[:-1]:
        return "a path with an empty or '.' component"
    return None


def check_entries(entries: Sequence[zipfile.ZipInfo]) -> list[str]:
    """Problems of the ZIP's entries themselves: unsafe paths, duplicates, encryption."""
    problems = []
    seen: set[str] = set()
    for info in entries:
        name = info.filename
        reason = unsafe_path(name)
        if reason is not None:
            problems.append(f"{name!r}: {reason} in the ZIP")
        if name in seen:
            # Two entries with one name: tools disagree on which one a reader sees.
            problems.append(f"{name}: appears more than once in the ZIP")
        seen.add(name)
        if info.flag_bits & 0x1:
            problems.append(f"{name}: encrypted in the ZIP (a dossier holds no encrypted entry)")
        if stat.S_ISLNK(info.external_attr >> 16):
            # unzip would make a link, which a later entry or the reader could follow out of
            # the folder the dossier was extracted into.
            problems.append(f"{name}: a symbolic link in the ZIP (a dossier holds only files)")
    return problems


def check_layout(handle: IO[bytes], entries: Sequence[zipfile.ZipInfo]) -> list[str]:
    """Problems of where the entries lie: local headers that disagree, entries that overlap.

    Tools find a ZIP's files in two ways: through the directory at its end (as this verifier
    and most tools do) or through the header before each file (as streaming tools do). Where
    the two disagree, or two entries share bytes, a reader's tool could extract something
    other than what was verified.
    """
    problems = []
    spans = []
    for info in entries:
        handle.seek(info.header_offset)
        header = handle.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            problems.append(f"{info.filename}: no file header where the ZIP's directory points")
            continue
        (method,) = struct.unpack_from("<H", header, 8)
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        raw_name = handle.read(name_length)
        name = raw_name.decode("utf-8" if info.flag_bits & 0x800 else "cp437", errors="replace")
        if name != info.orig_filename:
            problems.append(f"{info.filename}: its file header names it {name!r}")
        if method != info.compress_type:
            problems.append(
                f"{info.filename}: its file header and the ZIP's directory disagree on how "
                "it is compressed"
            )
        start = info.header_offset + 30 + name_length + extra_length
        spans.append((info.header_offset, start + info.compress_size, info.filename))
    spans.sort()
    for (_, end, name), (begin, _, following) in zip(spans, spans[1:], strict=False):
        if begin < end:
            problems.append(f"{following}: shares bytes with {name} in the ZIP (overlapping)")
    return problems


def read_member(
    archive: zipfile.ZipFile, members: Members, name: str, limit: int
) -> tuple[bytes | None, list[str]]:
    """The bytes of a small entry, read whole but never past ``limit``; or the problem."""
    info = members.unique.get(name)
    if info is None:
        if name in members.duplicated:
            return None, []  # reported already
        return None, [f"{name}: missing from the dossier"]
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except ZIP_ERRORS as exc:
        return None, [f"{name}: cannot be read from the ZIP ({describe(exc)})"]
    if len(data) > limit:
        return None, [f"{name}: larger than the {limit} bytes allowed"]
    return data, []


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, for a reader rather than a programmer."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- the manifest -------------------------------------------------------------------------------


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a key given twice.

    With a key twice, one JSON reader sees the first value and another the last: the signed
    manifest would say two different things.
    """
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; refuse them rather than guess."""
    raise ValueError(f"{name} is not a JSON value")


def parse_manifest(data: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """The manifest as a dict, with every problem of its encoding, syntax and fields."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{MANIFEST}: not valid UTF-8 (byte {exc.start})"]
    try:
        document = json.loads(
            text, object_pairs_hook=no_duplicate_keys, parse_constant=refuse_constant
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        return None, [f"{MANIFEST}: not valid JSON ({describe(exc)})"]
    if not isinstance(document, dict):
        return None, [f"{MANIFEST}: not a JSON object"]
    return document, check_fields(document)


def field_problem(document: dict[str, Any], key: str, kinds: tuple[type, ...], what: str) -> str:
    """The problem of one top-level field, or an empty string if it is present and well-typed."""
    if key not in document:
        return f"{MANIFEST}: the field {key!r} is missing"
    value = document[key]
    # bool is an int in Python, but true is not a size.
    if isinstance(value, bool) and bool not in kinds:
        return f"{MANIFEST}: the field {key!r} must be {what}"
    if not isinstance(value, kinds):
        return f"{MANIFEST}: the field {key!r} must be {what}"
    return ""


TOP_LEVEL: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("format", (str,), "a string"),
    ("case", (dict,), "an object"),
    ("exported_at", (str,), "a string (a date and time)"),
    ("exported_by", (str, dict), "a string or an object"),
    ("signing_key", (str,), "a string (base64)"),
    ("signing_key_fingerprint", (str,), "a string (hex)"),
    ("files", (list,), "a list"),
    ("mine_sites", (list,), "a list"),
    ("actors", (list,), "a list"),
    ("chain_links", (list,), "a list"),
    ("geotags", (list,), "a list"),
)


def check_fields(document: dict[str, Any]) -> list[str]:
    """Problems of the manifest's fields: presence, types, and the list of files."""
    problems = [p for p in (field_problem(document, *spec) for spec in TOP_LEVEL) if p]
    if isinstance(document.get("format"), str) and document["format"] != FORMAT:
        problems.append(
            f"{MANIFEST}: the format is {document['format']!r}, this verifier reads {FORMAT!r}"
        )
    if isinstance(document.get("files"), list):
        problems += check_file_list(document["files"])
    return problems


def check_file_list(files: list[Any]) -> list[str]:
    """Problems of the ``files`` entries: their fields, their paths, paths listed twice."""
    problems = []
    seen: set[str] = set()
    for index, item in enumerate(files):
        where = f"{MANIFEST}: files[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} is not an object")
            continue
        path = item.get("path")
        if not isinstance(path, str):
            problems.append(f"{where}: 'path' must be a string")
            continue
        where = f"{MANIFEST}: files[{index}] ({path!r})"
        reason = unsafe_path(path)
        if reason is not None:
            problems.append(f"{where}: {reason}")
        if path in (MANIFEST, SIGNATURE):
            problems.append(f"{where}: the manifest cannot list itself or its signature")
        if path in seen:
            problems.append(f"{where}: listed more than once")
        seen.add(path)
        problems += check_file_fields(item, where)
    return problems


def is_hex_digest(value: Any) -> TypeGuard[str]:
    """Whether ``value`` is a SHA-256 digest as the manifest writes it: 64 lowercase hex."""
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def check_file_fields(item: dict[str, Any], where: str) -> list[str]:
    """Problems of one ``files`` entry's fields other than its path.

    Every entry has ``sha256`` and ``size``. Evidence (under ``evidence/``) also says whether
    it was cleaned, the hash of the original, and its custody events.
    """
    problems = []
    if not is_hex_digest(item.get("sha256")):
        problems.append(f"{where}: 'sha256' must be 64 lowercase hexadecimal digits")
    size = item.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        problems.append(f"{where}: 'size' must be a whole number of bytes, 0 or more")
    evidence = item["path"].startswith("evidence/")
    if ("cleaned" in item or evidence) and not isinstance(item.get("cleaned"), bool):
        problems.append(f"{where}: 'cleaned' must be true or false")
    if "original_sha256" in item or evidence:
        original = item.get("original_sha256")
        if original is not None and not is_hex_digest(original):
            problems.append(
                f"{where}: 'original_sha256' must be 64 lowercase hexadecimal digits or null"
            )
    if ("custody" in item or evidence) and not isinstance(item.get("custody"), list):
        problems.append(f"{where}: 'custody' must be a list of events")
    return problems


# -- the signature and the key ------------------------------------------------------------------


def parse_signature(data: bytes) -> tuple[bytes | None, list[str]]:
    """The 64-byte signature from ``manifest.sig`` (standard base64; whitespace is ignored)."""
    try:
        text = "".join(data.decode("ascii").split())  # a line break or wrapping is harmless
        signature = base64.b64decode(text, validate=True)
    except (UnicodeDecodeError, binascii.Error):
        return None, [f"{SIGNATURE}: not valid base64"]
    if len(signature) != SIGNATURE_BYTES:
        return None, [
            f"{SIGNATURE}: an Ed25519 signature is {SIGNATURE_BYTES} bytes, "
            f"this one is {len(signature)}"
        ]
    return signature, []


def check_key(
    manifest: dict[str, Any], expected_fingerprint: str | None
) -> tuple[bytes | None, list[str]]:
    """The signing key the manifest names, and any fingerprint that does not match it.

    The signature only shows that whoever held *this* key signed; the fingerprint ties the key
    to the organisation, so it is compared with the one the manifest names and, above all,
    with the one the reader was given separately.
    """
    encoded = manifest.get("signing_key")
    if not isinstance(encoded, str):
        return None, []  # reported with the fields
    try:
        public_key = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None, [f"{MANIFEST}: 'signing_key' is not valid base64"]
    if len(public_key) != PUBLIC_KEY_BYTES:
        return None, [
            f"{MANIFEST}: 'signing_key' is {len(public_key)} bytes, an Ed25519 public key "
            f"is {PUBLIC_KEY_BYTES}"
        ]
    actual = key_fingerprint(public_key)
    problems = []
    named = manifest.get("signing_key_fingerprint")
    if isinstance(named, str) and normalize_fingerprint(named) != actual:
        problems.append(
            f"{MANIFEST}: 'signing_key_fingerprint' {named!r} is not the fingerprint of "
            f"'signing_key' ({group(actual)})"
        )
    if expected_fingerprint is not None and expected_fingerprint != actual:
        problems.append(
            f"{MANIFEST}: signed with the key {group(actual)}, not with the key "
            f"{group(expected_fingerprint)} given by --fingerprint"
        )
    return public_key, problems


def group(fingerprint: str) -> str:
    """A fingerprint in groups of four, as people compare them."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def check_signature(manifest_bytes: bytes, signature: bytes, public_key: bytes) -> list[str]:
    """Whether the signature holds over the exact bytes of the manifest."""
    try:
        VerifyKey(public_key).verify(manifest_bytes, signature)
    except BadSignatureError:
        return [
            f"{SIGNATURE}: the signature does not match {MANIFEST} and its 'signing_key' "
            "(the manifest or the signature was changed, or signed by another key)"
        ]
    except CryptoError as exc:  # e.g. a public key that is no curve point
        return [f"{MANIFEST}: 'signing_key' is not a usable Ed25519 key ({describe(exc)})"]
    return []


# -- the listed files ---------------------------------------------------------------------------


def check_files(
    archive: zipfile.ZipFile, members: Members, listed: list[dict[str, Any]]
) -> list[str]:
    """Each listed file is present, with the listed size and SHA-256."""
    problems = []
    done: set[str] = set()
    for item in listed:
        path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
        if not isinstance(path, str) or path in done or path in (MANIFEST, SIGNATURE):
            continue  # reported with the manifest's fields
        done.add(path)
        info = members.unique.get(path)
        if info is None:
            if path not in members.duplicated:
                problems.append(f"{path}: listed in {MANIFEST} but missing from the dossier")
            continue
        if isinstance(size, bool) or not isinstance(size, int) or not is_hex_digest(digest):
            continue  # reported with the manifest's fields; nothing to compare with
        problems += check_content(archive, info, size, digest)
    return problems


def check_content(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, digest: str
) -> list[str]:
    """Hash one entry in chunks (constant memory) and compare it with the manifest."""
    path = info.filename
    hasher = hashlib.sha256()
    read = 0
    try:
        with archive.open(info) as handle:
            # Read at most one byte past the listed size: a file longer than listed is wrong
            # whatever follows, and a crafted entry cannot make us read without end.
            while read <= size:
                chunk = handle.read(min(CHUNK_BYTES, size + 1 - read))
                if not chunk:
                    break
                hasher.update(chunk)
                read += len(chunk)
    except ZIP_ERRORS as exc:
        return [f"{path}: cannot be read from the ZIP, it is damaged ({describe(exc)})"]
    if read > size:
        return [f"{path}: larger than the {size} bytes listed in {MANIFEST}"]
    if read < size:
        return [f"{path}: {read} bytes, but {MANIFEST} lists {size} (truncated?)"]
    if hasher.hexdigest() != digest:
        return [f"{path}: its SHA-256 is {hasher.hexdigest()}, {MANIFEST} lists {digest}"]
    return []


def check_unlisted(entries: Sequence[zipfile.ZipInfo], listed: list[dict[str, Any]]) -> list[str]:
    """Entries of the ZIP that the manifest does not list: someone added them."""
    known = {MANIFEST, SIGNATURE} | {i["path"] for i in listed if isinstance(i.get("path"), str)}
    problems = []
    reported: set[str] = set()
    for info in entries:
        if info.filename not in known and info.filename not in reported:
            reported.add(info.filename)
            problems.append(f"{info.filename}: in the dossier but not listed in {MANIFEST}")
    return problems


# -- the command --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python verify.py DOSSIER.zip [--fingerprint FP]``: print each problem, return 0/1/2."""
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description=f"Check a {FORMAT} dossier: its signature, its files, and nothing added.",
    )
    parser.add_argument("dossier", help="the dossier ZIP file")
    parser.add_argument(
        "--fingerprint",
        help="the signing key fingerprint you expect, as the organisation gave it to you",
    )
    args = parser.parse_args(argv)  # exits 2 with a message on a usage error
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A console or file in a narrow encoding must not crash on a file name: escape instead.
        sys.stdout.reconfigure(errors="backslashreplace")
    if args.fingerprint is not None and normalize_fingerprint(args.fingerprint) is None:
        parser.error("--fingerprint: expected 64 hexadecimal digits (spaces allowed)")
    try:
        with open(args.dossier, "rb") as handle:
            problems, signer = examine(handle, args.fingerprint)
    except OSError as exc:
        print(f"verify.py: cannot read {args.dossier}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        print(f"NOT VERIFIED: {len(problems)} problem(s) in {args.dossier}", file=sys.stderr)
        return 1
    print(f"OK: {args.dossier} is intact, signed by the key {group(signer or '')}")
    if args.fingerprint is None:
        print(UNCHECKED_KEY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
