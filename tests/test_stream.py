"""``filon-stream/1`` (DESIGN.md §4): round trips, sizes, and every way a stream can be broken.

A stream that breaks a rule must be rejected whole, and with the exception that names the rule,
so that intake and casework can tell an interrupted upload from an attack.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
    crypto_secretstream_xchacha20poly1305_TAG_PUSH,
    crypto_secretstream_xchacha20poly1305_TAG_REKEY,
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
    StreamError,
    StreamTruncated,
    TrailingData,
    UnexpectedTag,
)
from crypto.stream import (
    ABYTES,
    CHUNK_SIZE,
    CIPHER_CHUNK_SIZE,
    HEADER_BYTES,
    MAGIC,
    PREFIX_SIZE,
    StreamDecryptor,
    StreamEncryptor,
    StreamReader,
    StreamSummary,
    StreamWriter,
    chunk_offset,
    decrypt_stream,
    encrypt_stream,
    new_stream_key,
    stream_size,
)

TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL
TAG_PUSH = crypto_secretstream_xchacha20poly1305_TAG_PUSH
TAG_REKEY = crypto_secretstream_xchacha20poly1305_TAG_REKEY

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
TRICKLE_BYTES = 1000


# -- helpers ---------------------------------------------------------------------------------------


@functools.cache
def plaintext(size: int) -> bytes:
    """Deterministic pseudo-random plaintext of ``size`` bytes (cached: the tests share it)."""
    return hashlib.shake_256(f"filon-stream test {size}".encode()).digest(size)


def encrypt(data: bytes, key: bytes = KEY) -> bytes:
    """The whole ``filon-stream/1`` stream of ``data``."""
    sink = io.BytesIO()
    encrypt_stream(io.BytesIO(data), sink, key)
    return sink.getvalue()


def decrypt(
    stream: bytes, key: bytes = KEY, *, expected_size: int | None = None
) -> tuple[bytes, StreamSummary]:
    """Decrypt a whole stream held in memory; return the plaintext and the summary."""
    sink = io.BytesIO()
    summary = decrypt_stream(io.BytesIO(stream), sink, key, expected_size=expected_size)
    return sink.getvalue(), summary


def split_stream(stream: bytes) -> tuple[bytes, list[bytes]]:
    """Cut a stream into its prefix (magic and header) and its ciphertext chunks."""
    chunks = []
    index = 0
    while chunk_offset(index) < len(stream):
        start = chunk_offset(index)
        chunks.append(stream[start : start + CIPHER_CHUNK_SIZE])
        index += 1
    return stream[:PREFIX_SIZE], chunks


def join_stream(prefix: bytes, chunks: list[bytes]) -> bytes:
    """Put a stream back together from its prefix and chunks."""
    return prefix + b"".join(chunks)


def craft_stream(key: bytes, chunks: list[tuple[bytes, int]]) -> bytes:
    """Build a stream with libsodium directly, with any tags and sizes, right or wrong."""
    state = crypto_secretstream_xchacha20poly1305_state()
    header = crypto_secretstream_xchacha20poly1305_init_push(state, key)
    pushed = [
        crypto_secretstream_xchacha20poly1305_push(state, data, None, tag) for data, tag in chunks
    ]
    return MAGIC + header + b"".join(pushed)


def flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    """Return ``data`` with the byte at ``position`` XORed with ``mask``."""
    altered = bytearray(data)
    altered[position] ^= mask
    return bytes(altered)


class Trickle(io.RawIOBase):
    """A non-seekable source that hands out at most 1,000 bytes per read, like a slow socket."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data
        self._position = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        limit = TRICKLE_BYTES if size < 0 else min(size, TRICKLE_BYTES)
        piece = self._data[self._position : self._position + limit]
        self._position += len(piece)
        self.reads += 1
        return piece


# -- the format's constants are part of the contract -----------------------------------------------


def test_format_constants() -> None:
    assert MAGIC == b"FLN1"
    assert CHUNK_SIZE == 1_048_576
    assert ABYTES == 17
    assert HEADER_BYTES == 24
    assert CIPHER_CHUNK_SIZE == 1_048_593
    assert PREFIX_SIZE == 28
    assert [chunk_offset(i) for i in range(3)] == [28, 28 + 1_048_593, 28 + 2 * 1_048_593]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, 28 + 17),
        (1, 28 + 18),
        (CHUNK_SIZE - 1, 28 + CHUNK_SIZE + 16),
        (CHUNK_SIZE, 28 + CIPHER_CHUNK_SIZE + 17),
        (3 * CHUNK_SIZE + 7, 28 + 3 * CIPHER_CHUNK_SIZE + 24),
    ],
)
def test_stream_size(size: int, expected: int) -> None:
    assert stream_size(size) == expected


def test_new_stream_key_is_random_and_32_bytes() -> None:
    first, second = new_stream_key(), new_stream_key()
    assert len(first) == len(second) == 32
    assert first != second


# -- round trips -----------------------------------------------------------------------------------

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]
ODD_PIECES = [1, 7, 4099, 65_537, 333_333, CHUNK_SIZE + 3]


def pieces(data: bytes) -> Iterator[bytes]:
    """Cut ``data`` into pieces of awkward sizes, cycling through :data:`ODD_PIECES`."""
    position, turn = 0, 0
    while position < len(data):
        size = ODD_PIECES[turn % len(ODD_PIECES)]
        yield data[position : position + size]
        position += size
        turn += 1


def with_encrypt_stream(data: bytes, sink: io.BytesIO) -> StreamSummary:
    return encrypt_stream(io.BytesIO(data), sink, KEY)


def with_writer_at_once(data: bytes, sink: io.BytesIO) -> StreamSummary:
    with StreamWriter(sink, KEY) as writer:
        assert writer.write(data) == len(data)
    assert writer.closed
    assert writer.summary is not None
    return writer.summary


def with_writer_in_pieces(data: bytes, sink: io.BytesIO) -> StreamSummary:
    with StreamWriter(sink, KEY) as writer:
        for piece in pieces(data):
            writer.write(memoryview(piece))
    assert writer.summary is not None
    return writer.summary


def with_writer_in_background(data: bytes, sink: io.BytesIO) -> StreamSummary:
    with StreamWriter(sink, KEY, background=True) as writer:
        for piece in pieces(data):
            writer.write(memoryview(piece))
    assert writer.summary is not None
    return writer.summary


WRITERS = {
    "encrypt_stream": with_encrypt_stream,
    "StreamWriter": with_writer_at_once,
    "StreamWriter-pieces": with_writer_in_pieces,
    "StreamWriter-background": with_writer_in_background,
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_round_trip(write: Callable[[bytes, io.BytesIO], StreamSummary], size: int) -> None:
    data = plaintext(size)
    sink = io.BytesIO()
    written = write(data, sink)
    stream = sink.getvalue()

    assert written == StreamSummary(
        plaintext_size=size,
        ciphertext_size=len(stream),
        plaintext_sha256=hashlib.sha256(data).hexdigest(),
        chunks=size // CHUNK_SIZE + 1,
    )
    assert len(stream) == stream_size(size)
    assert stream.startswith(MAGIC)

    for expected_size in (None, len(stream)):
        opened, read = decrypt(stream, expected_size=expected_size)
        assert opened == data
        assert read == written


@pytest.mark.parametrize("size", [0, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 5])
def test_reader_yields_full_chunks_then_one_short_final_chunk(size: int) -> None:
    stream = encrypt(plaintext(size))
    reader = StreamReader(io.BytesIO(stream), KEY)
    sizes = [len(chunk) for chunk in reader]
    assert sizes == [CHUNK_SIZE] * (size // CHUNK_SIZE) + [size % CHUNK_SIZE]
    assert reader.summary.chunks == len(sizes)


def test_every_chunk_on_disk_has_its_fixed_place() -> None:
    size = 2 * CHUNK_SIZE + 100
    _, chunks = split_stream(encrypt(plaintext(size)))
    assert [len(chunk) for chunk in chunks] == [CIPHER_CHUNK_SIZE, CIPHER_CHUNK_SIZE, 100 + ABYTES]


def test_stream_is_plain_libsodium_secretstream() -> None:
    """Any libsodium can read our streams and we read theirs: the format is secretstream as is."""
    data = plaintext(CHUNK_SIZE + 10)
    prefix, chunks = split_stream(encrypt(data))
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_pull(state, prefix[len(MAGIC) :], KEY)
    pulled = [crypto_secretstream_xchacha20poly1305_pull(state, chunk, None) for chunk in chunks]
    assert b"".join(part for part, _ in pulled) == data
    assert [tag for _, tag in pulled] == [TAG_MESSAGE, TAG_FINAL]

    crafted = craft_stream(KEY, [(data[:CHUNK_SIZE], TAG_MESSAGE), (data[CHUNK_SIZE:], TAG_FINAL)])
    assert decrypt(crafted)[0] == data


def test_summary_is_refused_before_the_stream_is_read() -> None:
    reader = StreamReader(io.BytesIO(encrypt(b"x")), KEY)
    with pytest.raises(RuntimeError, match="not been read"):
        _ = reader.summary


def test_writer_close_is_idempotent_and_refuses_later_writes() -> None:
    sink = io.BytesIO()
    writer = StreamWriter(sink, KEY)
    writer.write(b"abc")
    writer.close()
    writer.close()
    assert decrypt(sink.getvalue())[0] == b"abc"
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")


def test_the_same_plaintext_encrypts_differently_each_time() -> None:
    data = plaintext(100)
    assert encrypt(data) != encrypt(data)


# -- short reads from sources that cannot seek -----------------------------------------------------


def test_decrypt_from_a_non_seekable_source_with_short_reads() -> None:
    data = plaintext(CHUNK_SIZE + 5000)
    stream = encrypt(data)
    source = Trickle(stream)
    assert not source.seekable()
    sink = io.BytesIO()
    summary = decrypt_stream(source, sink, KEY, expected_size=len(stream))
    assert sink.getvalue() == data
    assert summary.ciphertext_size == len(stream)
    assert source.reads > len(stream) // TRICKLE_BYTES


def test_encrypt_from_a_non_seekable_source_with_short_reads() -> None:
    data = plaintext(CHUNK_SIZE + 5000)
    sink = io.BytesIO()
    summary = encrypt_stream(Trickle(data), sink, KEY)
    # Short reads must not produce short chunks: the chunking is the same as from a file.
    assert summary.chunks == 2
    assert len(sink.getvalue()) == stream_size(len(data))
    assert decrypt(sink.getvalue())[0] == data


# -- tampering -------------------------------------------------------------------------------------

# Three full chunks and a short final one: enough for first, middle and last positions.
SAMPLE_SIZE = 3 * CHUNK_SIZE + 1000
LAST = 3  # index of the final chunk


@functools.cache
def sample() -> bytes:
    return encrypt(plaintext(SAMPLE_SIZE))


def drop(index: int) -> Callable[[bytes], bytes]:
    def mutate(stream: bytes) -> bytes:
        prefix, chunks = split_stream(stream)
        del chunks[index]
        return join_stream(prefix, chunks)

    return mutate


def duplicate(index: int) -> Callable[[bytes], bytes]:
    def mutate(stream: bytes) -> bytes:
        prefix, chunks = split_stream(stream)
        chunks.insert(index + 1, chunks[index])
        return join_stream(prefix, chunks)

    return mutate


def swap(index: int) -> Callable[[bytes], bytes]:
    def mutate(stream: bytes) -> bytes:
        prefix, chunks = split_stream(stream)
        chunks[index], chunks[index + 1] = chunks[index + 1], chunks[index]
        return join_stream(prefix, chunks)

    return mutate


def flip_at(position: int) -> Callable[[bytes], bytes]:
    return lambda stream: flip(stream, position)


def cut_to(length: int) -> Callable[[bytes], bytes]:
    return lambda stream: stream[:length]


def cut_by(count: int) -> Callable[[bytes], bytes]:
    return lambda stream: stream[:-count]


def append(extra: bytes) -> Callable[[bytes], bytes]:
    return lambda stream: stream + extra


LAST_CHUNK_SIZE = 1000 + ABYTES
MIDDLE_OF = [chunk_offset(i) + CIPHER_CHUNK_SIZE // 2 for i in range(LAST)]

# (mutation, pass the original length as expected_size, the exception that names the failure)
TAMPERING = {
    "magic-byte-0": (flip_at(0), False, BadMagic),
    "magic-byte-3": (flip_at(3), True, BadMagic),
    "only-2-bytes": (cut_to(2), False, BadMagic),
    "empty": (cut_to(0), False, BadMagic),
    "header-missing": (cut_to(4), False, BadHeader),
    "header-10-bytes": (cut_to(4 + 10), True, BadHeader),
    "header-23-bytes": (cut_to(4 + 23), False, BadHeader),
    "header-first-byte": (flip_at(4), False, ChunkAuthenticationFailed),
    "header-last-byte": (flip_at(PREFIX_SIZE - 1), True, ChunkAuthenticationFailed),
    "first-chunk-first-byte": (flip_at(chunk_offset(0)), False, ChunkAuthenticationFailed),
    "first-chunk-middle": (flip_at(MIDDLE_OF[0]), False, ChunkAuthenticationFailed),
    "first-chunk-mac": (flip_at(chunk_offset(1) - 1), True, ChunkAuthenticationFailed),
    "middle-chunk-middle": (flip_at(MIDDLE_OF[1]), False, ChunkAuthenticationFailed),
    "middle-chunk-first-byte": (flip_at(chunk_offset(2)), True, ChunkAuthenticationFailed),
    "last-chunk-first-byte": (flip_at(chunk_offset(LAST)), False, ChunkAuthenticationFailed),
    "last-chunk-last-byte": (
        flip_at(stream_size(SAMPLE_SIZE) - 1),
        True,
        ChunkAuthenticationFailed,
    ),
    "drop-first-chunk": (drop(0), False, ChunkAuthenticationFailed),
    "drop-middle-chunk": (drop(1), False, ChunkAuthenticationFailed),
    "drop-middle-chunk-sized": (drop(1), True, ChunkAuthenticationFailed),
    # The final chunk slides into the dropped one's place and is too short for it.
    "drop-chunk-before-final-sized": (drop(2), True, StreamTruncated),
    "drop-final-chunk": (drop(LAST), False, MissingFinalTag),
    "drop-final-chunk-sized": (drop(LAST), True, StreamTruncated),
    "drop-all-chunks": (cut_to(PREFIX_SIZE), False, MissingFinalTag),
    "drop-all-chunks-sized": (cut_to(PREFIX_SIZE), True, StreamTruncated),
    "duplicate-first-chunk": (duplicate(0), False, ChunkDuplicated),
    "duplicate-middle-chunk": (duplicate(1), True, ChunkDuplicated),
    "swap-chunks-0-1": (swap(0), False, ChunkOutOfOrder),
    "swap-chunks-1-2": (swap(1), True, ChunkOutOfOrder),
    "cut-1-byte-from-last-chunk-sized": (cut_by(1), True, StreamTruncated),
    "cut-half-of-last-chunk-sized": (cut_by(LAST_CHUNK_SIZE // 2), True, StreamTruncated),
    "cut-inside-middle-chunk-sized": (cut_to(MIDDLE_OF[1]), True, StreamTruncated),
    # Without the announced size a cut inside a chunk is indistinguishable from an alteration.
    "cut-1-byte-from-last-chunk": (cut_by(1), False, ChunkAuthenticationFailed),
    "last-chunk-16-bytes": (cut_to(chunk_offset(LAST) + 16), False, StreamTruncated),
    "last-chunk-1-byte": (cut_to(chunk_offset(LAST) + 1), False, StreamTruncated),
    "middle-chunk-16-bytes": (cut_to(chunk_offset(1) + 16), False, StreamTruncated),
    "append-1-byte-sized": (append(b"\0"), True, TrailingData),
    "append-a-chunk-sized": (append(bytes(CIPHER_CHUNK_SIZE)), True, TrailingData),
    # Without the size, bytes after the (short) final chunk are read as part of it.
    "append-1-byte": (append(b"\0"), False, ChunkAuthenticationFailed),
    "append-a-chunk": (append(bytes(CIPHER_CHUNK_SIZE)), False, ChunkAuthenticationFailed),
}


@pytest.mark.parametrize(("mutate", "sized", "error"), TAMPERING.values(), ids=TAMPERING.keys())
def test_tampered_stream_is_rejected(
    mutate: Callable[[bytes], bytes], sized: bool, error: type[StreamError]
) -> None:
    original = sample()
    tampered = mutate(original)
    assert tampered != original
    with pytest.raises(StreamError) as caught:
        decrypt(tampered, expected_size=len(original) if sized else None)
    assert type(caught.value) is error  # the rule's own class, not a parent or a sibling


def test_wrong_key_fails_authentication() -> None:
    with pytest.raises(ChunkAuthenticationFailed):
        decrypt(sample(), OTHER_KEY)


def test_wrong_key_on_a_one_chunk_stream() -> None:
    with pytest.raises(ChunkAuthenticationFailed):
        decrypt(encrypt(b"short"), OTHER_KEY)


# A stream of one full chunk and a short final one: small enough to flip at random quickly.
SMALL_SIZE = CHUNK_SIZE + 100


@functools.cache
def small_sample() -> bytes:
    return encrypt(plaintext(SMALL_SIZE))


@settings(max_examples=25, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=stream_size(SMALL_SIZE) - 1),
    mask=st.integers(min_value=1, max_value=255),
)
@example(position=0, mask=0x80)
@example(position=PREFIX_SIZE, mask=1)
@example(position=stream_size(SMALL_SIZE) - 1, mask=1)
def test_any_flipped_byte_is_rejected(position: int, mask: int) -> None:
    tampered = flip(small_sample(), position, mask)
    error = BadMagic if position < len(MAGIC) else ChunkAuthenticationFailed
    with pytest.raises(error):
        decrypt(tampered)


# -- streams written wrong on purpose --------------------------------------------------------------

FULL = plaintext(CHUNK_SIZE)

CRAFTED = {
    "short-chunk-tagged-message-last": (
        [(FULL, TAG_MESSAGE), (b"tail", TAG_MESSAGE)],
        ChunkSizeError,
    ),
    "only-chunk-short-tagged-message": ([(b"tail", TAG_MESSAGE)], ChunkSizeError),
    "empty-chunk-tagged-message-last": ([(b"", TAG_MESSAGE)], ChunkSizeError),
    # Chunks have fixed places, so a short chunk that is not last runs into the next one.
    "short-message-chunk-then-final": (
        [(b"tail", TAG_MESSAGE), (b"", TAG_FINAL)],
        ChunkAuthenticationFailed,
    ),
    "full-chunk-tagged-final": ([(FULL, TAG_FINAL)], ChunkSizeError),
    "second-full-chunk-tagged-final": ([(FULL, TAG_MESSAGE), (FULL, TAG_FINAL)], ChunkSizeError),
    "oversized-chunk": ([(FULL + b"x", TAG_MESSAGE), (b"", TAG_FINAL)], ChunkAuthenticationFailed),
    "tag-push": ([(FULL, TAG_PUSH), (b"", TAG_FINAL)], UnexpectedTag),
    "tag-push-short": ([(b"tail", TAG_PUSH)], UnexpectedTag),
    "tag-rekey": ([(FULL, TAG_REKEY), (b"", TAG_FINAL)], UnexpectedTag),
    "no-final-tag": ([(FULL, TAG_MESSAGE)], MissingFinalTag),
}


@pytest.mark.parametrize(("chunks", "error"), CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_stream_breaking_the_rules_is_rejected(
    chunks: list[tuple[bytes, int]], error: type[StreamError]
) -> None:
    with pytest.raises(StreamError) as caught:
        decrypt(craft_stream(KEY, chunks))
    assert type(caught.value) is error


class UploadInterruptedError(Exception):
    """Stands for whatever stops an upload half-way (a dropped connection, a full disk)."""


def write_then_fail(sink: io.BytesIO, data: bytes) -> None:
    with StreamWriter(sink, KEY) as writer:
        writer.write(data)
        raise UploadInterruptedError


@pytest.mark.parametrize("size", [0, 10, CHUNK_SIZE, CHUNK_SIZE + 10])
def test_writer_interrupted_leaves_a_stream_every_reader_rejects(size: int) -> None:
    sink = io.BytesIO()
    with pytest.raises(UploadInterruptedError):
        write_then_fail(sink, plaintext(size))
    stream = sink.getvalue()
    # Only complete chunks reached the sink; the buffered rest was dropped.
    assert len(stream) == PREFIX_SIZE + (size // CHUNK_SIZE) * CIPHER_CHUNK_SIZE
    with pytest.raises(MissingFinalTag):
        decrypt(stream)


class FullDisk(io.BytesIO):
    """A sink that takes ``room`` writes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: object) -> int:
        if self.room == 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        return super().write(data)  # type: ignore[arg-type]


def test_a_background_writer_raises_its_sink_error_in_the_callers_thread() -> None:
    sink = FullDisk(room=3)  # the prefix and two chunks
    writer = StreamWriter(sink, KEY, background=True)

    def write_all() -> None:
        with writer:
            for _ in range(8):
                writer.write(plaintext(CHUNK_SIZE))

    with pytest.raises(OSError, match="No space"):
        write_all()
    assert writer.summary is None
    stream = sink.getvalue()
    assert len(stream) == PREFIX_SIZE + 2 * CIPHER_CHUNK_SIZE  # nothing after the failure
    with pytest.raises(MissingFinalTag):
        decrypt(stream)


@pytest.mark.parametrize("size", [0, 10, 3 * CHUNK_SIZE + 10])
def test_a_background_writer_interrupted_leaves_a_stream_every_reader_rejects(size: int) -> None:
    sink = io.BytesIO()
    writer = StreamWriter(sink, KEY, background=True)

    def write_then_fail() -> None:
        with writer:
            writer.write(plaintext(size))
            raise UploadInterruptedError

    with pytest.raises(UploadInterruptedError):
        write_then_fail()
    assert writer.summary is None
    with pytest.raises(MissingFinalTag):
        decrypt(sink.getvalue())


def test_writer_abort_records_no_summary() -> None:
    writer = StreamWriter(io.BytesIO(), KEY)
    writer.write(b"half an upload")
    writer.abort()
    assert writer.closed
    assert writer.summary is None
    writer.close()  # already closed: must not write a final chunk after an abort
    assert writer.summary is None


# -- the chunk-level API ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "final"),
    [
        (0, False),
        (1, False),
        (CHUNK_SIZE - 1, False),
        (CHUNK_SIZE + 1, False),
        (CHUNK_SIZE, True),
        (CHUNK_SIZE + 1, True),
    ],
)
def test_encryptor_refuses_chunks_of_the_wrong_size(size: int, final: bool) -> None:
    encryptor = StreamEncryptor(KEY)
    with pytest.raises(ValueError, match="CHUNK_SIZE"):
        encryptor.encrypt_chunk(bytes(size), final=final)


def test_encryptor_refuses_chunks_after_the_final_one() -> None:
    encryptor = StreamEncryptor(KEY)
    encryptor.encrypt_chunk(b"last", final=True)
    assert encryptor.finished
    with pytest.raises(ValueError, match="finished"):
        encryptor.encrypt_chunk(b"more", final=True)


def test_chunk_api_matches_the_file_format() -> None:
    """Header and chunks sent one by one over the protocol make the same file as on disk."""
    data = plaintext(CHUNK_SIZE + 3)
    encryptor = StreamEncryptor(KEY)
    assert len(encryptor.header) == HEADER_BYTES
    chunks = [
        encryptor.encrypt_chunk(data[:CHUNK_SIZE], final=False),
        encryptor.encrypt_chunk(data[CHUNK_SIZE:], final=True),
    ]
    assert decrypt(MAGIC + encryptor.header + b"".join(chunks))[0] == data

    decryptor = StreamDecryptor(KEY, encryptor.header)
    opened = [decryptor.try_decrypt(chunk) for chunk in chunks]
    assert opened == [(data[:CHUNK_SIZE], TAG_MESSAGE), (data[CHUNK_SIZE:], TAG_FINAL)]


def test_decryptor_failed_chunk_leaves_its_state_usable() -> None:
    encryptor = StreamEncryptor(KEY)
    chunk = encryptor.encrypt_chunk(b"only", final=True)
    decryptor = StreamDecryptor(KEY, encryptor.header)
    assert decryptor.try_decrypt(flip(chunk, 0)) is None
    assert decryptor.index == 0
    assert decryptor.try_decrypt(chunk) == (b"only", TAG_FINAL)
    assert decryptor.index == 1


@pytest.mark.parametrize("length", [0, 23, 25])
def test_decryptor_refuses_a_header_of_the_wrong_length(length: int) -> None:
    with pytest.raises(BadHeader):
        StreamDecryptor(KEY, bytes(length))


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "k" * 32], ids=repr)
@pytest.mark.parametrize(
    "use",
    [
        lambda key: StreamEncryptor(key),
        lambda key: StreamDecryptor(key, bytes(HEADER_BYTES)),
        lambda key: StreamReader(io.BytesIO(), key),
        lambda key: StreamWriter(io.BytesIO(), key),
    ],
    ids=["encryptor", "decryptor", "reader", "writer"],
)
def test_stream_keys_must_be_32_bytes(use: Callable[[object], object], key: object) -> None:
    with pytest.raises(KeyFormatError):
        use(key)


def test_writer_with_a_bad_key_writes_nothing() -> None:
    sink = io.BytesIO()
    with pytest.raises(KeyFormatError):
        StreamWriter(sink, bytes(31))
    assert sink.getvalue() == b""


@dataclass
class CountingSink:
    """A sink that keeps only the size of what it was given."""

    size: int = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def test_streams_to_any_writable_sink() -> None:
    sink = CountingSink()
    summary = encrypt_stream(io.BytesIO(plaintext(CHUNK_SIZE + 1)), sink, KEY)
    assert sink.size == summary.ciphertext_size == stream_size(CHUNK_SIZE + 1)
