"""Seal a multipart file part chunk by chunk as it arrives (the server-sealed upload path).

Both apps read multipart forms with files: the intake's no-JavaScript form and the
casework's "file on a source's behalf". werkzeug would write a large part to a temporary
file; given a :class:`SealingSink` as its stream factory's product, it writes into a
``filon-stream/1`` stream in the blob store's incoming area instead, so no plaintext is ever
spooled to disk.
"""

from __future__ import annotations

import os
from typing import IO

from crypto.stream import StreamSummary, StreamWriter, new_stream_key
from filon.blobstore import BlobStore


class SealingSink:
    """A file part's destination: it encrypts what werkzeug writes into an incoming stream.

    werkzeug calls ``write`` with pieces of the part as they arrive and ``seek(0)`` at its end;
    nothing here keeps more than one chunk of plaintext.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self.blob_id = store.new_id()
        self.key = new_stream_key()
        self._file: IO[bytes] = open(store.incoming_path(self.blob_id), "xb")  # noqa: SIM115
        self._writer = StreamWriter(self._file, self.key, background=True)
        self.size = 0

    def write(self, data: bytes) -> int:
        """Seal a piece of the part."""
        self.size += len(data)
        return self._writer.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """werkzeug rewinds a finished part; there is nothing to rewind to."""
        return 0

    def read(self, size: int = -1) -> bytes:
        """The plaintext is not kept: reading gives nothing."""
        return b""

    def finish(self) -> StreamSummary:
        """Write the final chunk and make the stream durable; returns what the writer saw."""
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._writer.summary is None:
            raise RuntimeError("the stream writer closed without a summary")
        return self._writer.summary

    def discard(self) -> None:
        """Drop the stream (the submission failed or the part was empty)."""
        self._writer.abort()
        self._file.close()
        self._store.discard_incoming(self.blob_id)

    def close(self) -> None:
        """Closing the FileStorage does not end the stream: :meth:`finish` does."""
