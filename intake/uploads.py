"""Chunked uploads (intake protocol steps 2 and 3): any order, idempotent, resumable.

The server holds each upload as a ``filon-stream/1`` file whose magic and header are written
at creation; every chunk is written straight to its final offset and fsynced before it is
acknowledged, so an acknowledged chunk survives a crash. The server cannot open the chunks:
the file key arrives only inside the sealed envelope of the submission.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.stream import ABYTES, CIPHER_CHUNK_SIZE, HEADER_BYTES, chunk_offset, stream_size
from filon.blobstore import BlobStore
from filon.db import current_hour, dialect_insert
from filon.models import Upload, UploadChunk
from intake.errors import ChunkRejected, MalformedRequest, TooLarge, UploadNotFound, UploadUsed


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
    session.add(upload)
    session.flush()
    return upload


def find_upload(session: Session, public_id: str) -> Upload:
    """An upload by its protocol id."""
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


def put_chunk(
    session: Session, store: BlobStore, *, upload: Upload, index: int, data: bytes
) -> int:
    """Store chunk ``index`` at its place (idempotent); returns the count of chunks held."""
    if upload.used:
        raise UploadUsed("this upload already belongs to a submission")
    shape = layout(upload.ciphertext_size)
    if shape is None or not 0 <= index < shape.chunk_count:
        raise ChunkRejected(f"chunk index must be between 0 and {upload.chunk_count - 1}")
    expected = shape.chunk_size(index)
    if len(data) != expected:
        raise ChunkRejected(f"chunk {index} must be {expected} bytes, not {len(data)}")
    store.write_incoming(upload.blob_id, chunk_offset(index), data)
    # The chunk is on disk; now record it. The same chunk arriving twice (a retry after a
    # lost answer, or two at once) is held either way: a duplicate row is moot.
    session.execute(
        dialect_insert(session)(UploadChunk)
        .values(upload_id=upload.id, index=index)
        .on_conflict_do_nothing()
    )
    return received(session, upload)


def missing_chunks(session: Session, upload: Upload) -> list[int]:
    """Indices not yet received."""
    held = set(session.scalars(select(UploadChunk.index).where(UploadChunk.upload_id == upload.id)))
    return [i for i in range(upload.chunk_count) if i not in held]
