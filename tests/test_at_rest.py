"""At rest, nothing opens (DESIGN.md §1 and §3): a copy of the disk and database is no key.

The instance is used the way a desk uses it: submissions through the intake pipeline (a
photo with a GPS position among them), a staff member signed in through the casework, a
reply, a case with a sealed note, an admin holding the org signing key. Then a thief takes a
copy of every table and the whole instance directory, with a live session row but not its
cookie. An attacker gathers every piece of key material at rest, tries each as an X25519
private key, a secretbox key and a secretstream key against everything sealed, adds whatever
opens to its keys and tries again until nothing new opens: nothing may open. Given the one
thing the copy lacks, the browser's session cookie, the same attacker opens a submission,
so the test would see a leak if there were one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nacl.exceptions
import nacl.secret
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.sessions import decode_cookie
from crypto.errors import CryptoFailure, WrongPassword
from crypto.kdf import unwrap_key
from crypto.keys import BoxKeyPair
from crypto.sealing import SEAL_OVERHEAD, open_sealed
from crypto.stream import StreamReader
from filon.accounts import create_user
from filon.db import Base, transaction
from filon.instance import Instance
from filon.models import Role, Submission
from intake.demo import SAMPLES, seed_submissions
from tests.conftest import Staff, StaffAccount, csrf_token

REPORT = SAMPLES[0].answers["report"]
NOTE = "Sealed note: the treasurer named the commander at the barrier."
REPLY = "Thank you. Which day were the barriers put up?"
SECRETBOX_OVERHEAD = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES
KEY = 32
# Values this short are tried at every offset; longer ones (ciphertext) at their ends.
WINDOW_ALL_OFFSETS = 512
EDGE = 64
STREAM_MAGIC = b"FLN1"
TOKEN = re.compile(rb"[A-Za-z0-9+/_-]{40,}={0,2}")


# -- the instance as a desk leaves it -------------------------------------------------------------


@dataclass
class Used:
    """An instance after a day's work, and the cookie of the session still open."""

    instance: Instance
    receipts: list[str]
    cookie: str


@pytest.fixture
def used(instance: Instance, staff: Staff, investigator: StaffAccount) -> Used:
    receipts = [outcome.receipt for outcome in seed_submissions(instance, "drc-minerals")]
    instance.keyring.rotate_intake_key()  # the retired key stays on disk for its uploads
    with transaction(instance.sessions) as session:
        # An admin holds the org signing key, sealed to their user key.
        create_user(
            session,
            username="admin",
            role=Role.ADMIN,
            password="admin-password-for-tests",
            signing_key=instance.keyring.signing_key(),
        )
    assert staff.log_in().status_code == 303
    client = staff.client
    post(client, f"/submissions/{receipts[0]}/replies", text=REPLY)
    post(client, f"/submissions/{receipts[0]}/case", title="Levies at the washing site")
    post(client, "/cases/1/notes", text=NOTE)
    assert client.get(f"/submissions/{receipts[0]}").status_code == 200
    cookie = staff.session_cookie()
    assert cookie is not None
    return Used(instance, receipts, cookie)


def post(client: FlaskClient, path: str, **data: str) -> None:
    response = client.post(path, data={"csrf_token": csrf_token(client), **data})
    assert response.status_code == 303, path


# -- the copy -------------------------------------------------------------------------------------


@dataclass
class Copy:
    """Every value of every table, and a copy of the instance directory."""

    rows: dict[str, list[dict[str, object]]]
    directory: Path

    def values(self) -> Iterator[tuple[str, object]]:
        """Every (table.column, value) of the record."""
        for table, rows in self.rows.items():
            for row in rows:
                for column, value in row.items():
                    if value is not None:
                        yield f"{table}.{column}", value

    def files(self) -> list[Path]:
        """Every file under the copied instance directory."""
        return sorted(p for p in self.directory.rglob("*") if p.is_file())


def take_copy(instance: Instance, to: Path) -> Copy:
    """What someone who copies the disk and the database gets."""
    rows: dict[str, list[dict[str, object]]] = {}
    with instance.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows[table.name] = [dict(r._mapping) for r in session.execute(select(table))]
    directory = to / "stolen"
    shutil.copytree(instance.settings.instance_dir, directory)
    return Copy(rows, directory)


# -- key material found at rest -------------------------------------------------------------------


def decodings(text: bytes) -> Iterator[bytes]:
    """The bytes a text token may stand for: base64 (either alphabet) or hex."""
    stripped = text.strip()
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            yield decode(stripped + b"=" * (-len(stripped) % 4))
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        yield bytes.fromhex(stripped.decode("ascii"))


def windows(data: bytes) -> Iterator[bytes]:
    """Every 32-byte slice of a short value; the first and last ones of a long value."""
    if len(data) < KEY:
        return
    if len(data) <= WINDOW_ALL_OFFSETS:
        offsets: Iterable[int] = range(len(data) - KEY + 1)
    else:
        offsets = [*range(EDGE), *range(len(data) - KEY - EDGE + 1, len(data) - KEY + 1)]
    for offset in offsets:
        yield data[offset : offset + KEY]


def material(data: bytes) -> Iterator[bytes]:
    """Candidate keys in one value or file: raw, and every encoded token decoded."""
    yield from windows(data)
    for token in TOKEN.findall(data[:1_000_000]):
        for decoded in decodings(token):
            yield from windows(decoded)
    if len(data) <= 256:
        for decoded in decodings(data):
            yield from windows(decoded)


def candidate_keys(copy: Copy) -> set[bytes]:
    """Every 32-byte value at rest: in the record's columns and in every file."""
    found: set[bytes] = set()
    for _, value in copy.values():
        if isinstance(value, bytes):
            found.update(material(value))
        elif isinstance(value, str):
            found.update(material(value.encode("utf-8")))
        elif isinstance(value, list | dict):
            found.update(material(json.dumps(value).encode("utf-8")))
    for path in copy.files():
        found.update(material(path.read_bytes()))
    return found


def sealed_values(copy: Copy) -> dict[str, list[bytes]]:
    """Every binary value long enough to be a sealed box or a secretbox, by column."""
    found: dict[str, list[bytes]] = {}
    for column, value in copy.values():
        if isinstance(value, bytes) and len(value) >= SECRETBOX_OVERHEAD + 1:
            found.setdefault(column, []).append(value)
    return found


# -- the attacker ---------------------------------------------------------------------------------


@dataclass
class Attack:
    """What an attacker opened with the keys it had, trying until nothing new opened."""

    opened: dict[str, list[bytes]] = field(default_factory=dict)  # column → plaintexts
    streams: dict[str, bytes] = field(default_factory=dict)  # file name → first plaintext chunk


def attack(copy: Copy, keys: set[bytes]) -> Attack:
    """Try every key against every sealed value and blob; what opens adds keys; repeat."""
    sealed = sealed_values(copy)
    # Every stream on the copied disk: stored blobs, and uploads not yet part of a submission.
    streams = [p for p in copy.files() if p.read_bytes()[:4] == STREAM_MAGIC]
    result = Attack()
    tried: set[bytes] = set()
    fresh = set(keys)
    while fresh:
        found: set[bytes] = set()
        for key in fresh:
            pair = BoxKeyPair.from_private(key)
            box = nacl.secret.SecretBox(key)
            for column, values in sealed.items():
                for value in values:
                    for plaintext in _open(value, pair, box):
                        result.opened.setdefault(column, []).append(plaintext)
                        found.update(windows(plaintext) if len(plaintext) == KEY else ())
            for path in streams:
                with contextlib.suppress(CryptoFailure, StopIteration), path.open("rb") as handle:
                    result.streams[path.name] = next(iter(StreamReader(handle, key)))
        tried |= fresh
        fresh = found - tried
    return result


def _open(value: bytes, pair: BoxKeyPair, box: nacl.secret.SecretBox) -> Iterator[bytes]:
    if len(value) >= SEAL_OVERHEAD:
        with contextlib.suppress(CryptoFailure):
            yield open_sealed(value, pair)
    with contextlib.suppress(nacl.exceptions.CryptoError):
        yield box.decrypt(value)


# -- the tests ------------------------------------------------------------------------------------


def test_a_copy_at_rest_opens_nothing_and_the_cookie_is_what_it_lacks(
    used: Used, tmp_path: Path
) -> None:
    copy = take_copy(used.instance, tmp_path)
    keys = candidate_keys(copy)
    sealed = sealed_values(copy)

    # The copy holds what the design says it holds, so the search below means something.
    names = {p.relative_to(copy.directory).as_posix() for p in copy.files()}
    for expected in ("keys/org-signing.json", "keys/lookup.key", "keys/app-secret.key"):
        assert expected in names
    assert any(n.startswith("keys/intake/") and n.endswith(".json") for n in names)
    assert any(n.startswith("blobs/") for n in names)
    assert len(list((copy.directory / "keys" / "intake").glob("*.json"))) == 2
    for column in (
        "submissions.sealed_metadata",
        "evidence.sealed_file_key",
        "replies.sealed_for_source",
        "replies.sealed_for_desk",
        "case_notes.sealed_text",
        "desk_memberships.sealed_desk_key",
        "desks.sealed_for_recovery",
        "org_keys.sealed_for_recovery",
        "org_key_grants.sealed_private_key",
        "staff_sessions.sealed_user_key",
        "users.wrapped_private_key",
    ):
        assert sealed.get(column), column
    at_rest_keys = [
        *(decode_b64_file(p) for p in (copy.directory / "keys").glob("*.key")),
        json_key(copy.directory / "keys" / "org-signing.json", "seed"),
        *(json_key(p, "private_key") for p in (copy.directory / "keys/intake").glob("*.json")),
    ]
    assert set(at_rest_keys) <= keys  # the server's own secrets are among the candidates
    assert len(keys) > 1000

    stolen = attack(copy, keys)

    assert stolen.opened == {}
    assert stolen.streams == {}
    # The plaintext is not lying about either, in any form.
    everything = b"".join(p.read_bytes() for p in copy.files()) + repr(copy.rows).encode()
    for secret in (REPORT, NOTE, REPLY):
        assert secret.encode() not in everything
        assert base64.b64encode(secret.encode()) not in everything

    # Wrapped user keys do not open with anything typed or stored about their owner.
    guesses = [v for _, v in copy.values() if isinstance(v, str) and len(v) <= 64]
    for row in copy.rows["users"]:
        wrapped = row["wrapped_private_key"]
        assert isinstance(wrapped, bytes)
        for guess in ["", *guesses]:
            with pytest.raises(WrongPassword):
                unwrap_key(wrapped, guess)

    # The positive control: the same copy and the same attacker, plus the session cookie.
    with_cookie = attack(copy, keys | {decode_cookie(used.cookie)})
    documents = [json.loads(p) for p in with_cookie.opened["submissions.sealed_metadata"]]
    assert REPORT in [d["answers"]["report"] for d in documents]
    assert NOTE.encode() in with_cookie.opened["case_notes.sealed_text"]
    assert REPLY.encode() in with_cookie.opened["replies.sealed_for_desk"]
    assert any(chunk.startswith(b"\xff\xd8") for chunk in with_cookie.streams.values())


def test_the_intake_key_alone_does_not_open_stored_submissions(used: Used, tmp_path: Path) -> None:
    """The intake key opens sources' envelopes in transit; what is stored is sealed to the desk."""
    copy = take_copy(used.instance, tmp_path)
    intake_keys = [
        BoxKeyPair.from_private(json_key(path, "private_key"))
        for path in (copy.directory / "keys" / "intake").glob("*.json")
    ]
    assert intake_keys
    with used.instance.sessions() as session:
        stored = list(session.scalars(select(Submission)))
    assert {s.reference for s in stored} == set(used.receipts)
    sealed = sealed_values(copy)
    targets = [
        *sealed["submissions.sealed_metadata"],
        *sealed["evidence.sealed_file_key"],
        *sealed["replies.sealed_for_desk"],
        *sealed["case_notes.sealed_text"],
    ]
    for pair in intake_keys:
        for value in targets:
            with pytest.raises(CryptoFailure):
                open_sealed(value, pair)
    assert attack(copy, {pair.private for pair in intake_keys}).opened == {}


def decode_b64_file(path: Path) -> bytes:
    return base64.b64decode(path.read_text(encoding="ascii").strip())


def json_key(path: Path, name: str) -> bytes:
    return base64.b64decode(json.loads(path.read_text(encoding="utf-8"))[name])


@pytest.mark.parametrize("form", ["cookie in a log file", "hex in a file"])
def test_the_search_finds_a_key_left_lying_in_the_copy(
    used: Used, tmp_path: Path, form: str
) -> None:
    """The gathering is not blind: a session key left anywhere in the directory is found."""
    key = decode_cookie(used.cookie)
    text = used.cookie if form == "cookie in a log file" else key.hex()
    (used.instance.settings.instance_dir / "debug.log").write_text(f"session={text}\n")
    copy = take_copy(used.instance, tmp_path)
    assert copy.rows["staff_sessions"]

    stolen = attack(copy, candidate_keys(copy))

    assert stolen.opened["submissions.sealed_metadata"]
    assert stolen.streams
