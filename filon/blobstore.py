"""The blob store: the one class that owns every path on disk under ``blobs/``.

It holds ciphertext only: every blob is a ``filon-stream/1`` stream, checked by its magic
before it becomes visible. It makes blob names itself (random, never from user input),
checks that every path it opens stays inside its root, and makes writes atomic: a blob is
written to a temporary name, fsynced, then renamed, so a crash never leaves a half-written
blob under a real name.

Crash safety across processes: each process writes in its own workspace ``tmp/<token>/``,
which it holds with an exclusive ``flock`` while it lives. Before a blob becomes visible
under its real name while its record is not yet committed (a cleaned copy written before
the submission's transaction, a source's stream adopted inside it), the process leaves an
*intent* naming it in its workspace, and settles (removes) the intent once the record is
committed or the blob removed again. A workspace whose lock can be taken belongs to a dead
process: :meth:`BlobStore.dead_workspaces` hands its intents to recovery
(``filon/recovery.py``), which keeps what the record names and undoes the rest, so several
processes sharing one blob volume never clean up each other's work in flight.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from crypto.stream import (
    MAGIC,
    PREFIX_SIZE,
    Readable,
    StreamReader,
    StreamSummary,
    encrypt_stream,
)
from filon.errors import BlobNotFound, InvalidBlobId, NotCiphertext

BLOB_ID = re.compile(r"\A[0-9a-f]{32}\Z")
COPY_CHUNK = 1024 * 1024
_TMP = "tmp"
_UPLOADS = "uploads"
_LOCK = ".lock"
WRITTEN = "written"  # intent: a new blob made visible before its record commits
ADOPTED = "adopted"  # intent: an incoming stream moved into place before its record commits
INCOMING = "incoming"  # intent: an incoming stream that no record names yet
INTENTS = (WRITTEN, ADOPTED, INCOMING)
INTENT = re.compile(r"\A([0-9a-f]{32})\.(written|adopted|incoming)\Z")


@dataclass
class PendingBlob:
    """A blob being written: write ciphertext to ``file``; it appears only on success."""

    blob_id: str
    file: BinaryIO


@dataclass
class DeadWorkspace:
    """The workspace of a process that died, with the intents it never settled."""

    path: Path
    intents: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in INTENTS})


class BlobStore:
    """Ciphertext-only file storage with generated names and atomic writes."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.root / _TMP).mkdir(mode=0o700, exist_ok=True)
        (self.root / _UPLOADS).mkdir(mode=0o700, exist_ok=True)
        self._workspace: Path | None = None
        self._lock_fd: int | None = None
        self._workspace_lock = threading.Lock()

    # -- this process's workspace ----------------------------------------------------------------

    @property
    def workspace(self) -> Path:
        """This process's folder for partial blobs and intents, made and locked on first use."""
        with self._workspace_lock:
            if self._workspace is not None and not self._workspace.is_dir():
                # Removed under us (an administrator emptied tmp/): start a new one.
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                self._workspace = self._lock_fd = None
            if self._workspace is None:
                # Made and locked under a hidden name, then renamed: another process never
                # sees a workspace whose lock is not yet taken (it would think it dead).
                token = secrets.token_hex(8)
                making = self.root / _TMP / f".{token}"
                making.mkdir(mode=0o700)
                fd = os.open(making / _LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path = making.replace(self.root / _TMP / token)
                self._lock_fd, self._workspace = fd, path
            return self._workspace

    def close(self) -> None:
        """Give up this process's workspace (it holds nothing once every intent is settled)."""
        with self._workspace_lock:
            if self._workspace is None or self._lock_fd is None:
                return
            if not any(INTENT.match(entry.name) for entry in self._workspace.iterdir()):
                shutil.rmtree(self._workspace, ignore_errors=True)
            os.close(self._lock_fd)  # releases the lock: recovery settles what is left
            self._workspace = self._lock_fd = None

    def intend(self, blob_id: str, kind: str) -> None:
        """Leave an intent on ``blob_id`` (one of :data:`INTENTS`) until :meth:`settle`."""
        path = self.workspace / f"{blob_id}.{kind}"
        path.touch(mode=0o600)
        _fsync_dir(path.parent)

    def settle(self, blob_ids: Iterable[str]) -> None:
        """Forget the intents on these blobs: their record is committed, or they are gone."""
        if self._workspace is None:
            return
        for blob_id in blob_ids:
            for kind in INTENTS:
                (self._workspace / f"{blob_id}.{kind}").unlink(missing_ok=True)

    def dead_workspaces(self) -> Iterator[DeadWorkspace]:
        """The workspaces of processes that died, each locked for the caller while it runs.

        The caller settles the intents against the record, then calls
        :meth:`remove_workspace`. A live process holds its lock, so it is never listed.
        """
        for path in sorted((self.root / _TMP).iterdir()):
            if path == self._workspace:
                continue
            if not path.is_dir():
                path.unlink(missing_ok=True)  # a partial blob from a version before workspaces
                continue
            try:
                fd = os.open(path / _LOCK, os.O_WRONLY)
            except FileNotFoundError:
                # Being made (hidden name, lock not yet taken), or its maker died before
                # locking it: then it holds nothing, and goes once it is a minute old.
                if path.name.startswith(".") and _older_than(path, 60):
                    shutil.rmtree(path, ignore_errors=True)
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # alive
                dead = DeadWorkspace(path)
                for entry in sorted(path.iterdir()):
                    if match := INTENT.match(entry.name):
                        dead.intents[match[2]].append(match[1])
                yield dead
            finally:
                os.close(fd)

    @staticmethod
    def remove_workspace(dead: DeadWorkspace) -> None:
        """Remove a dead process's workspace once its intents are settled."""
        shutil.rmtree(dead.path, ignore_errors=True)

    @staticmethod
    def new_id() -> str:
        """A fresh random blob id (128 bits, hex)."""
        return secrets.token_hex(16)

    def path(self, blob_id: str) -> Path:
        """The path of a blob, after checking the id's form and the path's containment."""
        if not isinstance(blob_id, str) or not BLOB_ID.match(blob_id):
            raise InvalidBlobId("not a blob id")
        path = (self.root / blob_id[:2] / blob_id).resolve()
        if not path.is_relative_to(self.root):  # defence in depth: the pattern already holds
            raise InvalidBlobId("blob path escapes the store")
        return path

    @contextmanager
    def create(self) -> Iterator[PendingBlob]:
        """Write a new blob; it becomes visible under its id only if the block succeeds.

        The blob carries an intent until :meth:`settle` (or :meth:`delete`): the caller
        settles it once the record that names the blob is committed.
        """
        blob_id = self.new_id()
        final = self.path(blob_id)
        temp = self.workspace / f"{blob_id}.part"
        handle = open(temp, "xb")  # noqa: SIM115 - closed in every branch below
        try:
            yield PendingBlob(blob_id, handle)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._check_magic(temp)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            self.intend(blob_id, WRITTEN)
            temp.replace(final)
            _fsync_dir(final.parent)
        except BaseException:
            try:
                handle.close()  # may fail again (a full disk cannot take the buffered rest)
            except OSError:
                pass
            finally:
                temp.unlink(missing_ok=True)
                self.settle([blob_id])
            raise

    @staticmethod
    def _check_magic(path: Path) -> None:
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise NotCiphertext("the blob store keeps filon-stream/1 ciphertext only")

    def write_encrypted(self, source: Readable, key: bytes) -> tuple[str, StreamSummary]:
        """Encrypt a plaintext source with ``key`` straight into a new blob."""
        with self.create() as pending:
            summary = encrypt_stream(source, pending.file, key)
        return pending.blob_id, summary

    def put_ciphertext(self, source: Readable) -> tuple[str, int]:
        """Copy an already-encrypted stream into a new blob; returns its id and size."""
        with self.create() as pending:
            size = 0
            while chunk := source.read(COPY_CHUNK):
                pending.file.write(chunk)
                size += len(chunk)
        return pending.blob_id, size

    def open(self, blob_id: str) -> BinaryIO:
        """Open a blob's ciphertext for reading."""
        try:
            return open(self.path(blob_id), "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {blob_id}") from exc

    def reader(
        self, blob_id: str, key: bytes, *, expected_size: int | None = None
    ) -> Iterator[bytes]:
        """Yield a blob's plaintext chunk by chunk, verifying the whole stream as it goes."""
        with self.open(blob_id) as handle:
            yield from StreamReader(handle, key, expected_size=expected_size)

    def size(self, blob_id: str) -> int:
        """Bytes stored for a blob."""
        try:
            return self.path(blob_id).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {blob_id}") from exc

    def exists(self, blob_id: str) -> bool:
        """Whether a blob is stored under this id."""
        return self.path(blob_id).is_file()

    def delete(self, blob_id: str) -> None:
        """Remove a blob (its sealed key is destroyed by the caller in the same step)."""
        path = self.path(blob_id)
        try:
            path.unlink()
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {blob_id}") from exc
        _fsync_dir(path.parent)
        self.settle([blob_id])

    # -- streams that arrive over time (uploads, the no-JavaScript form) -------------------------
    #
    # An incoming stream lives under uploads/<blob id> until its submission either adopts it
    # as a blob (renamed into place under the same id) or discards it. Its bytes are
    # ciphertext from the first one: chunks of the source's stream, or the output of a
    # StreamWriter.

    def incoming_path(self, blob_id: str) -> Path:
        """Where an incoming stream is kept until its submission."""
        if not isinstance(blob_id, str) or not BLOB_ID.match(blob_id):
            raise InvalidBlobId("not a blob id")
        return self.root / _UPLOADS / blob_id

    def create_incoming(self, header: bytes, size: int) -> str:
        """Start an upload: the stream's magic and header, then room for ``size`` bytes of chunks.

        Every chunk but the last has the same size, so each is written straight to its final
        offset whatever order it arrives in.
        """
        blob_id = self.new_id()
        self.intend(blob_id, INCOMING)  # settled once the upload's row is committed
        fd = os.open(self.incoming_path(blob_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, MAGIC + header)
            # Reserve the disk space now: a full disk is refused here, before the source has
            # sent anything, and chunks later only fill blocks that already exist.
            os.posix_fallocate(fd, 0, PREFIX_SIZE + size)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(self.root / _UPLOADS)
        return blob_id

    def write_incoming(self, blob_id: str, offset: int, data: bytes | memoryview) -> None:
        """Write ciphertext at ``offset`` of an incoming stream and make it durable."""
        fd = os.open(self.incoming_path(blob_id), os.O_WRONLY)
        try:
            os.pwrite(fd, data, offset)
            os.fsync(fd)  # a chunk is acknowledged only once it is on disk
        finally:
            os.close(fd)

    def open_incoming(self, blob_id: str) -> BinaryIO:
        """Read an incoming stream."""
        try:
            return open(self.incoming_path(blob_id), "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no incoming stream {blob_id}") from exc

    def adopt_incoming(self, blob_id: str) -> str:
        """Make a verified incoming stream a blob, under the same id; returns the id."""
        source = self.incoming_path(blob_id)
        self._check_magic(source)
        final = self.path(blob_id)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        self.intend(blob_id, ADOPTED)
        source.replace(final)
        _fsync_dir(final.parent)
        _fsync_dir(source.parent)
        return blob_id

    def return_incoming(self, blob_id: str) -> None:
        """Undo :meth:`adopt_incoming` when the record that adopted a stream failed."""
        final = self.path(blob_id)
        if final.exists():
            final.replace(self.incoming_path(blob_id))
            _fsync_dir(self.root / _UPLOADS)
        self.settle([blob_id])

    def discard_incoming(self, blob_id: str) -> None:
        """Remove an incoming stream that will not be kept."""
        self.incoming_path(blob_id).unlink(missing_ok=True)
        self.settle([blob_id])

    def incoming_ids(self) -> Iterator[str]:
        """The ids of every incoming stream."""
        for entry in sorted((self.root / _UPLOADS).iterdir()):
            if BLOB_ID.match(entry.name):
                yield entry.name

    def ids(self) -> Iterator[str]:
        """Every stored blob id (for audits and orphan checks)."""
        for shard in sorted(self.root.iterdir()):
            if shard.name in (_TMP, _UPLOADS) or not shard.is_dir():
                continue
            for entry in sorted(shard.iterdir()):
                if BLOB_ID.match(entry.name):
                    yield entry.name

    def check_writable(self) -> None:
        """Create, write and remove a one-byte file in the store: raises ``OSError``.

        No fsync: a read-only, full or missing volume fails at the open or the write, and a
        probe anyone can ask for often must not cost a disk flush.
        """
        path = self.workspace / f"probe-{self.new_id()}"  # never taken for a crash's leftover
        with open(path, "xb") as probe:
            try:
                probe.write(b"\0")
                probe.flush()
            finally:
                path.unlink()


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    """Make a rename or unlink durable: fsync the directory that holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
