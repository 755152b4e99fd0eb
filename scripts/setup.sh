#!/usr/bin/env bash
# Installs what Filon needs on a fresh Debian machine, and nothing twice:
#   Debian packages (through apt-get), the Python virtual environment in .venv,
#   and the browser libraries from package-lock.json in node_modules.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs: PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
need_debian() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# DejaVu Sans: the dossier report embeds it, so French, Dutch and Swahili names print as written.
# (need_debian installs only what is missing.)
debian=(fonts-dejavu-core)
# The machine's Python may come from elsewhere (pyenv): ask apt only for what is missing.
python3 -c 'import venv, ensurepip' 2>/dev/null || debian+=(python3 python3-venv)
command -v node >/dev/null && command -v npm >/dev/null || debian+=(nodejs npm)
# The suite needs a PostgreSQL server, exiftool to check cleaning, ffmpeg for audio and video,
# Chromium for the browser tests (Debian's build: Playwright drives it, never downloads one),
# and poppler-utils (pdftotext, pdftoppm) to read and render the dossier's report.
# The deploy tests check deploy/ with the tools that run it: docker-compose (config), Caddy
# (the proxy, run for real in front of a stand-in app), Tor (--verify-config).
[ $want_test -eq 1 ] && debian+=(postgresql libimage-exiftool-perl libarchive-zip-perl ffmpeg chromium poppler-utils docker-compose caddy tor)
[ ${#debian[@]} -gt 0 ] && need_debian "${debian[@]}"

# Python: one virtual environment, reinstalled only when pyproject.toml changes.
stamp=.venv/.filon-installed
if [ ! -x .venv/bin/python ]; then
  say "creating the Python virtual environment in .venv"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  say "installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  cp pyproject.toml "$stamp"
fi

# Browser libraries: exactly what package-lock.json pins, served by Filon itself.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.filon-lock; then
  say "installing browser libraries from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.filon-lock
fi

# The intake's translations: compile the committed .po catalogues (cheap, so every time).
if [ -d intake/translations ]; then
  .venv/bin/pybabel compile -d intake/translations -D messages >/dev/null
fi
