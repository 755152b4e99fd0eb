"""Reading a request body of known length into a buffer that is used again and again.

A chunk upload is one MiB of ciphertext. Werkzeug's stream and cheroot's socket file (which
is built on the pure-Python ``_pyio``) each copy it in pieces into fresh objects, and a fresh
MiB means fresh pages from the kernel: profiling the intake showed more time spent there and
in page faults than in writing the chunk to disk. :func:`read_into` fills a caller's buffer
straight from the socket under cheroot (what ``filon serve`` runs), after whatever cheroot
has already buffered, and falls back to the WSGI ``readinto``/``read`` calls under any other
server, so the result never depends on which server runs the app.
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
    stream = environ["wsgi.input"]
    if isinstance(stream, KnownLengthRFile) and isinstance(stream.rfile, StreamReader):
        return _read_cheroot(stream, target)
    got = 0
    while got < len(target):
        piece = stream.read(len(target) - got)
        if not piece:
            break
        target[got : got + len(piece)] = piece
        got += len(piece)
    return got


def _read_cheroot(stream: KnownLengthRFile, target: memoryview) -> int:
    wanted = min(len(target), stream.remaining)
    rfile = stream.rfile
    # First what cheroot read ahead with the request head, then the socket itself.
    buffered = rfile._read_buf  # noqa: SLF001 - _pyio.BufferedReader's read-ahead buffer
    position = rfile._read_pos  # noqa: SLF001
    got = min(len(buffered) - position, wanted)
    target[:got] = buffered[position : position + got]
    rfile._read_pos = position + got  # noqa: SLF001
    while got < wanted:
        count = rfile.raw.readinto(target[got:wanted])
        if not count:
            break
        got += count
    rfile.bytes_read += got
    stream.remaining -= got
    return got
