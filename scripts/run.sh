#!/usr/bin/env bash
# Runs Filon on this machine: sets itself up, creates an embedded demo instance (SQLite) on
# first start, and serves the intake and the casework apps. Stop with Ctrl-C.
#   FILON_INSTANCE=DIR  instance folder (default ./instance)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
instance="${FILON_INSTANCE:-instance}"
if [ ! -f "$instance/filon.toml" ]; then
  .venv/bin/filon init --instance "$instance" --demo
else
  .venv/bin/filon upgrade --instance "$instance" >/dev/null
fi
exec .venv/bin/filon serve --instance "$instance"
