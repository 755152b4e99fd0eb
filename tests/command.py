"""The ``filon`` command as a person runs it: a process of its own, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys

FILON = [sys.executable, "-m", "filon"]


def filon(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``filon ARGS`` with ``stdin`` typed in; its exit code and output, never raising."""
    return subprocess.run(  # noqa: S603 - our own command
        [*FILON, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
