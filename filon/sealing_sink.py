"""Seal a multipart file part chunk by chunk as it arrives (the server-sealed upload path).

Both apps read multipart forms with files: the intake's no-JavaScript form and the
casework's "file on a source's behalf". werkzeug would write a large part to a temporary
file; given a :class:`SealingSink` as its stream factory's product, it writes into a
``filon-stream/1`` stream in the blob store's incoming area instead, so no plaintext is ever
spooled to disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data

from crypto.stream import StreamSummary, StreamWriter, new_stream_key
from filon.blobstore import INCOMING, BlobStore
from filon.body import fast_input
from filon.ports import SealedFile

# The text fields of a form are held in memory: a report is long, but not this long.
MAX_FORM_FIELDS_BYTES = 1024 * 1024


class SealingSink:
    """A file part's destination: it encrypts what werkzeug writes into an incoming stream.

    werkzeug calls ``write`` with pieces of the part as they arrive and ``seek(0)`` at its end;
    nothing here keeps more than one chunk of plaintext.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self.blob_id = store.new_id()
        self.key = new_stream_key()
        store.intend(self.blob_id, INCOMING)  # settled by the submission or by a discard
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
        """Drop the stream (the submission failed, the part was empty, or the disk is full)."""
        self._writer.abort()
        try:
            self._file.close()  # a full disk may refuse the buffered rest: it goes anyway
        except OSError:
            pass
        finally:
            self._store.discard_incoming(self.blob_id)

    def close(self) -> None:
        """Closing the FileStorage does not end the stream: :meth:`finish` does."""


@dataclass
class SealedForm:
    """A multipart form whose file parts were sealed into incoming streams as they arrived."""

    form: MultiDict[str, str]
    files: MultiDict[str, Any]
    sinks: list[SealingSink]

    def incoming(self) -> list[SealedFile]:
        """The files chosen, as the pipeline takes them; from here the pipeline owns them.

        Every stream is finished before any is handed over: if one fails (a full disk), all
        stay with the form and are discarded on its way out, so none is left behind.
        """
        chosen, taken = [], []
        for storage, sink in zip(self.files.getlist("files"), list(self.sinks), strict=False):
            if not storage.filename and sink.size == 0:
                continue  # the empty part a browser sends when no file was chosen
            summary = sink.finish()
            taken.append(sink)
            chosen.append(
                SealedFile(
                    blob_id=sink.blob_id,
                    key=sink.key,
                    stream_size=summary.ciphertext_size,
                    sealed_here=summary,
                    name=(storage.filename or "file")[:255],
                    type=(storage.mimetype or "application/octet-stream")[:255],
                )
            )
        for sink in taken:
            self.sinks.remove(sink)
        return chosen


@contextmanager
def sealed_form(
    environ: dict[str, Any],
    store: BlobStore,
    *,
    max_bytes: int,
    max_files: int,
    max_fields_bytes: int = MAX_FORM_FIELDS_BYTES,
) -> Iterator[SealedForm]:
    """Read a multipart body, sealing each file chunk by chunk (no plaintext spooled to disk).

    The same stream factory as the intake's no-JavaScript form: werkzeug would otherwise
    write large parts to a temporary file. Streams not taken by :meth:`SealedForm.incoming`
    are discarded on the way out.
    """
    sinks: list[SealingSink] = []

    def factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> SealingSink:
        if len(sinks) >= max_files:
            raise RequestEntityTooLarge(f"at most {max_files} files")
        sink = SealingSink(store)
        sinks.append(sink)
        return sink

    try:
        _stream, form, files = parse_form_data(
            {**environ, "wsgi.input": fast_input(environ["wsgi.input"])},
            stream_factory=factory,  # type: ignore[arg-type]
            max_form_memory_size=max_fields_bytes,
            max_content_length=max_bytes,
        )
        yield SealedForm(form, files, sinks)
    finally:
        for sink in sinks:
            sink.discard()
