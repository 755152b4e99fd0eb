"""The fuzz targets of tests/fuzz for a longer budget than the suite gives them.

    python bench/fuzz_long.py [--seconds 300] [--only stream,cleaner]

Each target runs under atheris in its own process (``tests/fuzz/run.py``); crashes are kept
in ``--artifacts`` (default ``bench/fuzz-artifacts/``) for a regression test. The last line
holds the figures: runs per target, seconds each, and the number of crashes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.targets import TARGETS  # noqa: E402


def fuzz(name: str, seconds: int, artifacts: Path) -> tuple[int, list[str]]:
    """Run one target; its number of runs and the crash files it left."""
    folder = artifacts / name
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    run = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "tests.fuzz.run",
            name,
            f"-max_total_time={seconds}",
            "-timeout=60",
            "-rss_limit_mb=4096",
            f"-artifact_prefix={folder}/",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    crashes = sorted(path.name for path in set(folder.iterdir()) - before)
    runs = int(run.stderr.rsplit("Done ", 1)[1].split()[0]) if "Done " in run.stderr else 0
    if run.returncode != 0 and not crashes:
        crashes = [f"exit {run.returncode}"]
    if crashes:
        print(run.stderr[-3000:], file=sys.stderr)
    return runs, crashes


def main() -> None:
    """Fuzz each target in turn and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="per target")
    parser.add_argument("--only", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "bench" / "fuzz-artifacts")
    args = parser.parse_args()
    figures = [f"seconds_per_target={args.seconds}"]
    total_crashes = 0
    for name in args.only.split(","):
        runs, crashes = fuzz(name, args.seconds, args.artifacts)
        total_crashes += len(crashes)
        print(f"{name}: {runs} runs, crashes: {', '.join(crashes) or 'none'}", flush=True)
        figures.append(f"{name}_runs={runs}")
    figures.append(f"crashes={total_crashes}")
    print(" ".join(figures))


if __name__ == "__main__":
    main()
