#!/usr/bin/env bash
# Installs cmdesk and runs the desktop app on its embedded default: the reference server starts
# in-process on 127.0.0.1 with SQLite in the user's data folder, seeded on first run with the demo
# distributor, and cmdesk signs in by itself. Extra arguments go to cmdesk (e.g. --server URL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/cmdesk "$@"
