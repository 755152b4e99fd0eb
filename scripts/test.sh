#!/usr/bin/env bash
# Runs the whole test suite: sets itself up (PostgreSQL included), checks lint, format and
# types, then runs pytest on SQLite and on a PostgreSQL server that the suite starts itself.
# Extra arguments go to pytest, e.g. scripts/test.sh -k stream -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
