"""The cleaning worker: a separate process that cleans one file from its stdin, then exits.

Run as ``python -m intake.metadata.worker`` by ``sandbox.py`` (through the generic runner in
``filon/sandbox.py``), never by hand. Before it reads a byte of the file it locks itself down
with resource limits, so that a parser bug in Pillow, libheif, qpdf, ffmpeg or our own code
can at worst kill this process:

- RLIMIT_FSIZE 0: no byte can be written to any file, on disk or in memory (memfd). This is
  the proof that no plaintext reaches a temporary file, whatever a library might try.
- RLIMIT_AS, RLIMIT_CPU: memory and CPU time (see ``limits.py``); a decompression bomb
  or a parser loop ends here.
- RLIMIT_NOFILE small, RLIMIT_CORE 0 (a core dump would write the plaintext to disk).

Every library is imported before the limits are set, so nothing later needs to open files.

Protocol (pipes only): in, a frame with a JSON header (``filename``, ``declared_type``, or
``check``, or ``preview`` with a size) and a frame with the file; out, a frame with the JSON
result and a frame with the cleaned bytes (or the preview). A frame is an 8-byte big-endian
length and that many bytes.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from dataclasses import asdict
from typing import BinaryIO

from PIL import Image

from filon import sandbox
from filon.sandbox import BadRequest, read_frame, write_frame
from intake.metadata import pictures, thumbnail
from intake.metadata.dispatch import clean_bytes
from intake.metadata.limits import (
    CLEAN_MAX_BYTES,
    PREVIEW_MAX_SIDE,
    WORKER_CPU_SECONDS,
    WORKER_MEMORY_BYTES,
    WORKER_OPEN_FILES,
)

HEADER_MAX_BYTES = 64 * 1024
LIMITS = {
    "RLIMIT_CORE": (0, 0),
    "RLIMIT_FSIZE": (0, 0),
    "RLIMIT_NOFILE": (WORKER_OPEN_FILES, WORKER_OPEN_FILES),
    # The soft limit sends SIGXCPU; the hard one, two seconds later, SIGKILL.
    "RLIMIT_CPU": (WORKER_CPU_SECONDS, WORKER_CPU_SECONDS + 2),
    "RLIMIT_AS": (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES),
}


class ProtocolError(BadRequest):
    """The parent sent something that is not a well-formed request."""


def apply_limits() -> None:
    """Lock this process down; hard limits equal soft ones so they cannot be raised again."""
    sandbox.apply_limits(LIMITS)


def self_check() -> dict[str, object]:
    """The limits in force, and proof that writing to a file fails (an in-memory file)."""
    limits = {name: list(resource.getrlimit(getattr(resource, name))) for name in LIMITS}
    try:
        probe = os.memfd_create("filon-write-probe")
    except OSError:
        return {"limits": limits, "write_blocked": False}
    try:
        os.write(probe, b"x")
        blocked = False
    except OSError:
        blocked = True
    finally:
        os.close(probe)
    return {"limits": limits, "write_blocked": blocked}


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer one request from ``stdin`` on ``stdout``."""
    header = json.loads(read_frame(stdin, HEADER_MAX_BYTES))
    data = read_frame(stdin, CLEAN_MAX_BYTES)
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    if header.get("check"):
        write_frame(stdout, json.dumps(self_check()).encode())
        write_frame(stdout, b"")
        return
    if "preview" in header:
        _preview(header["preview"], data, stdout)
        return
    filename, declared = header.get("filename"), header.get("declared_type")
    if not isinstance(filename, str) or not isinstance(declared, str):
        raise ProtocolError("header fields missing")
    outcome = clean_bytes(data, filename=filename, declared_type=declared)
    fields = asdict(outcome)
    cleaned = fields.pop("data")
    write_frame(stdout, json.dumps(fields).encode())
    write_frame(stdout, cleaned)


def _preview(max_side: object, data: bytes, stdout: BinaryIO) -> None:
    """Answer a preview request: the re-rendered picture, or why there is none."""
    if not isinstance(max_side, int) or not 16 <= max_side <= PREVIEW_MAX_SIDE:
        raise ProtocolError("preview size out of range")
    try:
        media_type, picture = thumbnail.render(data, max_side)
    except thumbnail.CannotPreview as error:
        write_frame(stdout, json.dumps({"status": "refused", "reason": str(error)}).encode())
        write_frame(stdout, b"")
        return
    write_frame(stdout, json.dumps({"status": "ok", "media_type": media_type}).encode())
    write_frame(stdout, picture)


def main() -> int:
    """Lock down, clean one file, exit."""
    # Pillow loads its format plugins on first use; load them now, before the limits.
    pictures.configure()
    Image.init()
    apply_limits()
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except (BadRequest, ValueError) as error:
        # No file content in this message: it goes to the parent's log at most.
        sys.stderr.write(f"worker: bad request ({error.__class__.__name__})\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
