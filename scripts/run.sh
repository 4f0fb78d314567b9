#!/usr/bin/env bash
# Installs cmdesk and runs it on its embedded default: a local SQLite database in the user's data
# folder, seeded with the demo distributor on first run (demo@cmdesk.mx / demo1234).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/cmdesk-server demo "$@"
