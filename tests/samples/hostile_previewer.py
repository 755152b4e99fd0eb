"""A stand-in for the worker's preview answer that lies on purpose (tests only).

Run by ``sandbox.preview(module="tests.samples.hostile_previewer")``: it reads the request,
then answers what the preview's first bytes ask for: an HTML page labelled as a JPEG, a type
the casework would not serve, a JPEG too large to be a preview, or a refusal with no reason.
"""

from __future__ import annotations

import json
import sys

from intake.metadata.worker import HEADER_MAX_BYTES, apply_limits, read_frame, write_frame

ANSWERS: dict[bytes, tuple[dict[str, object], bytes]] = {
    b"html": ({"status": "ok", "media_type": "image/jpeg"}, b"<script>alert(1)</script>"),
    b"svg": ({"status": "ok", "media_type": "image/svg+xml"}, b"<svg onload=alert(1)>"),
    b"huge": ({"status": "ok", "media_type": "image/jpeg"}, b"\xff\xd8\xff" + b"\0" * (5 << 20)),
    b"vague": ({"status": "refused", "reason": ["not", "a", "string"]}, b""),
}


def main() -> None:
    """Answer as the request's file asks."""
    apply_limits()
    read_frame(sys.stdin.buffer, HEADER_MAX_BYTES)
    fields, body = ANSWERS[read_frame(sys.stdin.buffer, 1 << 20)]
    write_frame(sys.stdout.buffer, json.dumps(fields).encode())
    write_frame(sys.stdout.buffer, body)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
