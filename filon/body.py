"""Reading a request body of known length into a buffer that is used again and again.

A chunk upload is one MiB of ciphertext. Werkzeug's stream and cheroot's socket file (which
is built on the pure-Python ``_pyio``) each copy it in pieces into fresh objects, and a fresh
MiB means fresh pages from the kernel: profiling the intake showed more time spent there and
in page faults than in writing the chunk to disk. :func:`read_into` fills a caller's buffer
straight from the socket under cheroot (what ``filon serve`` runs), after whatever cheroot
has already buffered, and falls back to the WSGI ``readinto``/``read`` calls under any other
server, so the result never depends on which server runs the app. :func:`fast_input` gives
the same speed to the no-JavaScript form, whose multipart parser reads with ``readinto``.
"""

from __future__ import annotations

import threading
from typing import Any

from cheroot.makefile import StreamReader
from cheroot.server import KnownLengthRFile

_buffers = threading.local()


def thread_buffer(size: int) -> bytearray:
    """A buffer of at least ``size`` bytes owned by this thread (server threads are reused)."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = bytearray(size)
        _buffers.buffer = buffer
    return buffer


def read_into(environ: dict[str, Any], target: memoryview) -> int:
    """Read up to ``len(target)`` body bytes into ``target``; returns how many arrived.

    Fewer bytes than asked for means the client closed the connection early.
    """
    stream = fast_input(environ["wsgi.input"])
    got = 0
    while got < len(target) and (count := stream.readinto(target[got:])):
        got += count
    return got


def fast_input(stream: Any) -> Any:
    """``stream`` (a WSGI input) with a ``readinto`` that fills a buffer from the socket.

    Werkzeug's own stream (the no-JavaScript form's parser reads through it) uses
    ``readinto`` where the input has one. Under any server but cheroot, ``stream`` itself.
    """
    if isinstance(stream, KnownLengthRFile) and isinstance(stream.rfile, StreamReader):
        return _CherootInput(stream)
    if not hasattr(stream, "readinto"):
        return _ReadInto(stream)
    return stream


class _ReadInto:
    """``readinto`` over a WSGI input that has only ``read``."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        return data

    def readinto(self, target: memoryview | bytearray) -> int:
        data = self._stream.read(len(target))
        target[: len(data)] = data
        return len(data)


class _CherootInput(_ReadInto):
    """A cheroot request body read straight from its socket, after cheroot's read-ahead."""

    _stream: KnownLengthRFile

    def readinto(self, target: memoryview | bytearray) -> int:
        stream = self._stream
        wanted = min(len(target), stream.remaining)
        if wanted <= 0:
            return 0
        rfile = stream.rfile
        buffered = rfile._read_buf  # noqa: SLF001 - _pyio.BufferedReader's read-ahead buffer
        position = rfile._read_pos  # noqa: SLF001
        if position < len(buffered):
            got = min(len(buffered) - position, wanted)
            target[:got] = buffered[position : position + got]
            rfile._read_pos = position + got  # noqa: SLF001
        else:
            got = rfile.raw.readinto(memoryview(target)[:wanted]) or 0
        rfile.bytes_read += got
        stream.remaining -= got
        return got
