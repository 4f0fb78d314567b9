#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv with Python >= 3.12 and installs
# cmdesk into it (editable), with the extras given as arguments (e.g. "server test"). Shows one line
# per package as pip collects it (the first install downloads ~200 MB); pip's whole output is kept in
# .venv/pip-install.log and its end shown if the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/find-python.sh)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
  echo "Creando el entorno de Python en .venv ($("$py" --version))..."
  rm -rf .venv
  "$py" -m venv .venv
fi
extras=""
[ $# -gt 0 ] && extras="[$(IFS=,; echo "$*")]"
stamp=".venv/.installed-$(sha256sum < pyproject.toml | cut -c1-16)${extras}"
if [ ! -f "$stamp" ]; then
  started=$SECONDS
  echo "Instalando cmdesk${extras} y sus dependencias en .venv (la primera vez tarda unos minutos)..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  log=.venv/pip-install.log
  .venv/bin/python -m pip install --progress-bar off -e ".${extras}" > "$log" 2>&1 < /dev/null &
  pid=$!
  # One line per package collected, while pip works (its output goes to the log).
  shown=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    count=$(grep -c '^Collecting ' "$log" || true)
    while [ "$shown" -lt "$count" ]; do
      shown=$((shown + 1))
      name=$(grep '^Collecting ' "$log" | sed -n "${shown}p" | awk '{print $2}')
      printf '  [%3d] %s\n' "$shown" "$name"
    done
  done
  if ! wait "$pid"; then
    echo "La instalación falló; las últimas líneas de $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
  installed=$(grep '^Successfully installed' "$log" | wc -w || true)
  echo "Listo en $((SECONDS - started)) s ($(( installed > 2 ? installed - 2 : 0 )) paquetes nuevos)."
  touch "$stamp"
fi
