"""A stand-in for the cleaning worker that misbehaves on purpose (tests only).

Run by ``sandbox.exchange(module="tests.samples.hostile_worker")``. It locks itself down with
the real worker's ``apply_limits`` first, then does what the request's file name says:
crash, hang, spin the CPU, eat memory, answer garbage, or try to write a file.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time

from intake.metadata.worker import HEADER_MAX_BYTES, apply_limits, read_frame, write_frame


def _answer(fields: dict[str, object]) -> None:
    write_frame(sys.stdout.buffer, json.dumps(fields).encode())
    write_frame(sys.stdout.buffer, b"")
    sys.stdout.buffer.flush()


def main() -> None:
    """Misbehave as the request asks."""
    apply_limits()
    header = json.loads(read_frame(sys.stdin.buffer, HEADER_MAX_BYTES))
    read_frame(sys.stdin.buffer, 1 << 30)
    action = header["filename"]
    if action == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif action == "hang":
        time.sleep(3600)
    elif action == "spin":
        resource.setrlimit(resource.RLIMIT_CPU, (1, 2))  # the real limit, only shorter
        while True:
            pass
    elif action == "memory":
        hoard = [bytearray(64 * 1024 * 1024) for _ in range(64)]  # 4 GiB > RLIMIT_AS
        _answer({"hoarded": len(hoard)})
    elif action == "garbage":
        sys.stdout.buffer.write(b"\xff" * 100)
    elif action == "lie":
        _answer({"status": "cleaned", "kind": "image", "media_type": "image/jpeg"})
    elif action == "write":
        path = header["declared_type"]
        try:
            with open(path, "wb") as handle:
                handle.write(b"plaintext that must never reach a disk")
                handle.flush()
            outcome = "written"
        except OSError as error:
            outcome = f"refused: {error.strerror}"
        _answer({"write": outcome})


if __name__ == "__main__":
    main()
