"""Run the cleaning worker in a fresh process and turn whatever happens into an ``Outcome``.

The process machinery is generic and lives in :mod:`filon.sandbox`: a new interpreter (never
a fork of the web process), a minimal environment, ``/`` as working directory, its own
session so that it and any ffmpeg it starts can be killed together, the file over stdin and
the result over stdout, a wall-clock deadline and a cap on what is read. This module is the
intake's user of it: it names the worker (``intake.metadata.worker``) and its limits, and
checks every field of the worker's answer. A crash, a timeout, a limit hit or a malformed
answer is ``not_cleaned`` with a reason, and the next call starts a new worker as if nothing
happened.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from filon.ports import is_preview
from filon.sandbox import WorkerFailed, frame, split_frames
from filon.sandbox import environment as _environment  # noqa: F401 - the tests look here
from filon.sandbox import exchange as _exchange
from intake.metadata.limits import MAX_OUTPUT_BYTES, WORKER_WALL_SECONDS
from intake.metadata.outcome import KINDS, STATUSES, Outcome

WORKER_MODULE = "intake.metadata.worker"
# The worker answers a JSON head and a body of at most MAX_OUTPUT_BYTES.
MAX_ANSWER_BYTES = MAX_OUTPUT_BYTES + 2 * 1024 * 1024
_MEDIA_TYPE = re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,8}$")


def exchange(
    request: bytes, *, module: str = WORKER_MODULE, timeout: float = WORKER_WALL_SECONDS
) -> bytes:
    """Send ``request`` to a new worker and return everything it wrote to stdout."""
    return _exchange(request, module=module, timeout=timeout, max_output=MAX_ANSWER_BYTES)


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
    if fields.get("status") != "ok" or not is_preview(media_type, picture):
        raise WorkerFailed("the previewer gave a malformed answer")
    return str(media_type), picture


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
