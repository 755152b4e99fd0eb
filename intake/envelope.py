"""The sealed envelope of a submission or a replies request (DESIGN.md §4): open and check it.

The server never trusts the client: every field is checked for type, size and form before
anything is done with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from crypto.errors import KeyFormatError, SealedBoxError
from crypto.keys import b64decode
from crypto.sealing import open_sealed
from crypto.stream import KEY_BYTES
from filon.keyring import IntakeKey
from intake.errors import EnvelopeInvalid, MalformedRequest

MAX_ENVELOPE_BYTES = 2 * 1024 * 1024
MAX_FILES = 20
MAX_ANSWER_FIELDS = 20
MAX_ANSWER_CHARS = 100_000
MAX_NAME_CHARS = 255
SHA256_HEX = re.compile(r"\A[0-9a-f]{64}\Z")
SLUG = re.compile(r"\A[a-z0-9-]{1,64}\Z")
LANG = re.compile(r"\A[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*\Z")


@dataclass(frozen=True, repr=False)
class FileEntry:
    """One file the envelope announces."""

    upload_id: str
    key: bytes
    name: str
    type: str
    size: int
    sha256: str
    keep_location: bool
    keep_time: bool


@dataclass(frozen=True, repr=False)
class SubmissionEnvelope:
    """What a submission's envelope holds, checked."""

    desk: str
    lang: str
    reply_to: bytes
    codename: str | None
    answers: dict[str, str]
    files: list[FileEntry]


@dataclass(frozen=True, repr=False)
class RepliesEnvelope:
    """What a replies request's envelope holds, checked."""

    reply_to: bytes
    codename: str


def open_envelope(sealed_b64: object, key: IntakeKey) -> dict[str, Any]:
    """Decode, open and parse an envelope into a JSON object."""
    if not isinstance(sealed_b64, str):
        raise MalformedRequest("envelope must be a base64 string")
    if len(sealed_b64) > MAX_ENVELOPE_BYTES * 4 // 3 + 4:
        raise EnvelopeInvalid("the envelope is too large")
    try:
        sealed = b64decode(sealed_b64, what="envelope")
        plaintext = open_sealed(sealed, key.keypair, max_bytes=MAX_ENVELOPE_BYTES)
    except (KeyFormatError, SealedBoxError) as exc:
        raise EnvelopeInvalid(f"the envelope does not open: {exc}") from exc
    try:
        data = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeInvalid("the envelope does not hold UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise EnvelopeInvalid("the envelope must hold a JSON object")
    if data.get("v") != 1:
        raise EnvelopeInvalid("the envelope's version must be 1")
    return data


def parse_submission(data: dict[str, Any], *, max_file_bytes: int) -> SubmissionEnvelope:
    """Check a submission envelope's fields."""
    desk = _string(data, "desk", 64)
    if not SLUG.match(desk):
        raise EnvelopeInvalid("desk must be a desk slug")
    lang = _string(data, "lang", 35)
    if not LANG.match(lang):
        raise EnvelopeInvalid("lang must be a language tag such as 'fr' or 'sw'")
    answers = data.get("answers")
    if not isinstance(answers, dict) or len(answers) > MAX_ANSWER_FIELDS:
        raise EnvelopeInvalid(f"answers must be an object of at most {MAX_ANSWER_FIELDS} fields")
    for name, value in answers.items():
        if not isinstance(value, str) or len(name) > 64 or len(value) > MAX_ANSWER_CHARS:
            raise EnvelopeInvalid(
                f"answer {name[:64]!r} must be text of at most {MAX_ANSWER_CHARS} characters"
            )
    files = data.get("files")
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise EnvelopeInvalid(f"files must be a list of at most {MAX_FILES} entries")
    entries = [_file_entry(f, i, max_file_bytes) for i, f in enumerate(files)]
    if len({e.upload_id for e in entries}) != len(entries):
        raise EnvelopeInvalid("an upload is named twice")
    if not answers and not entries:
        raise EnvelopeInvalid("a submission holds answers or files")
    return SubmissionEnvelope(
        desk=desk,
        lang=lang,
        reply_to=_key(data, "reply_to", 32),
        codename=_codename(data),
        answers=dict(answers),
        files=entries,
    )


def parse_replies(data: dict[str, Any]) -> RepliesEnvelope:
    """Check a replies envelope's fields."""
    codename = _codename(data)
    if codename is None:
        raise EnvelopeInvalid("a replies request carries the codename")
    return RepliesEnvelope(reply_to=_key(data, "reply_to", 32), codename=codename)


def _file_entry(item: object, index: int, max_file_bytes: int) -> FileEntry:
    if not isinstance(item, dict):
        raise EnvelopeInvalid(f"file {index} must be an object")
    size = item.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise EnvelopeInvalid(f"file {index}: size must be a non-negative integer")
    if size > max_file_bytes:
        raise EnvelopeInvalid(f"file {index} is larger than this server accepts")
    sha256 = _string(item, "sha256", 64)
    if not SHA256_HEX.match(sha256):
        raise EnvelopeInvalid(f"file {index}: sha256 must be 64 lowercase hex digits")
    keep = item.get("keep", {})
    if not isinstance(keep, dict) or not all(
        isinstance(keep.get(k, False), bool) for k in ("location", "time")
    ):
        raise EnvelopeInvalid(f"file {index}: keep must be {{location: bool, time: bool}}")
    return FileEntry(
        upload_id=_string(item, "upload_id", 64),
        key=_key(item, "key", KEY_BYTES),
        name=_string(item, "name", MAX_NAME_CHARS, allow_empty=True),
        type=_string(item, "type", MAX_NAME_CHARS, allow_empty=True),
        size=size,
        sha256=sha256,
        keep_location=keep.get("location", False),
        keep_time=keep.get("time", False),
    )


def _string(data: dict[str, Any], field: str, max_chars: int, *, allow_empty: bool = False) -> str:
    value = data.get(field)
    if not isinstance(value, str) or len(value) > max_chars or (not value and not allow_empty):
        raise EnvelopeInvalid(f"{field} must be text of at most {max_chars} characters")
    return value


def _key(data: dict[str, Any], field: str, length: int) -> bytes:
    try:
        return b64decode(data.get(field), length=length, what=field)  # type: ignore[arg-type]
    except KeyFormatError as exc:
        raise EnvelopeInvalid(str(exc)) from exc


def _codename(data: dict[str, Any]) -> str | None:
    value = data.get("codename")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 400:
        raise EnvelopeInvalid("codename must be null or text")
    return value
