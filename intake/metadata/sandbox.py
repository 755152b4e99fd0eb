"""Run the cleaning worker in a fresh process and turn whatever happens into an ``Outcome``.

The worker is a new interpreter started with ``subprocess`` (never a fork of the web
process, which would carry its memory, keys and sessions along), with a minimal environment
(no inherited secrets or settings), ``/`` as working directory and its own session so that
it and any ffmpeg it starts can be killed together. The file travels over stdin and the
result over stdout: no temporary files. The parent enforces a wall-clock deadline and caps
what it reads; a crash, a timeout, a limit hit or a malformed answer is ``not_cleaned`` with
a reason, and the next call starts a new worker as if nothing happened.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from intake.metadata.limits import MAX_OUTPUT_BYTES, WORKER_WALL_SECONDS
from intake.metadata.outcome import KINDS, STATUSES, Outcome

WORKER_MODULE = "intake.metadata.worker"
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
READ_CHUNK = 1024 * 1024
SIGNAL_REASONS = {
    signal.SIGXCPU: "the file took too long to clean (CPU time limit)",
    signal.SIGKILL: "the file took too long to clean, or needed too much memory",
    signal.SIGSEGV: "the file crashed the program that reads it",
    signal.SIGBUS: "the file crashed the program that reads it",
    signal.SIGABRT: "the file crashed the program that reads it",
    signal.SIGILL: "the file crashed the program that reads it",
    signal.SIGFPE: "the file crashed the program that reads it",
    signal.SIGXFSZ: "the cleaner tried to write a file, which is not allowed",
}
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,8}$")


class WorkerFailed(Exception):
    """The worker did not give a usable answer; the message says why, in plain words."""


def _import_root() -> str:
    # The folder that holds the ``intake`` package, so the worker imports this same code.
    return str(Path(__file__).resolve().parents[2])


def _environment() -> dict[str, str]:
    return {
        "PATH": SAFE_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": _import_root(),
        "PYTHONDONTWRITEBYTECODE": "1",
        # glibc gives each thread a 64 MiB arena of address space; with RLIMIT_AS that adds
        # up fast in libheif's and ffmpeg's threads.
        "MALLOC_ARENA_MAX": "2",
    }


def frame(body: bytes) -> bytes:
    """A length-prefixed frame."""
    return len(body).to_bytes(8, "big") + body


def exchange(
    request: bytes, *, module: str = WORKER_MODULE, timeout: float = WORKER_WALL_SECONDS
) -> bytes:
    """Send ``request`` to a new worker and return everything it wrote to stdout."""
    if not _DOTTED.match(module):
        raise ValueError("module must be a dotted module name")
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        [sys.executable, "-B", "-s", "-P", "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(),
        cwd="/",
        close_fds=True,
        start_new_session=True,
    ) as process:
        deadline = time.monotonic() + timeout
        try:
            output = _pump(process, request, deadline)
            # The answer is complete; give the worker the rest of its time to exit.
            process.wait(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        except subprocess.TimeoutExpired as error:
            raise WorkerFailed("the file took too long to clean (time limit)") from error
        finally:
            if process.poll() is None:
                _kill(process)
                process.wait()
    if process.returncode != 0:
        raise WorkerFailed(_exit_reason(process.returncode))
    return output


def _pump(process: subprocess.Popen[bytes], request: bytes, deadline: float) -> bytes:
    """Write the request and read the answer at the same time, within the deadline."""
    if process.stdin is None or process.stdout is None or process.stderr is None:
        raise WorkerFailed("the cleaner could not be started")
    for stream in (process.stdin, process.stdout, process.stderr):
        os.set_blocking(stream.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    selector.register(process.stderr, selectors.EVENT_READ)
    if request:
        selector.register(process.stdin, selectors.EVENT_WRITE)
    else:
        process.stdin.close()
    view, sent = memoryview(request), 0
    output = bytearray()
    limit = MAX_OUTPUT_BYTES + 2 * 1024 * 1024
    with selector:
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(process)
                raise WorkerFailed("the file took too long to clean (time limit)")
            for key, _ in selector.select(remaining):
                if key.fileobj is process.stdin:
                    try:
                        sent += os.write(process.stdin.fileno(), view[sent : sent + READ_CHUNK])
                    except BrokenPipeError:
                        sent = len(view)  # the worker stopped reading: its exit code says why
                    if sent >= len(view):
                        selector.unregister(process.stdin)
                        process.stdin.close()
                    continue
                chunk = os.read(key.fileobj.fileno(), READ_CHUNK)  # type: ignore[union-attr]
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                if key.fileobj is not process.stdout:
                    continue  # stderr is drained and dropped: it is never logged
                output += chunk
                if len(output) > limit:
                    _kill(process)
                    raise WorkerFailed("the cleaned file would be too large")
    return bytes(output)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the worker and everything it started (ffmpeg), by its own process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return SIGNAL_REASONS.get(signal.Signals(-code), "the cleaner stopped unexpectedly")
        except ValueError:
            return "the cleaner stopped unexpectedly"
    return "the cleaner failed (it could not start or did not understand the request)"


def split_frames(output: bytes, count: int) -> list[bytes]:
    """Exactly ``count`` frames, nothing after them."""
    frames, pos = [], 0
    for _ in range(count):
        if pos + 8 > len(output):
            raise WorkerFailed("the cleaner gave an incomplete answer")
        length = int.from_bytes(output[pos : pos + 8], "big")
        if pos + 8 + length > len(output):
            raise WorkerFailed("the cleaner gave an incomplete answer")
        frames.append(output[pos + 8 : pos + 8 + length])
        pos += 8 + length
    if pos != len(output):
        raise WorkerFailed("the cleaner gave a malformed answer")
    return frames


def run(
    data: bytes,
    *,
    filename: str,
    declared_type: str,
    module: str = WORKER_MODULE,
    timeout: float = WORKER_WALL_SECONDS,
) -> Outcome:
    """Clean ``data`` in a new worker; raise ``WorkerFailed`` when it gives no usable answer."""
    header = json.dumps({"filename": filename[:1000], "declared_type": declared_type[:200]})
    output = exchange(frame(header.encode()) + frame(data), module=module, timeout=timeout)
    head, cleaned = split_frames(output, 2)
    try:
        fields = json.loads(head)
    except ValueError as error:
        raise WorkerFailed("the cleaner gave a malformed answer") from error
    return _outcome(fields, cleaned)


# What a preview may be, and how each kind begins: the casework serves the worker's bytes
# without parsing them, so it checks at least that they are what the header will say.
PREVIEW_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
PREVIEW_MAX_BYTES = 4 * 1024 * 1024


def preview(
    data: bytes,
    *,
    max_side: int,
    module: str = WORKER_MODULE,
    timeout: float = WORKER_WALL_SECONDS,
) -> tuple[str, bytes]:
    """A picture re-rendered small by a new worker: its media type and bytes.

    Raises ``WorkerFailed`` with a plain reason when the worker refuses the picture, fails or
    answers anything but a small JPEG or PNG.
    """
    header = json.dumps({"preview": max_side}).encode()
    output = exchange(frame(header) + frame(data), module=module, timeout=timeout)
    head, picture = split_frames(output, 2)
    try:
        fields = json.loads(head)
    except ValueError as error:
        raise WorkerFailed("the previewer gave a malformed answer") from error
    if not isinstance(fields, dict):
        raise WorkerFailed("the previewer gave a malformed answer")
    if fields.get("status") == "refused" and _optional_text(fields.get("reason"), 500):
        raise WorkerFailed(str(fields.get("reason") or "the picture cannot be previewed"))
    media_type = fields.get("media_type")
    if (
        fields.get("status") != "ok"
        or not isinstance(media_type, str)
        or media_type not in PREVIEW_MAGIC
        or not picture.startswith(PREVIEW_MAGIC[media_type])
        or len(picture) > PREVIEW_MAX_BYTES
    ):
        raise WorkerFailed("the previewer gave a malformed answer")
    return media_type, picture


def self_check(*, module: str = WORKER_MODULE) -> dict[str, Any]:
    """The limits a worker runs under and whether it can write a file (it must not)."""
    output = exchange(frame(b'{"check": true}') + frame(b""), module=module, timeout=30)
    head, _ = split_frames(output, 2)
    found = json.loads(head)
    if not isinstance(found, dict):
        raise WorkerFailed("the cleaner gave a malformed answer")
    return found


def _outcome(fields: Any, data: bytes) -> Outcome:
    """Check every field of the worker's answer: a compromised worker is not trusted either."""
    if not isinstance(fields, dict):
        raise WorkerFailed("the cleaner gave a malformed answer")
    status, kind = fields.get("status"), fields.get("kind")
    media_type, extension = fields.get("media_type"), fields.get("extension")
    checks = (
        status in STATUSES and kind in KINDS,
        isinstance(media_type, str) and bool(_MEDIA_TYPE.match(media_type)),
        extension is None or (isinstance(extension, str) and bool(_EXTENSION.match(extension))),
        _texts(fields.get("found")) and _texts(fields.get("removed")),
        _optional_text(fields.get("taken_at"), 64) and _optional_text(fields.get("reason"), 500),
        (status == "cleaned") == bool(data),
        status != "not_cleaned" or isinstance(fields.get("reason"), str),
    )
    if not all(checks):
        raise WorkerFailed("the cleaner gave a malformed answer")
    location = _location(fields.get("location"))
    return Outcome(
        status,  # type: ignore[arg-type]
        data,
        media_type,  # type: ignore[arg-type]
        extension,
        kind,  # type: ignore[arg-type]
        list(fields["found"]),
        list(fields["removed"]),
        location,
        fields.get("taken_at"),
        fields.get("reason"),
    )


def _texts(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= 200
        and all(isinstance(v, str) and len(v) <= 1000 for v in value)
    )


def _optional_text(value: Any, limit: int) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= limit)


def _location(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
        and -90 <= value[0] <= 90
        and -180 <= value[1] <= 180
    ):
        return (float(value[0]), float(value[1]))
    raise WorkerFailed("the cleaner gave a malformed answer")
