#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv with Python >= 3.12 and installs
# cmdesk into it (editable), with the extras given as arguments (e.g. "test").
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/find-python.sh)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
  rm -rf .venv
  "$py" -m venv .venv
fi
extras=""
[ $# -gt 0 ] && extras="[$(IFS=,; echo "$*")]"
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)${extras}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras}"
  touch "$stamp"
fi
