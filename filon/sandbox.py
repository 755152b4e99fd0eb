"""Run untrusted-input work in a fresh, locked-down worker process: the generic machinery.

Both sides of a sandboxed worker live here; what a worker does (cleaning a file, drawing a
preview) lives with its user (``intake/metadata/worker.py``) and is named by module.

Parent side (:func:`exchange`): the worker is a new interpreter started with ``subprocess``
(never a fork of the web process, which would carry its memory, keys and sessions along),
with a minimal environment (no inherited secrets or settings), ``/`` as working directory
and its own session so that it and anything it starts can be killed together. The request
travels over stdin and the answer over stdout: no temporary files. The parent enforces a
wall-clock deadline and caps what it reads; a crash, a timeout, a limit hit or an incomplete
answer is a :class:`WorkerFailed` with a plain reason, and the next call starts a new worker
as if nothing happened.

Worker side: :func:`apply_limits` (resource limits, hard equal to soft) and the frames
(:func:`read_frame`, :func:`write_frame`). A frame is an 8-byte big-endian length and that
many bytes. Standard library only, so a worker imports nothing it does not need.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
READ_CHUNK = 1024 * 1024
# Room for a frame header and a JSON head beside the largest body a worker may answer.
ANSWER_OVERHEAD = 2 * 1024 * 1024
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


class WorkerFailed(Exception):
    """The worker did not give a usable answer; the message says why, in plain words."""


class BadRequest(Exception):
    """(Worker side) the parent sent something that is not a well-formed request."""


def _import_root() -> str:
    # The folder that holds the ``filon`` package (and the apps), so the worker imports this
    # same code.
    return str(Path(__file__).resolve().parents[1])


def environment() -> dict[str, str]:
    """The whole environment a worker gets: nothing inherited from the web process."""
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


def exchange(request: bytes, *, module: str, timeout: float, max_output: int) -> bytes:
    """Send ``request`` to a new worker running ``module`` and return all it wrote to stdout.

    ``max_output`` caps the answer: a worker that says more is killed (``WorkerFailed``).
    """
    if not _DOTTED.match(module):
        raise ValueError("module must be a dotted module name")
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        [sys.executable, "-B", "-s", "-P", "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
        cwd="/",
        close_fds=True,
        start_new_session=True,
    ) as process:
        deadline = time.monotonic() + timeout
        try:
            output = _pump(process, request, deadline, max_output)
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


def _pump(
    process: subprocess.Popen[bytes], request: bytes, deadline: float, max_output: int
) -> bytes:
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
                if len(output) > max_output:
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


# -- worker side --------------------------------------------------------------------------------


def apply_limits(limits: Mapping[str, tuple[int, int]]) -> None:
    """Lock this process down: ``{"RLIMIT_AS": (soft, hard), ...}``, applied in order.

    Give hard limits equal to soft ones (or just above, for RLIMIT_CPU's SIGXCPU then
    SIGKILL) so that they cannot be raised again.
    """
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def read_frame(stream: BinaryIO, limit: int) -> bytes:
    """One length-prefixed frame of at most ``limit`` bytes."""
    head = stream.read(8)
    if len(head) != 8:
        raise BadRequest("missing frame")
    length = int.from_bytes(head, "big")
    if length > limit:
        raise BadRequest("frame too large")
    body = stream.read(length)
    if len(body) != length:
        raise BadRequest("short frame")
    return body


def write_frame(stream: BinaryIO, body: bytes) -> None:
    """One length-prefixed frame."""
    stream.write(len(body).to_bytes(8, "big"))
    stream.write(body)
