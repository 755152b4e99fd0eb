"""Chunked uploads (intake protocol steps 2 and 3): any order, idempotent, resumable.

The server holds each upload as a ``filon-stream/1`` file whose magic and header are written
at creation; every chunk is written straight to its final offset and fsynced before it is
acknowledged, so an acknowledged chunk survives a crash. The server cannot open the chunks:
the file key arrives only inside the sealed envelope of the submission.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crypto.stream import ABYTES, CIPHER_CHUNK_SIZE, HEADER_BYTES, chunk_offset, stream_size
from filon.blobstore import BlobStore
from filon.db import current_hour, dialect_insert, transaction
from filon.models import Upload, UploadChunk
from intake.errors import (
    ChunkRejected,
    MalformedRequest,
    TooLarge,
    TryLater,
    UploadNotFound,
    UploadUsed,
)


@dataclass(frozen=True)
class Layout:
    """How a stream of ``size`` ciphertext bytes (chunks only) is cut into chunks."""

    size: int
    chunk_count: int
    last_chunk_size: int

    def chunk_size(self, index: int) -> int:
        """The exact size chunk ``index`` must have."""
        return self.last_chunk_size if index == self.chunk_count - 1 else CIPHER_CHUNK_SIZE


def layout(size: int) -> Layout | None:
    """The chunk layout of a ciphertext size, or ``None`` if no valid stream has that size."""
    full, last = divmod(size, CIPHER_CHUNK_SIZE)
    # The final chunk holds less than a full chunk of plaintext, possibly none: 17 bytes or more.
    if last < ABYTES:
        return None
    return Layout(size=size, chunk_count=full + 1, last_chunk_size=last)


def create_upload(
    session: Session,
    store: BlobStore,
    *,
    key_id: str,
    header: bytes,
    size: int,
    max_file_bytes: int,
) -> Upload:
    """Open an upload for a stream of ``size`` ciphertext bytes (without magic and header)."""
    if len(header) != HEADER_BYTES:
        raise MalformedRequest(f"header must be {HEADER_BYTES} bytes")
    if size > stream_size(max_file_bytes) - (4 + HEADER_BYTES):
        raise TooLarge(f"files may be at most {max_file_bytes} bytes")
    shape = layout(size)
    if shape is None:
        raise MalformedRequest("size is not the ciphertext size of any filon-stream/1 file")
    upload = Upload(
        public_id=secrets.token_urlsafe(24),
        blob_id=store.create_incoming(header, size),
        key_id=key_id,
        header=header,
        ciphertext_size=size,
        chunk_count=shape.chunk_count,
        created_hour=current_hour(),
        used=False,
    )
    try:
        session.add(upload)
        session.flush()
    except BaseException:
        store.discard_incoming(upload.blob_id)
        raise
    return upload


# The ids this server issues (``secrets.token_urlsafe(24)``); anything else is no upload, and
# is refused before it reaches the database (PostgreSQL text cannot even hold a NUL).
UPLOAD_ID = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")


def find_upload(session: Session, public_id: str) -> Upload:
    """An upload by its protocol id."""
    if not UPLOAD_ID.match(public_id):
        raise UploadNotFound("no upload has this id")
    upload = session.scalars(select(Upload).where(Upload.public_id == public_id)).first()
    if upload is None:
        raise UploadNotFound("no upload has this id")
    return upload


def received(session: Session, upload: Upload) -> int:
    """How many distinct chunks of an upload are held."""
    count = session.scalar(
        select(func.count()).select_from(UploadChunk).where(UploadChunk.upload_id == upload.id)
    )
    return int(count or 0)


def write_chunk(store: BlobStore, *, upload: Upload, index: int, data: bytes | memoryview) -> None:
    """Check chunk ``index`` and write it durably at its place; no database work."""
    if upload.used:
        raise UploadUsed("this upload already belongs to a submission")
    shape = layout(upload.ciphertext_size)
    if shape is None or not 0 <= index < shape.chunk_count:
        raise ChunkRejected(f"chunk index must be between 0 and {upload.chunk_count - 1}")
    expected = shape.chunk_size(index)
    if len(data) != expected:
        raise ChunkRejected(f"chunk {index} must be {expected} bytes, not {len(data)}")
    store.write_incoming(upload.blob_id, chunk_offset(index), data)


class ChunkLedger:
    """Records stored chunks in the database, one commit for all that arrive meanwhile.

    A commit makes the record durable, and SQLite (like PostgreSQL without group commit)
    pays for that with a flush of its log: one commit per chunk capped a four-connection
    upload at the database's commit rate. Here the first request to arrive commits every
    chunk that is waiting; those that arrive while it works wait for the next commit. Each
    request returns only once its own chunk is committed, so an acknowledged chunk is both on
    disk and recorded. A failed commit fails every request in it (none was acknowledged).
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._pending: list[_Entry] = []
        self._committing = False

    def record(self, upload: Upload, index: int) -> int:
        """Record chunk ``index`` of ``upload``; returns the count of chunks it holds."""
        entry = _Entry(upload.id, index)
        with self._lock:
            self._pending.append(entry)
            lead = not self._committing
            self._committing = True
        if not lead:
            entry.done.wait()
            return entry.result()
        batch: list[_Entry] = []
        try:
            while True:
                with self._lock:
                    batch, self._pending = self._pending, []
                    if not batch:
                        self._committing = False
                        break
                self._commit(batch)
        finally:
            with self._lock:  # leaving abnormally: no request may wait for a commit forever
                if self._committing:
                    self._committing = False
                    batch += self._pending
                    self._pending = []
                    for waiting in batch:
                        if not waiting.done.is_set():
                            waiting.error = TryLater("the server was interrupted; send again")
                            waiting.done.set()
        return entry.result()

    def _commit(self, batch: list[_Entry]) -> None:
        try:
            with transaction(self._sessions) as session:
                session.execute(
                    dialect_insert(session)(UploadChunk)
                    .values([{"upload_id": e.upload_id, "index": e.index} for e in batch])
                    .on_conflict_do_nothing()
                )
                held = session.execute(
                    select(UploadChunk.upload_id, func.count())
                    .where(UploadChunk.upload_id.in_({e.upload_id for e in batch}))
                    .group_by(UploadChunk.upload_id)
                )
                counts: dict[int, int] = dict(held.all())
        except Exception as exc:  # every request of the batch learns why
            for entry in batch:
                entry.error = exc
                entry.done.set()
            return
        for entry in batch:
            entry.count = counts.get(entry.upload_id, 0)
            entry.done.set()


@dataclass
class _Entry:
    upload_id: int
    index: int
    done: threading.Event = field(default_factory=threading.Event)
    count: int = 0
    error: BaseException | None = None

    def result(self) -> int:
        if self.error is not None:
            raise self.error
        return self.count


def missing_chunks(session: Session, upload: Upload) -> list[int]:
    """Indices not yet received."""
    held = set(session.scalars(select(UploadChunk.index).where(UploadChunk.upload_id == upload.id)))
    return [i for i in range(upload.chunk_count) if i not in held]
