"""The load test of ``bench/load_test.py``, short: sources and staff at once, and no error.

The full run (50 sources sending 20 MiB each and 10 staff, for two minutes) is a benchmark;
here a few of each run for ten seconds through the same script against a real
``filon serve``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_sources_and_staff_at_once_meet_no_error() -> None:
    run = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "bench" / "load_test.py"), "--seconds", "10"]
        + ["--sources", "4", "--staff", "2", "--file-mib", "2", "--processes", "2"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = dict(re.findall(r"(\w+)=([\w.]+)", run.stdout.splitlines()[-1]))
    assert figures["errors"] == "0"
    assert int(figures["submissions"]) > 0
    assert int(figures["staff_requests"]) > 0
    for who in ("source", "staff"):
        assert 0 < float(figures[f"{who}_p50_ms"]) <= float(figures[f"{who}_p99_ms"])
