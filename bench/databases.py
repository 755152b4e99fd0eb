"""The main of the benchmarks that run once per database: SQLite, then a throwaway PostgreSQL.

Each benchmark gives a ``run(database, root, server)`` that builds its data in ``root`` (on
``server`` for PostgreSQL) and returns its figures; this prints them as one ``key=value``
line, prefixed ``sqlite_`` and ``pg_``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests import postgres

Run = Callable[[str, Path, str | None], dict[str, float]]


def main_over_databases(run: Run, *, name: str, description: str) -> None:
    """Parse ``--databases``, run on each, and print the figures; ``KEEP=1`` keeps the files."""
    parser = argparse.ArgumentParser(description=description.split("\n", 1)[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    wanted = parser.parse_args().databases.split(",")
    figures: dict[str, float] = {}
    root = Path(tempfile.mkdtemp(prefix=f"filon-bench-{name}-"))
    try:
        for database in wanted:
            with contextlib.ExitStack() as stack:
                server = (
                    stack.enter_context(postgres.cluster("filon-bench-pg-"))
                    if database == "postgresql"
                    else None
                )
                found = run(database, root, server)
            prefix = "pg" if database == "postgresql" else "sqlite"
            figures.update({f"{prefix}_{k}": v for k, v in found.items()})
            print(f"{database}: {found}", file=sys.stderr)
    finally:
        if os.environ.get("KEEP"):  # keep the SQLite file to look at query plans
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))
