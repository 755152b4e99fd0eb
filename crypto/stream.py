"""The ``filon-stream/1`` file format (DESIGN.md §4, a contract).

A file is encrypted with libsodium's ``crypto_secretstream_xchacha20poly1305``. Its plaintext
is cut into chunks of exactly 1 MiB; the last chunk is shorter (possibly empty) and tagged
``TAG_FINAL``, every other one ``TAG_MESSAGE``. On disk::

    b"FLN1" | header (24 bytes) | chunk 0 | chunk 1 | … | final chunk

with every ciphertext chunk 17 bytes longer than its plaintext. Because every chunk but the
last has the same size, chunk ``i`` always starts at byte ``4 + 24 + i × 1,048,593``.

Reading and writing stream from any readable source to any writable sink with constant
memory: one chunk in flight, never the whole file. A stream that breaks any rule raises a
:class:`~crypto.errors.StreamError` subclass naming the rule, and must be rejected whole.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import nacl.exceptions
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_ABYTES as ABYTES,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_HEADERBYTES as HEADER_BYTES,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_keygen,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_KEYBYTES as KEY_BYTES,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_TAG_FINAL as TAG_FINAL,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE as TAG_MESSAGE,
)

from crypto.errors import (
    BadHeader,
    BadMagic,
    ChunkAuthenticationFailed,
    ChunkDuplicated,
    ChunkOutOfOrder,
    ChunkSizeError,
    KeyFormatError,
    MissingFinalTag,
    StreamTruncated,
    TrailingData,
    UnexpectedTag,
)

MAGIC = b"FLN1"
CHUNK_SIZE = 1024 * 1024  # plaintext bytes in every chunk but the last
CIPHER_CHUNK_SIZE = CHUNK_SIZE + ABYTES  # 1,048,593
PREFIX_SIZE = len(MAGIC) + HEADER_BYTES  # 28
MAC_BYTES = 16  # the Poly1305 tag that ends every ciphertext chunk

__all__ = [
    "ABYTES",
    "CHUNK_SIZE",
    "CIPHER_CHUNK_SIZE",
    "HEADER_BYTES",
    "KEY_BYTES",
    "MAGIC",
    "PREFIX_SIZE",
    "StreamDecryptor",
    "StreamEncryptor",
    "StreamReader",
    "StreamSummary",
    "StreamWriter",
    "chunk_offset",
    "decrypt_stream",
    "encrypt_stream",
    "new_stream_key",
    "stream_size",
]


class Readable(Protocol):
    """Anything with ``read(n)``: a file, a socket file, a request body stream."""

    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """Anything with ``write(b)``: a file, a socket, a response generator's buffer."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class StreamSummary:
    """What a full pass over a stream established."""

    plaintext_size: int
    ciphertext_size: int  # bytes of the whole stream as stored: magic, header and chunks
    plaintext_sha256: str
    chunks: int


def new_stream_key() -> bytes:
    """Return a fresh random 32-byte file key."""
    return crypto_secretstream_xchacha20poly1305_keygen()


def stream_size(plaintext_size: int) -> int:
    """Bytes on disk of the ``filon-stream/1`` stream of a plaintext of that size."""
    full_chunks, rest = divmod(plaintext_size, CHUNK_SIZE)
    return PREFIX_SIZE + full_chunks * CIPHER_CHUNK_SIZE + rest + ABYTES


def chunk_offset(index: int) -> int:
    """Byte offset of ciphertext chunk ``index`` in a stream on disk."""
    return PREFIX_SIZE + index * CIPHER_CHUNK_SIZE


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise KeyFormatError(f"a stream key must be {KEY_BYTES} bytes")


class StreamEncryptor:
    """Chunk-level encryption: one ``encrypt_chunk`` call per 1 MiB of plaintext.

    The intake protocol sends the header and each chunk separately; file-level code uses
    :class:`StreamWriter` instead.
    """

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._state = crypto_secretstream_xchacha20poly1305_state()
        self.header = crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        self.finished = False

    def encrypt_chunk(self, plaintext: bytes, *, final: bool) -> bytes:
        """Encrypt the next chunk: exactly ``CHUNK_SIZE`` bytes, or fewer if ``final``."""
        if self.finished:
            raise ValueError("the stream is already finished")
        if final and len(plaintext) >= CHUNK_SIZE:
            raise ValueError("the final chunk must be shorter than CHUNK_SIZE")
        if not final and len(plaintext) != CHUNK_SIZE:
            raise ValueError("every chunk but the last must be exactly CHUNK_SIZE")
        self.finished = final
        tag = TAG_FINAL if final else TAG_MESSAGE
        return crypto_secretstream_xchacha20poly1305_push(self._state, plaintext, None, tag)


class StreamDecryptor:
    """Chunk-level decryption with the format's rules; :class:`StreamReader` drives it."""

    def __init__(self, key: bytes, header: bytes) -> None:
        _check_key(key)
        if len(header) != HEADER_BYTES:
            raise BadHeader(f"the stream header must be {HEADER_BYTES} bytes, not {len(header)}")
        self._state = crypto_secretstream_xchacha20poly1305_state()
        crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        self.index = 0
        self.finished = False

    def try_decrypt(self, ciphertext: bytes) -> tuple[bytes, int] | None:
        """Decrypt the next chunk, or return ``None`` if it fails authentication.

        libsodium leaves the state untouched when authentication fails, so a failed chunk
        can be followed by another attempt at the same position (used to tell reordering
        from tampering).
        """
        try:
            plaintext, tag = crypto_secretstream_xchacha20poly1305_pull(
                self._state, ciphertext, None
            )
        except nacl.exceptions.CryptoError:
            return None
        self.index += 1
        return plaintext, tag

    def check_chunk(self, plaintext: bytes, tag: int, index: int) -> bool:
        """Apply the size and tag rules to a decrypted chunk; return whether it is final."""
        if tag == TAG_FINAL:
            if len(plaintext) >= CHUNK_SIZE:
                raise ChunkSizeError(f"chunk {index} is tagged final but is a full chunk")
            self.finished = True
            return True
        if tag != TAG_MESSAGE:
            raise UnexpectedTag(f"chunk {index} carries tag {tag}, not MESSAGE or FINAL")
        if len(plaintext) != CHUNK_SIZE:
            raise ChunkSizeError(
                f"chunk {index} holds {len(plaintext)} bytes but is not final: "
                f"every chunk but the last holds exactly {CHUNK_SIZE}"
            )
        return False


class _Sha256Beside:
    """SHA-256 computed on a second thread while the caller decrypts the next chunk.

    Both libsodium (through cffi) and hashlib release the GIL on large buffers, so on two
    cores hashing chunk ``i`` overlaps decrypting chunk ``i + 1``. At most two chunks wait.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None

    def update(self, data: bytes) -> None:
        """Hash ``data`` after everything given before it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        self._queue.put(data)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._sha.update(data)

    def hexdigest(self) -> str:
        """The digest of everything given (waits for the thread)."""
        self.close()
        return self._sha.hexdigest()

    def close(self) -> None:
        """Stop the thread (idempotent), e.g. when the stream is abandoned."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def _read_exact(source: Readable, size: int) -> bytes:
    """Read ``size`` bytes, or fewer only at the end of the source."""
    first = source.read(size)
    if len(first) == size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class StreamReader:
    """Decrypt a ``filon-stream/1`` stream chunk by chunk, enforcing every rule of the format.

    Iterate to get plaintext chunks; only once iteration ends without an exception is the
    whole stream authentic and complete. Callers should pass ``expected_size`` (the stream's
    bytes as stored; the protocol and the record always know it): with it, a cut anywhere is
    :class:`StreamTruncated` and appended bytes are :class:`TrailingData`. Without it the
    stream is still rejected in both cases, but a cut inside the final chunk or bytes after
    it surface as :class:`ChunkAuthenticationFailed`, since the final chunk's end is known
    only from the size.
    """

    def __init__(self, source: Readable, key: bytes, *, expected_size: int | None = None) -> None:
        _check_key(key)
        self._source = source
        self._key = key
        self._expected = expected_size
        self._consumed = 0
        self._sha = _Sha256Beside()
        self._plain_size = 0
        self._summary: StreamSummary | None = None

    @property
    def summary(self) -> StreamSummary:
        """Sizes and SHA-256 of the plaintext, once the stream has been read to its end."""
        if self._summary is None:
            raise RuntimeError("the stream has not been read to its end")
        return self._summary

    def _read(self, size: int) -> bytes:
        data = _read_exact(self._source, size)
        self._consumed += len(data)
        return data

    def _short_of_expected(self) -> bool:
        return self._expected is not None and self._consumed < self._expected

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks()
        finally:
            self._sha.close()

    def _chunks(self) -> Iterator[bytes]:
        magic = self._read(len(MAGIC))
        if magic != MAGIC:
            raise BadMagic("not a filon-stream/1 stream: it does not start with FLN1")
        header = self._read(HEADER_BYTES)
        if len(header) != HEADER_BYTES:
            raise BadHeader(f"the stream header is {len(header)} bytes, not {HEADER_BYTES}")
        decryptor = StreamDecryptor(self._key, header)
        # The 16-byte Poly1305 tag ends each chunk and is unique to it; remembering the tags
        seen_tags: set[bytes] = set()
        while True:
            index = decryptor.index
            ciphertext = self._read(CIPHER_CHUNK_SIZE)
            if self._expected is not None and self._consumed > self._expected:
                raise TrailingData(f"the stream is longer than its {self._expected} bytes")
            if not ciphertext:
                if self._short_of_expected():
                    raise StreamTruncated(f"the stream ends before chunk {index}")
                raise MissingFinalTag(f"the stream ends after {index} chunks without a final one")
            if len(ciphertext) < ABYTES or (
                len(ciphertext) < CIPHER_CHUNK_SIZE and self._short_of_expected()
            ):
                raise StreamTruncated(f"the stream ends inside chunk {index}")
            result = decryptor.try_decrypt(ciphertext)
            if result is None:
                self._diagnose_failure(decryptor, ciphertext, seen_tags, index)
            plaintext, tag = result  # type: ignore[misc]  # _diagnose_failure always raises
            seen_tags.add(ciphertext[-MAC_BYTES:])
            final = decryptor.check_chunk(plaintext, tag, index)
            self._sha.update(plaintext)
            self._plain_size += len(plaintext)
            yield plaintext
            if final:
                break
        # The final chunk is short, so reading it hit the end of the source: bytes appended
        # after it were read with it and failed authentication, or (given expected_size)
        # were refused above as TrailingData. Nothing can follow.
        self._summary = StreamSummary(
            plaintext_size=self._plain_size,
            ciphertext_size=self._consumed,
            plaintext_sha256=self._sha.hexdigest(),
            chunks=decryptor.index,
        )

    def _diagnose_failure(
        self, decryptor: StreamDecryptor, ciphertext: bytes, seen: set[bytes], index: int
    ) -> None:
        """Name why chunk ``index`` failed: replayed, out of order, or altered. Always raises."""
        if ciphertext[-MAC_BYTES:] in seen:
            raise ChunkDuplicated(f"chunk {index} repeats a chunk already read")
        if len(ciphertext) == CIPHER_CHUNK_SIZE:
            # Look one chunk ahead: if the next one opens at this position, the two were swapped.
            following = _read_exact(self._source, CIPHER_CHUNK_SIZE)
            if len(following) >= ABYTES and decryptor.try_decrypt(following) is not None:
                raise ChunkOutOfOrder(f"chunk {index} is out of order: the next chunk belongs here")
        raise ChunkAuthenticationFailed(
            f"chunk {index} failed authentication: it was altered, or a chunk before it is missing"
        )


def decrypt_stream(
    source: Readable, sink: Writable, key: bytes, *, expected_size: int | None = None
) -> StreamSummary:
    """Decrypt a whole stream into ``sink``; the sink must be discarded if this raises."""
    reader = StreamReader(source, key, expected_size=expected_size)
    for plaintext in reader:
        sink.write(plaintext)
    return reader.summary


class StreamWriter:
    """A writable file object that encrypts into a ``filon-stream/1`` stream on ``sink``.

    Buffers at most one chunk. ``close()`` writes the final chunk. Leaving a ``with`` block
    through an exception calls :meth:`abort` instead, which never writes ``TAG_FINAL``: every
    reader rejects such a stream, so an interrupted write can never pass as a complete file.
    """

    def __init__(self, sink: Writable, key: bytes, *, background: bool = False) -> None:
        self._sink = sink
        self._encryptor = StreamEncryptor(key)
        self._buffer = bytearray()
        self._sha = _Sha256Beside()
        self._plain_size = 0
        self._cipher_size = PREFIX_SIZE
        self._chunks = 0
        self.closed = False
        self.summary: StreamSummary | None = None
        sink.write(MAGIC + self._encryptor.header)
        # With ``background``, chunks are encrypted and written on a second thread while the
        # caller produces the next ones (a request body being parsed, say): libsodium and
        # file writes release the GIL, so on two cores the two overlap.
        self._background = _InOrder(self._seal) if background else None

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Take plaintext; encrypt and pass on every complete chunk."""
        if self.closed:
            raise ValueError("write to a closed StreamWriter")
        view = memoryview(data).cast("B")
        self._plain_size += len(view)
        if not self._buffer and len(view) == CHUNK_SIZE and isinstance(data, bytes):
            self._emit(data, final=False)  # a whole chunk as it came: no copy needed
            return CHUNK_SIZE
        self._buffer += view
        while len(self._buffer) >= CHUNK_SIZE:
            self._emit(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]
        return len(view)

    def _emit(self, plaintext: bytes, *, final: bool) -> None:
        self._cipher_size += len(plaintext) + ABYTES
        self._chunks += 1
        if self._background is not None:
            self._background.put((plaintext, final))
        else:
            self._seal((plaintext, final))

    def _seal(self, item: tuple[bytes, bool]) -> None:
        plaintext, final = item
        ciphertext = self._encryptor.encrypt_chunk(plaintext, final=final)
        self._sha.update(plaintext)  # immutable bytes: safe to hash on the other thread
        self._sink.write(ciphertext)

    def close(self) -> None:
        """Write the final chunk and record the summary (idempotent)."""
        if self.closed:
            return
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()
        self.closed = True
        if self._background is not None:
            self._background.finish()  # raises what went wrong there (a full disk, say)
        self.summary = StreamSummary(
            plaintext_size=self._plain_size,
            ciphertext_size=self._cipher_size,
            plaintext_sha256=self._sha.hexdigest(),
            chunks=self._chunks,
        )

    def abort(self) -> None:
        """Stop without a final chunk and drop the buffered plaintext."""
        if self._background is not None:
            self._background.cancel()
        self._buffer[:] = bytes(len(self._buffer))  # overwrite plaintext before release
        self._buffer.clear()
        self._sha.close()
        self.closed = True


class _InOrder:
    """Runs ``work`` on each item put, in order, on one second thread; at most two wait.

    An error there stops the work; the next :meth:`put` or :meth:`finish` raises it in the
    caller's thread, so a failure is never silent and nothing after it is written.
    """

    def __init__(self, work: Callable[[Any], None]) -> None:
        self._work = work
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            if self._error is None:
                try:
                    self._work(item)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc

    def put(self, item: object) -> None:
        self._raise()
        self._queue.put(item)

    def finish(self) -> None:
        """Wait for every item to be done; raise the first error, if any."""
        self._queue.put(_STOP)
        self._thread.join()
        self._raise()

    def cancel(self) -> None:
        """Stop, dropping work not started; never raises."""
        if self._error is None:
            self._error = StreamWriterAborted("the stream was abandoned")
        self._queue.put(_STOP)
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class StreamWriterAborted(Exception):
    """Work left for the background thread when a stream was abandoned."""


_STOP = object()


def encrypt_stream(source: Readable, sink: Writable, key: bytes) -> StreamSummary:
    """Encrypt everything ``source`` yields into a stream on ``sink``, one chunk at a time."""
    with StreamWriter(sink, key) as writer:
        while plaintext := _read_exact(source, CHUNK_SIZE):
            writer.write(plaintext)
    if writer.summary is None:
        raise RuntimeError("the stream writer closed without a summary")
    return writer.summary
