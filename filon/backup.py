"""``filon-backup/1``: one signed archive of an instance, sealed to the recovery key.

The format is a contract written down in ``docs/backup.md``. In short::

    header area (4096 bytes): b"FILONBK1" | u32 header length | header JSON | zeros | signature
    envelope (112 bytes):     crypto_box_seal(file key ‖ signing public key, recovery key)
    payload stream:           filon-stream/1 (the file key) of a POSIX tar

The header is signed with the org signing key and holds the SHA-256 of everything after the
header area, so a restore checks the signature and the hash before it decrypts a byte. The
tar holds the settings file, the key files, the database as a portable table dump and every
blob. Both directions stream with constant memory: one stream chunk, one database part
(at most ``PART_BYTES``) and one tar record in flight, never an instance.

Why a table dump rather than a database file: the same dump loads into SQLite or PostgreSQL
(an NGO can move from the embedded database to a server by restoring), and no ``pg_dump``
of the right major version has to be installed next to Filon. The snapshot is consistent:
SQLite's online backup API copies the live database while it serves (the copy sits inside
the instance folder, next to the database it copies, for the few seconds the dump takes);
PostgreSQL dumps inside one read-only REPEATABLE READ transaction, as ``pg_dump`` does.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import stat
import struct
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError

from crypto.errors import CryptoFailure, SignatureInvalid, StreamError
from crypto.keys import BoxKeyPair, SigningKeyPair, b64decode, b64encode, fingerprint
from crypto.sealing import open_sealed, seal
from crypto.signing import sign_detached, verify_detached
from crypto.stream import StreamReader, StreamWriter, new_stream_key
from filon import schema
from filon.blobstore import BLOB_ID
from filon.db import current_hour, make_engine
from filon.errors import FilonError, KeyFilePermissions
from filon.instance import Instance
from filon.keyring import Keyring, check_permissions
from filon.settings import SETTINGS_FILE, Settings

FORMAT = "filon-backup/1"
MAGIC = b"FILONBK1"
HEADER_AREA = 4096
SIGNATURE_BYTES = 64
SIGNED_BYTES = HEADER_AREA - SIGNATURE_BYTES  # the signature covers every byte before it
MAX_HEADER_JSON = SIGNED_BYTES - len(MAGIC) - 4
ENVELOPE_BYTES = 32 + 32 + 48  # file key ‖ signing public key, sealed
PART_BYTES = 4 * 1024 * 1024  # database rows per tar member, at most (held in memory)
COPY_CHUNK = 1024 * 1024
INSERT_BATCH = 500

_DB_PART = re.compile(r"\Adatabase/(\d{6})-([a-z][a-z0-9_]{0,62})\.jsonl\Z")
_KEY_FILE = re.compile(r"\Akeys/(?:intake/)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_BLOB = re.compile(r"\Ablobs/(?:([0-9a-f]{2})|uploads)/([0-9a-f]{32})\Z")
SKIPPED_TABLES = frozenset({"alembic_version"})  # the header carries the revision


class BackupError(FilonError):
    """Base class of backup and restore failures."""


class NotABackup(BackupError):
    """The file is not a ``filon-backup/1`` archive."""


class BackupTruncated(BackupError):
    """The archive is shorter than its signed header says."""


class BackupTampered(BackupError):
    """A byte of the archive differs from what was signed, or its content breaks the format."""


class BackupSignatureInvalid(BackupError):
    """The header's signature does not hold, or it was made by another key than expected."""


class WrongRecoveryKey(BackupError):
    """The archive is sealed to another recovery key than the one given."""


class TargetNotEmpty(BackupError):
    """The restore target (folder or database) already holds something."""


class BackupTooNew(BackupError):
    """The archive's schema revision is unknown to this version of Filon."""


# -- the header ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupHeader:
    """The signed header of an archive (docs/backup.md lists every field)."""

    fields: dict[str, Any]

    @property
    def signing_key(self) -> bytes:
        """The org signing key's public part that signed the archive."""
        return b64decode(self.fields["signing_key"], length=32, what="signing_key")

    @property
    def archive_bytes(self) -> int:
        """The whole archive's size in bytes."""
        return int(self.fields["archive_bytes"])

    @property
    def schema_revision(self) -> str:
        """The database's Alembic revision when the archive was made."""
        return str(self.fields["schema_revision"])

    def render(self) -> bytes:
        """The header's canonical JSON bytes."""
        return _canonical(self.fields)


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _header_area(header: BackupHeader, signing: SigningKeyPair) -> bytes:
    body = header.render()
    if len(body) > MAX_HEADER_JSON:
        raise BackupError("the backup header is too large")  # never with this code's fields
    signed = (MAGIC + struct.pack(">I", len(body)) + body).ljust(SIGNED_BYTES, b"\0")
    return signed + sign_detached(signed, signing)


def read_header(path: Path, *, expected_signer: str | None = None) -> BackupHeader:
    """Read and check an archive's header: format, signature, signer, size."""
    with open(path, "rb") as handle:
        area = handle.read(HEADER_AREA)
        size = os.fstat(handle.fileno()).st_size
    if len(area) < len(MAGIC) or area[: len(MAGIC)] != MAGIC:
        raise NotABackup(f"{path} is not a Filon backup (it does not start with {MAGIC!r})")
    if len(area) < HEADER_AREA:
        raise BackupTruncated(f"{path} is truncated: it ends inside its header")
    (length,) = struct.unpack(">I", area[len(MAGIC) : len(MAGIC) + 4])
    if length > MAX_HEADER_JSON:
        raise BackupTampered("the backup header's length field is impossible: altered")
    body = area[len(MAGIC) + 4 : len(MAGIC) + 4 + length]
    header = _parse_header(body)
    signed, signature = area[:SIGNED_BYTES], area[SIGNED_BYTES:]
    try:
        verify_detached(signed, signature, header.signing_key)
    except SignatureInvalid as exc:
        raise BackupSignatureInvalid(
            "the backup's signature does not hold: its header was altered or re-signed"
        ) from exc
    _check_fields(header.fields)
    if signed[len(MAGIC) + 4 + length :].strip(b"\0"):
        raise BackupTampered("the backup header's padding is not zero")  # signed, so unreachable
    signer = fingerprint(header.signing_key)
    if expected_signer is not None and signer != expected_signer:
        raise BackupSignatureInvalid(
            f"the backup is signed by the key {signer}, not by the signing key you named "
            f"({expected_signer}): it was made or re-signed by someone else"
        )
    if size < header.archive_bytes:
        raise BackupTruncated(
            f"{path} is truncated: {size:,} bytes of the {header.archive_bytes:,} "
            "it was written with"
        )
    if size > header.archive_bytes:
        raise BackupTampered(
            f"{path} is {size:,} bytes, longer than the {header.archive_bytes:,} it was written "
            "with: bytes were appended"
        )
    return header


def _parse_header(body: bytes) -> BackupHeader:
    try:
        fields = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackupTampered("the backup header is not valid JSON: altered") from exc
    if not isinstance(fields, dict):
        raise BackupTampered("the backup header is not a JSON object: altered")
    header = BackupHeader(fields)
    try:
        _ = header.signing_key
    except (CryptoFailure, KeyError, TypeError) as exc:
        raise BackupTampered(f"the backup header's signing_key is malformed: {exc}") from exc
    return header


def _check_fields(fields: dict[str, Any]) -> None:
    """Every field a reader relies on is there with its type (checked once signed)."""
    if fields.get("format") != FORMAT:
        raise NotABackup(f"unsupported backup format {fields.get('format')!r}; this reads {FORMAT}")
    for dotted, kind in _HEADER_FIELDS:
        value: Any = fields
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise BackupTampered(f"the backup header's field {dotted} is missing or malformed")
    if not re.fullmatch(r"[0-9a-f]{64}", fields["payload"]["sha256"]):
        raise BackupTampered("the backup header's payload.sha256 is not a SHA-256")


# Every field a reader relies on, with its JSON type; docs/backup.md lists them.
_HEADER_FIELDS: tuple[tuple[str, type], ...] = (
    ("created_hour", str),
    ("schema_revision", str),
    ("database.dialect", str),
    ("database.tables", int),
    ("database.rows", int),
    ("blobs.count", int),
    ("blobs.bytes", int),
    ("key_files", int),
    ("payload.stream_bytes", int),
    ("payload.sha256", str),
    ("archive_bytes", int),
    ("signing_key", str),
    ("recovery_key_fingerprint", str),
)


# -- writing ------------------------------------------------------------------------------------


class _CountingHash:
    """A sink that hashes and counts what passes through to a file."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self._sink.write(data)
        return len(data)


@dataclass
class _Tally:
    tables: int = 0
    rows: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    key_files: int = 0


def write_backup(instance: Instance, out: Path) -> BackupHeader:
    """Write an archive of ``instance`` to ``out`` (a new file); returns its signed header."""
    settings = instance.settings
    signing = instance.keyring.signing_key()
    revision = schema.current_revision(instance.engine)
    if revision is None:
        raise BackupError("the database is empty: there is nothing to back up")
    partial = out.with_name(out.name + ".partial")
    # 0600 from the start, whatever the umask: the archive is sealed, but its name is ours.
    handle = os.fdopen(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), "r+b")
    try:
        handle.write(b"\0" * HEADER_AREA)  # the signed header goes here once sizes are known
        sink = _CountingHash(handle)
        file_key = new_stream_key()
        sink.write(seal(file_key + signing.public, settings.recovery_public_key))
        tally = _Tally()
        with (
            StreamWriter(sink, file_key) as writer,
            tarfile.open(fileobj=cast(Any, writer), mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            _write_archive(tar, instance, tally)
        assert writer.summary is not None  # noqa: S101 - close() sets it
        dialect = instance.engine.dialect.name
        header = BackupHeader(
            {
                "format": FORMAT,
                "created_hour": current_hour().strftime("%Y-%m-%dT%H:00:00Z"),
                "schema_revision": revision,
                "database": {
                    "dialect": dialect,
                    "snapshot": "sqlite-online-backup"
                    if dialect == "sqlite"
                    else "repeatable-read-transaction",
                    "tables": tally.tables,
                    "rows": tally.rows,
                },
                "blobs": {"count": tally.blobs, "bytes": tally.blob_bytes},
                "key_files": tally.key_files,
                "payload": {
                    "envelope_bytes": ENVELOPE_BYTES,
                    "stream_bytes": writer.summary.ciphertext_size,
                    "tar_bytes": writer.summary.plaintext_size,
                    "sha256": sink.sha.hexdigest(),
                },
                "archive_bytes": HEADER_AREA + sink.size,
                "signing_key": b64encode(signing.public),
                "recovery_key_fingerprint": fingerprint(settings.recovery_public_key),
            }
        )
        handle.seek(0)
        handle.write(_header_area(header, signing))
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        if out.exists():
            raise FileExistsError(f"{out} already exists")
        partial.replace(out)
    except BaseException:
        handle.close()
        partial.unlink(missing_ok=True)  # never leave half an archive that looks like one
        raise
    return header


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    _forget_members(tar)


def _forget_members(tar: tarfile.TarFile) -> None:
    """Drop the tar module's list of members seen: a stream needs none, and it would grow."""
    vars(tar)["members"].clear()


def _write_archive(tar: tarfile.TarFile, instance: Instance, tally: _Tally) -> None:
    settings = instance.settings
    _add_bytes(tar, SETTINGS_FILE, (settings.instance_dir / SETTINGS_FILE).read_bytes())
    for path in sorted(settings.keys_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            _add_bytes(tar, path.relative_to(settings.instance_dir).as_posix(), path.read_bytes())
            tally.key_files += 1
    # The database first, then the blobs: a blob written after the snapshot is an orphan
    # (harmless); every blob the snapshot names already exists.
    with _snapshot(instance) as connection:
        for name, data, rows, first in _dump_parts(connection):
            _add_bytes(tar, name, data)
            tally.rows += rows
            tally.tables += first
    for relative, path in _blob_files(settings.blobs_dir):
        try:
            blob = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            continue  # purged after the snapshot: the snapshot no longer names it either
        with blob:
            info = tar.gettarinfo(fileobj=blob, arcname=relative)
            info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
            tar.addfile(info, blob)
        _forget_members(tar)
        tally.blobs += 1
        tally.blob_bytes += info.size


def _blob_files(root: Path) -> Iterator[tuple[str, Path]]:
    for shard in sorted(root.iterdir()):
        if not shard.is_dir() or shard.name == "tmp":
            continue  # tmp/ holds only partial writes that a crash left
        for entry in sorted(shard.iterdir()):
            relative = f"blobs/{shard.name}/{entry.name}"
            if entry.is_file() and not entry.is_symlink() and _BLOB.match(relative):
                yield relative, entry


@contextmanager
def _snapshot(instance: Instance) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database while it keeps serving."""
    engine = instance.engine
    if engine.dialect.name != "sqlite":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as connection, connection.begin():
            yield connection
        return
    # The online backup API copies the live database page by page, consistent even while
    # the apps write. The copy sits in the instance folder (same owner, same 0700 folder as
    # the database it copies) and is removed as soon as the dump is read.
    copy = instance.settings.instance_dir / f".backup-snapshot-{secrets.token_hex(8)}.db"
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        raw = engine.raw_connection()
        try:
            target = sqlite3.connect(copy)
            try:
                raw.driver_connection.backup(target)  # type: ignore[union-attr]
            finally:
                target.close()
        finally:
            raw.close()
        copy_engine = create_engine(f"sqlite:///{copy}")
        try:
            with copy_engine.connect() as connection, connection.begin():
                yield connection
        finally:
            copy_engine.dispose()
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


def _dump_parts(connection: Connection) -> Iterator[tuple[str, bytes, int, int]]:
    """Tar members of the table dump: (name, bytes, rows, 1 if a table's first part)."""
    metadata = MetaData()
    metadata.reflect(connection)
    sequence = 0
    for table in metadata.sorted_tables:  # parents before children
        if table.name in SKIPPED_TABLES:
            continue
        columns = [c.name for c in table.columns]
        head = _canonical({"table": table.name, "columns": columns}) + b"\n"
        buffer, rows, first = bytearray(head), 0, 1
        order = list(table.primary_key.columns) or list(table.columns)
        result = connection.execution_options(yield_per=1000).execute(
            select(table).order_by(*order)
        )
        for row in result:
            buffer += _canonical([_encode(v) for v in row]) + b"\n"
            rows += 1
            if len(buffer) >= PART_BYTES:
                yield f"database/{sequence:06d}-{table.name}.jsonl", bytes(buffer), rows, first
                sequence += 1
                buffer, rows, first = bytearray(head), 0, 0
        yield f"database/{sequence:06d}-{table.name}.jsonl", bytes(buffer), rows, first
        sequence += 1


def _encode(value: object) -> object:
    """A database value as JSON; tagged objects keep the types JSON lacks."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"$f": repr(value)}  # also NaN and infinities, which JSON cannot spell
    if isinstance(value, bytes | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$n": str(value)}
    if isinstance(value, dict | list):
        return {"$j": value}  # a JSON column's value
    raise BackupError(f"cannot back up a database value of type {type(value).__name__}")


_DECODERS: dict[str, Callable[[Any], object]] = {
    "$f": float,
    "$b": lambda v: base64.b64decode(v, validate=True),
    "$t": dt.datetime.fromisoformat,
    "$d": dt.date.fromisoformat,
    "$n": decimal.Decimal,
    "$j": lambda v: v,
}


def _decode(value: object) -> object:
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in _DECODERS:
            raise BackupTampered("the table dump holds a value it cannot have")
        tag, inner = next(iter(value.items()))
        return _DECODERS[tag](inner)
    return value


# -- restoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    """What a restore put in place."""

    instance_dir: Path
    database_url: str
    header: BackupHeader
    behind_code: bool  # the schema is older than this Filon: run 'filon upgrade'


def check_target(target: Path) -> None:
    """Refuse a target folder that exists and holds anything."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise TargetNotEmpty(f"{target} is not empty: restore into a new or empty folder")


def check_schema_known(header: BackupHeader) -> None:
    """Refuse an archive made by a Filon with migrations this one does not have."""
    known = {
        s.revision for s in ScriptDirectory.from_config(schema.alembic_config()).walk_revisions()
    }
    if header.schema_revision not in known:
        raise BackupTooNew(
            f"the backup's database is at revision {header.schema_revision}, which this Filon "
            "does not know: restore it with the version that made it, or a newer one"
        )


def check_payload(path: Path, header: BackupHeader) -> None:
    """Hash everything after the header and compare with the signed SHA-256."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(HEADER_AREA)
        while chunk := handle.read(COPY_CHUNK):
            sha.update(chunk)
    if sha.hexdigest() != header.fields["payload"]["sha256"]:
        raise BackupTampered(
            "the backup was altered: its content does not match the SHA-256 in its signed header"
        )


def open_envelope(path: Path, header: BackupHeader, recovery: BoxKeyPair) -> bytes:
    """The archive's file key, opened with the recovery key; checks the sealed signer."""
    expected = header.fields.get("recovery_key_fingerprint")
    if fingerprint(recovery.public) != expected:
        raise WrongRecoveryKey(
            f"wrong recovery key: this backup is sealed to the recovery key {expected}, "
            f"and the key given is {fingerprint(recovery.public)}"
        )
    with open(path, "rb") as handle:
        handle.seek(HEADER_AREA)
        envelope = handle.read(ENVELOPE_BYTES)
    try:
        opened = open_sealed(envelope, recovery)
    except CryptoFailure as exc:
        raise BackupTampered("the backup's sealed file key does not open: altered") from exc
    file_key, signer = opened[:32], opened[32:]
    if signer != header.signing_key:
        # Only the instance that sealed the file key chose this signer: a header re-signed
        # by anyone else names a key the sealed envelope does not.
        raise BackupSignatureInvalid(
            "the backup was re-signed: the key that signed its header is not the key "
            "sealed inside it with the recovery key"
        )
    return file_key


class _HashingReader:
    """Reads a file from an offset, hashing what it hands out."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.sha = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self._handle.read(size)
        self.sha.update(data)
        return data


class _PlainReader:
    """A file-like view of a stream's plaintext chunks, for the tar module."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._chunk = memoryview(b"")
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else None
        while wanted is None or wanted > 0:
            if self._pos >= len(self._chunk):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._chunk, self._pos = memoryview(chunk), 0
                continue
            end = len(self._chunk) if wanted is None else min(len(self._chunk), self._pos + wanted)
            parts.append(bytes(self._chunk[self._pos : end]))
            if wanted is not None:
                wanted -= end - self._pos
            self._pos = end
        return b"".join(parts)


def restore(
    path: Path,
    target: Path,
    *,
    recovery: BoxKeyPair,
    database_url: str | None = None,
    expected_signer: str | None = None,
) -> Restored:
    """Check an archive whole, then restore it into ``target``; nothing is left on failure."""
    target = target.absolute()
    if database_url is not None and not database_url.startswith(("sqlite", "postgresql")):
        raise BackupError("the target database must be a sqlite:// or postgresql:// URL")
    check_target(target)
    header = read_header(path, expected_signer=expected_signer)
    check_schema_known(header)
    check_payload(path, header)
    file_key = open_envelope(path, header, recovery)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent.resolve() / f".{target.name}.restoring-{secrets.token_hex(6)}"
    work.mkdir(mode=0o700)
    url = database_url or f"sqlite:///{work / 'filon.db'}"
    engine = make_engine(url)
    try:
        _check_database_empty(engine)
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                _restore_into(path, header, file_key, work, connection)
                _check_signer_matches(work, header)
                transaction.commit()
            except BaseException:
                transaction.rollback()  # PostgreSQL: not one table or row stays behind
                raise
        engine.dispose()
        _write_settings(work, url if database_url else "sqlite:///filon.db")
        _check_key_modes(work)
        check_target(target)
        work.rename(target)
    except BaseException:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
        raise
    final_url = database_url or f"sqlite:///{target / 'filon.db'}"
    return Restored(target, final_url, header, header.schema_revision != schema.head_revision())


def _check_key_modes(work: Path) -> None:
    """The restored key folder must pass the check ``filon serve`` runs."""
    try:
        check_permissions(work / "keys")
    except KeyFilePermissions as exc:  # pragma: no cover - modes are set by this module
        raise BackupError(f"restored key files have the wrong modes: {exc}") from exc


def _check_database_empty(engine: Engine) -> None:
    try:
        tables = sa_inspect(engine).get_table_names()
    except SQLAlchemyError as exc:
        raise BackupError(
            f"cannot open the target database ({type(exc).__name__}): check --database-url"
        ) from exc
    if tables:
        raise TargetNotEmpty("the target database is not empty: restore into a new, empty database")


def _check_signer_matches(work: Path, header: BackupHeader) -> None:
    try:
        restored = Keyring(work / "keys").signing_key().public
    except FilonError as exc:
        raise BackupTampered(f"the backup holds no usable signing key: {exc}") from exc
    if restored != header.signing_key:
        raise BackupSignatureInvalid(
            "the backup is signed by another key than the instance's own signing key inside it"
        )


def _write_settings(work: Path, database_url: str) -> None:
    settings = Settings.load(work, environ={})
    settings = replace(settings, database_url=_absolute_sqlite(database_url, work))
    (work / SETTINGS_FILE).write_text(settings.to_toml(), encoding="utf-8")


def _absolute_sqlite(url: str, work: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return f"{prefix}{work / url[len(prefix) :]}"
    return url


def _restore_into(
    path: Path, header: BackupHeader, file_key: bytes, work: Path, connection: Connection
) -> None:
    config = schema.alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, header.schema_revision)
    metadata = MetaData()
    metadata.reflect(connection)
    expected = header.fields
    tally = _Tally()
    with open(path, "rb") as handle:
        handle.seek(HEADER_AREA)
        hashing = _HashingReader(handle)
        hashing.read(ENVELOPE_BYTES)  # opened before; hashed again with the rest
        stream_bytes = int(expected["payload"]["stream_bytes"])
        reader = StreamReader(hashing, file_key, expected_size=stream_bytes)
        plain = _PlainReader(iter(reader))
        try:
            _extract(plain, work, connection, metadata, tally)
            while rest := plain.read(COPY_CHUNK):  # the tar's zero padding, up to the end
                if rest.strip(b"\0"):
                    raise BackupTampered("the backup holds data after the end of its archive")
            _ = reader.summary  # raises unless the final chunk was read
        except StreamError as exc:
            raise BackupTampered(f"the backup's encrypted stream is damaged: {exc}") from exc
        except tarfile.TarError as exc:
            raise BackupTampered(f"the archive inside the backup is damaged: {exc}") from exc
    if hashing.sha.hexdigest() != expected["payload"]["sha256"]:
        raise BackupTampered("the backup changed while it was being restored")
    _check_counts(expected, tally)
    if connection.dialect.name == "postgresql":
        _reset_sequences(connection, metadata)


def _extract(
    plain: _PlainReader, work: Path, connection: Connection, metadata: MetaData, tally: _Tally
) -> None:
    seen: set[str] = set()
    tables: set[str] = set()
    with tarfile.open(fileobj=cast(Any, plain), mode="r|") as tar:
        while (member := tar.next()) is not None:
            _forget_members(tar)
            name = member.name
            if name in seen or not member.isreg():
                raise BackupTampered(f"the archive holds an unexpected entry {name!r}")
            seen.add(name)
            source = tar.extractfile(member)
            if source is None:  # pragma: no cover - regular files always have data
                raise BackupTampered(f"the archive entry {name!r} has no data")
            if name == SETTINGS_FILE:
                _write_file(work / SETTINGS_FILE, source, mode=0o600)
            elif _KEY_FILE.match(name):
                _write_key(work, name, source)
                tally.key_files += 1
            elif match := _BLOB.match(name):
                _write_blob(work, match, source)
                tally.blobs += 1
                tally.blob_bytes += member.size
            elif match := _DB_PART.match(name):
                tally.rows += _load_part(connection, metadata, match.group(2), source)
                if match.group(2) not in tables:
                    tables.add(match.group(2))
                    tally.tables += 1
            else:
                raise BackupTampered(f"the archive holds an unexpected entry {name!r}")
    if SETTINGS_FILE not in seen:
        raise BackupTampered(f"the archive holds no {SETTINGS_FILE}")


def _write_file(path: Path, source: IO[bytes], *, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(COPY_CHUNK):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _write_key(work: Path, name: str, source: IO[bytes]) -> None:
    path = work / name
    for folder in reversed(path.relative_to(work).parents[:-1]):
        (work / folder).mkdir(mode=0o700, exist_ok=True)
        (work / folder).chmod(stat.S_IRWXU)
    _write_file(path, source, mode=0o600)


def _write_blob(work: Path, match: re.Match[str], source: IO[bytes]) -> None:
    shard, blob_id = match.group(1), match.group(2)
    if shard is not None and not (BLOB_ID.match(blob_id) and blob_id[:2] == shard):
        raise BackupTampered(f"the blob {blob_id} is in the wrong folder")
    folder = work / "blobs" / (shard or "uploads")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for extra in ("tmp", "uploads"):
        (work / "blobs" / extra).mkdir(mode=0o700, exist_ok=True)
    _write_file(folder / blob_id, source, mode=0o600)


def _load_part(connection: Connection, metadata: MetaData, name: str, source: IO[bytes]) -> int:
    table: Table | None = metadata.tables.get(name)
    if table is None or name in SKIPPED_TABLES:
        raise BackupTampered(f"the table dump names a table {name!r} the schema does not have")
    lines = _lines(source)
    try:
        head = json.loads(next(lines, b"null"))
        columns = head["columns"]
        if head["table"] != name or not set(columns) <= set(table.columns.keys()):
            raise BackupTampered(f"the dump of {name} has columns the schema does not have")
        rows, batch = 0, []
        for line in lines:
            values = json.loads(line)
            if not isinstance(values, list) or len(values) != len(columns):
                raise BackupTampered(f"a row of {name} has the wrong number of values")
            batch.append(dict(zip(columns, (_decode(v) for v in values), strict=True)))
            if len(batch) >= INSERT_BATCH:
                connection.execute(table.insert(), batch)
                rows, batch = rows + len(batch), []
        if batch:
            connection.execute(table.insert(), batch)
            rows += len(batch)
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupTampered(f"the dump of {name} is malformed: {exc}") from exc
    return rows


def _lines(source: IO[bytes]) -> Iterator[bytes]:
    """The lines of a tar member read as a stream (the tar module's members cannot seek)."""
    rest = b""
    while chunk := source.read(COPY_CHUNK):
        *complete, rest = (rest + chunk).split(b"\n")
        yield from complete
    if rest:
        yield rest


def _check_counts(expected: dict[str, Any], tally: _Tally) -> None:
    found = {
        "tables": (expected["database"]["tables"], tally.tables),
        "rows": (expected["database"]["rows"], tally.rows),
        "blobs": (expected["blobs"]["count"], tally.blobs),
        "blob bytes": (expected["blobs"]["bytes"], tally.blob_bytes),
        "key files": (expected["key_files"], tally.key_files),
    }
    for what, (want, got) in found.items():
        if want != got:
            raise BackupTampered(f"the backup restored {got} {what} but its header says {want}")


def _reset_sequences(connection: Connection, metadata: MetaData) -> None:
    """Move each PostgreSQL id sequence past the restored rows, so new rows get new ids."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence is None:
                continue
            highest = connection.execute(select(func.max(column))).scalar()
            connection.execute(
                text("SELECT setval(:s, :v, :called)"),
                {"s": sequence, "v": highest or 1, "called": highest is not None},
            )


def describe(header: BackupHeader) -> str:
    """A few lines about an archive for people: when, what, and who signed it."""
    fields = header.fields
    return (
        f"{FORMAT} made {fields['created_hour']} at schema revision {header.schema_revision}: "
        f"{fields['database']['tables']} tables, {fields['database']['rows']} rows, "
        f"{fields['blobs']['count']} blobs ({fields['blobs']['bytes']:,} bytes), "
        f"{fields['key_files']} key files; {header.archive_bytes:,} bytes in all\n"
        f"signed by the key {fingerprint(header.signing_key)}"
    )
