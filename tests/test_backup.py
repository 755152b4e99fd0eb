"""``filon backup`` and ``filon restore``: the round trip, and every refusal leaving nothing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from casework.registers.ipis import SAMPLE_CSV, import_file
from crypto.keys import BoxKeyPair, SigningKeyPair, b64encode, fingerprint, parse_recovery_key
from crypto.signing import sign_detached
from crypto.stream import StreamWriter, new_stream_key
from filon import backup
from filon.accounts import get_user, unlock_user_key
from filon.backup import (
    HEADER_AREA,
    MAGIC,
    SIGNED_BYTES,
    BackupError,
    BackupHeader,
    BackupSignatureInvalid,
    BackupTampered,
    BackupTooNew,
    BackupTruncated,
    NotABackup,
    TargetNotEmpty,
    WrongRecoveryKey,
    read_header,
    restore,
    write_backup,
)
from filon.db import make_engine
from filon.instance import Created, Instance
from filon.models import Submission
from filon.settings import Settings
from filon.submissions import open_submission, write_evidence
from intake.demo import SAMPLES, seed_submissions
from tests import postgres
from tests.command import filon
from tests.conftest import DATABASES, DeskSetup


@pytest.fixture
def populated(created: Created, desk: DeskSetup) -> tuple[Created, list[str]]:
    """The test instance with the sample submissions (one with a photo) and mine sites."""
    outcomes = seed_submissions(created.instance, desk.slug)
    import_file(created.instance.sessions, SAMPLE_CSV, dataset="demo-ipis")
    return created, [o.receipt for o in outcomes]


@pytest.fixture
def archive(populated: tuple[Created, list[str]], tmp_path: Path) -> Path:
    path = tmp_path / "filon.backup"
    write_backup(populated[0].instance, path)
    return path


@pytest.fixture
def recovery(created: Created) -> BoxKeyPair:
    return parse_recovery_key(created.recovery_key_text)


def read_everything(instance: Instance, receipt: str, desk: DeskSetup) -> tuple[dict, list[bytes]]:
    """The submission's sealed document and its decrypted files, through the reading code."""
    with instance.sessions() as session:
        member = get_user(session, desk.username)
        opened = open_submission(
            session,
            reference=receipt,
            user=member,
            user_key=unlock_user_key(member, desk.password),
        )
        files = []
        for evidence in opened.evidence:
            sink = io.BytesIO()
            write_evidence(instance.store, evidence, opened.desk_key, sink)
            files.append(sink.getvalue())
    return opened.document, files


@pytest.fixture
def other_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """A second, empty PostgreSQL database to restore into."""
    server = request.getfixturevalue("postgres_server")
    name = f"r_{uuid.uuid4().hex[:16]}"
    yield postgres.create_database(server, name)
    postgres.drop_database(server, name)


def restore_targets(db_url: str, request: pytest.FixtureRequest) -> list[str | None]:
    """Into the same kind of database, then across: SQLite→PostgreSQL, PostgreSQL→SQLite."""
    if "postgresql" not in DATABASES:
        return [None]
    postgresql = request.getfixturevalue("other_postgres")
    return [None, postgresql] if db_url.startswith("sqlite") else [postgresql, None]


def test_round_trip_restores_an_instance_that_opens_an_earlier_submission(
    populated: tuple[Created, list[str]],
    archive: Path,
    recovery: BoxKeyPair,
    desk: DeskSetup,
    db_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    created, receipts = populated
    original = [read_everything(created.instance, r, desk) for r in receipts]
    assert original[0][1], "the first sample carries a photo"
    for number, database_url in enumerate(restore_targets(db_url, request)):
        target = tmp_path / f"restored-{number}"
        done = restore(archive, target, recovery=recovery, database_url=database_url)
        assert not done.behind_code
        restored = Instance.open(Settings.load(target, environ={}))
        try:
            for receipt, (document, files) in zip(receipts, original, strict=True):
                assert read_everything(restored, receipt, desk) == (document, files)
            assert (
                restored.keyring.signing_key().public
                == created.instance.keyring.signing_key().public
            )
            assert set(restored.store.ids()) == set(created.instance.store.ids())
            # New rows get new ids after the restore (PostgreSQL's sequences were moved on).
            more = seed_submissions(restored, desk.slug)
            with restored.sessions() as session:
                count = len(session.scalars(select(Submission)).all())
            assert count == len(receipts) + len(more)
        finally:
            restored.close()
        assert [p.name for p in tmp_path.iterdir() if ".restoring-" in p.name] == []


def test_the_archive_holds_no_plaintext(
    populated: tuple[Created, list[str]], archive: Path
) -> None:
    data = archive.read_bytes()
    for sample in SAMPLES:
        for answer in sample.answers.values():
            assert answer.encode() not in data
    for secret_file in ("org-signing.json", "lookup.key"):
        key_text = (populated[0].instance.settings.keys_dir / secret_file).read_bytes()
        assert key_text not in data
    assert b"drc-minerals" not in data  # even the record's plaintext columns are sealed


def test_header_is_signed_and_describes_the_archive(
    populated: tuple[Created, list[str]], archive: Path
) -> None:
    instance = populated[0].instance
    header = read_header(
        archive, expected_signer=fingerprint(instance.keyring.signing_key().public)
    )
    fields = header.fields
    assert fields["format"] == "filon-backup/1"
    assert fields["archive_bytes"] == archive.stat().st_size
    assert fields["blobs"]["count"] == len(list(instance.store.ids()))
    assert fields["database"]["rows"] > 0
    assert fields["created_hour"].endswith(":00:00Z")
    payload = archive.read_bytes()[HEADER_AREA:]
    assert fields["payload"]["sha256"] == hashlib.sha256(payload).hexdigest()


def resign(path: Path, signing: SigningKeyPair, **changes: object) -> None:
    """Rewrite an archive's header with ``changes``, signed by ``signing``."""
    data = bytearray(path.read_bytes())
    (length,) = struct.unpack(">I", data[8:12])
    fields = json.loads(data[12 : 12 + length])
    fields.update(changes)
    body = BackupHeader(fields).render()
    signed = (MAGIC + struct.pack(">I", len(body)) + body).ljust(SIGNED_BYTES, b"\0")
    data[:HEADER_AREA] = signed + sign_detached(signed, signing)
    path.write_bytes(bytes(data))


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def assert_nothing_left(target: Path) -> None:
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if ".restoring-" in p.name] == []


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("payload byte", BackupTampered, "altered: its content does not match"),
        ("envelope byte", BackupTampered, "altered: its content does not match"),
        ("header byte", BackupSignatureInvalid, "signature does not hold"),
        ("truncated", BackupTruncated, "is truncated"),
        ("appended", BackupTampered, "bytes were appended"),
        ("re-signed", BackupSignatureInvalid, "re-signed: the key that signed its header"),
        ("wrong format", NotABackup, "is not a Filon backup"),
    ],
)
def test_a_damaged_archive_is_refused_and_leaves_nothing(
    archive: Path, recovery: BoxKeyPair, tmp_path: Path, damage: str, error: type, message: str
) -> None:
    size = archive.stat().st_size
    if damage == "payload byte":
        flip(archive, HEADER_AREA + (size - HEADER_AREA) // 2)
    elif damage == "envelope byte":
        flip(archive, HEADER_AREA + 5)
    elif damage == "header byte":
        flip(archive, 40)
    elif damage == "truncated":
        with open(archive, "r+b") as handle:
            handle.truncate(size - 1000)
    elif damage == "appended":
        with open(archive, "ab") as handle:
            handle.write(b"\0" * 10)
    elif damage == "re-signed":
        other = SigningKeyPair.generate()
        resign(archive, other, signing_key=b64encode(other.public))
    else:
        archive.write_bytes(b"PK\x03\x04 not a backup at all" * 100)
    target = tmp_path / "restored"
    with pytest.raises(error, match=message):
        restore(archive, target, recovery=recovery)
    assert_nothing_left(target)


def test_an_archive_signed_by_a_key_other_than_the_named_one_is_refused(
    archive: Path, recovery: BoxKeyPair, tmp_path: Path
) -> None:
    other = SigningKeyPair.generate()
    resign(archive, other, signing_key=b64encode(other.public))
    with pytest.raises(BackupSignatureInvalid, match="not by the signing key you named"):
        read_header(archive, expected_signer="ab" * 32)


def test_a_wrong_recovery_key_is_refused(archive: Path, tmp_path: Path) -> None:
    target = tmp_path / "restored"
    with pytest.raises(WrongRecoveryKey, match="wrong recovery key: this backup is sealed to"):
        restore(archive, target, recovery=BoxKeyPair.generate())
    assert_nothing_left(target)


def test_a_target_that_is_not_empty_is_left_as_it_was(
    archive: Path, recovery: BoxKeyPair, tmp_path: Path
) -> None:
    target = tmp_path / "restored"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(TargetNotEmpty, match="is not empty"):
        restore(archive, target, recovery=recovery)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    restore(archive, empty, recovery=recovery)  # an empty folder is a fine target
    assert (empty / "filon.toml").is_file()


def test_a_database_that_is_not_empty_is_refused(
    archive: Path, recovery: BoxKeyPair, db_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "restored"
    with pytest.raises(TargetNotEmpty, match="target database is not empty"):
        restore(archive, target, recovery=recovery, database_url=db_url)
    assert_nothing_left(target)


def test_damage_found_only_while_decrypting_leaves_no_table_behind(
    populated: tuple[Created, list[str]],
    archive: Path,
    recovery: BoxKeyPair,
    db_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """The second line of defence: a stream altered under a valid signature (as if the hash
    check were fooled) fails authentication after rows were loaded, and nothing stays."""
    flip(archive, archive.stat().st_size - 5)  # inside the final chunk: after the database
    payload = archive.read_bytes()[HEADER_AREA:]
    signing = populated[0].instance.keyring.signing_key()
    data = json.loads(
        archive.read_bytes()[12 : 12 + struct.unpack(">I", archive.read_bytes()[8:12])[0]]
    )
    resign(
        archive, signing, payload={**data["payload"], "sha256": hashlib.sha256(payload).hexdigest()}
    )
    for database_url in restore_targets(db_url, request):
        target = tmp_path / "restored"
        with pytest.raises(BackupTampered, match="encrypted stream is damaged"):
            restore(archive, target, recovery=recovery, database_url=database_url)
        assert_nothing_left(target)
        if database_url is not None:
            engine = make_engine(database_url)
            assert inspect(engine).get_table_names() == []
            engine.dispose()


def test_the_commands_back_up_restore_and_open_a_submission(
    populated: tuple[Created, list[str]], desk: DeskSetup, tmp_path: Path
) -> None:
    created, receipts = populated
    instance_dir = created.instance.settings.instance_dir
    out = tmp_path / "nightly.backup"
    made = filon("backup", "--instance", str(instance_dir), "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "signed by the key" in made.stdout
    again = filon("backup", "--instance", str(instance_dir), "--out", str(out))
    assert again.returncode == 1
    assert "already exists" in again.stderr
    nowhere = filon("backup", "--instance", str(instance_dir), "--out", str(tmp_path / "no/x"))
    assert nowhere.returncode == 1
    assert "cannot write" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr

    target = tmp_path / "restored"
    wrong = filon("restore", str(out), "--instance", str(target), stdin="FRK1-AAAA\n")
    assert wrong.returncode == 1
    assert "recovery key" in wrong.stderr
    signer = fingerprint(created.instance.keyring.signing_key().public)
    done = filon(
        "restore",
        str(out),
        "--instance",
        str(target),
        "--signing-key",
        signer,
        stdin=created.recovery_key_text + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert "restored into" in done.stdout
    opened = filon(
        "open",
        receipts[1],
        "--user",
        desk.username,
        "--instance",
        str(target),
        stdin=desk.password + "\n",
    )
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["answers"] == SAMPLES[1].answers

    refused = filon(
        "restore", str(out), "--instance", str(target), stdin=created.recovery_key_text + "\n"
    )
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr


def test_the_module_names_every_refusal() -> None:
    """Each failure is its own FilonError, so the command prints one clear line for it."""
    for name in (
        "NotABackup",
        "BackupTruncated",
        "BackupTampered",
        "BackupSignatureInvalid",
        "WrongRecoveryKey",
        "TargetNotEmpty",
        "BackupTooNew",
    ):
        assert issubclass(getattr(backup, name), backup.BackupError)


def test_an_archive_from_a_newer_filon_is_refused(
    populated: tuple[Created, list[str]], archive: Path, recovery: BoxKeyPair, tmp_path: Path
) -> None:
    resign(archive, populated[0].instance.keyring.signing_key(), schema_revision="0999")
    target = tmp_path / "restored"
    with pytest.raises(BackupTooNew, match="revision 0999, which this Filon does not know"):
        restore(archive, target, recovery=recovery)
    assert_nothing_left(target)


def test_the_archive_is_private_and_never_half_written(
    populated: tuple[Created, list[str]], archive: Path, tmp_path: Path
) -> None:
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_backup(populated[0].instance, archive)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_backup_and_restore_hold_constant_memory(
    created: Created, recovery: BoxKeyPair, tmp_path: Path
) -> None:
    """A 48 MiB blob goes through both directions with well under its size in memory."""
    instance = created.instance
    size = 48 * 1024 * 1024
    with instance.store.create() as pending, StreamWriter(pending.file, new_stream_key()) as w:
        for _ in range(size // (1024 * 1024)):
            w.write(os.urandom(1024 * 1024))
    out = tmp_path / "big.backup"
    tracemalloc.start()
    try:
        write_backup(instance, out)
        _, backup_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        restore(out, tmp_path / "restored", recovery=recovery)
        _, restore_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read_header(out).fields["blobs"]["bytes"] > size
    # Measured: about 7 MiB and 12 MiB, whatever the blob's size (a few 1 MiB chunks in flight).
    assert backup_peak < 20 * 1024 * 1024, backup_peak
    assert restore_peak < 20 * 1024 * 1024, restore_peak


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"database": {"dialect": "sqlite"}}, "field database.tables is missing"),
        ({"key_files": "5"}, "field key_files is missing or malformed"),
        ({"archive_bytes": True}, "field archive_bytes"),
        ({"payload": {"stream_bytes": 1, "sha256": "XYZ"}}, "payload.sha256 is not a SHA-256"),
        ({"format": "filon-backup/2"}, "unsupported backup format"),
    ],
)
def test_a_malformed_header_is_named_even_under_a_valid_signature(
    populated: tuple[Created, list[str]],
    archive: Path,
    recovery: BoxKeyPair,
    tmp_path: Path,
    changes: dict[str, object],
    message: str,
) -> None:
    resign(archive, populated[0].instance.keyring.signing_key(), **changes)
    target = tmp_path / "restored"
    with pytest.raises((BackupTampered, NotABackup), match=message):
        restore(archive, target, recovery=recovery)
    assert_nothing_left(target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://filon@db/filon", "must be a sqlite:// or postgresql:// URL"),
        ("postgresql+psycopg://filon@/x?host=/nonexistent&port=1", "cannot open the target"),
    ],
)
def test_a_target_database_that_cannot_be_used_is_named(
    archive: Path, recovery: BoxKeyPair, tmp_path: Path, url: str, message: str
) -> None:
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=message):
        restore(archive, target, recovery=recovery, database_url=url)
    assert_nothing_left(target)
