"""The container's health check: ``/readyz`` of each app this process serves answers 200.

Standard library only (the image has no curl). Run by Docker's HEALTHCHECK, it reads the
same environment as ``filon serve``: ``FILON_SERVE_ONLY`` and the two ports.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping


def ports(environ: Mapping[str, str]) -> list[str]:
    """The ports of the apps this container serves."""
    only = environ.get("FILON_SERVE_ONLY", "")
    wanted = {"intake": "FILON_INTAKE_PORT", "casework": "FILON_CASEWORK_PORT"}
    defaults = {"intake": "8080", "casework": "8081"}
    return [environ.get(var) or defaults[app] for app, var in wanted.items() if only in ("", app)]


def main() -> int:
    """0 when every served app is ready, 1 otherwise."""
    for port in ports(os.environ):
        url = f"http://127.0.0.1:{port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - our own URL
                if response.status != 200:
                    return 1
        except (urllib.error.URLError, OSError):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
