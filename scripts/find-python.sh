#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 (PySide6 6.12 crashes on 3.11): CMDESK_PYTHON, then python3.13 /
# python3.12 / python3 on PATH, then pyenv's installed versions. Exits 1 when there is none.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for cand in "${CMDESK_PYTHON:-}" python3.13 python3.12 python3; do
  [ -n "$cand" ] || continue
  path=$(command -v "$cand" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
root=${PYENV_ROOT:-$HOME/.pyenv}
for path in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "No se encontró Python 3.12 o posterior (instálelo, o indique CMDESK_PYTHON=/ruta/a/python3.12)." >&2
exit 1
