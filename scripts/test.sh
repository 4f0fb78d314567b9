#!/usr/bin/env bash
# The test command: installs what the tests need, checks style and types, and runs the whole suite
# on SQLite and on a real PostgreSQL (a throwaway server the tests start, unless CMDESK_TEST_PG_URL
# points at one). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pg_config >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Instalando PostgreSQL (los tests lo usan)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "Faltan los programas de PostgreSQL (initdb, pg_ctl); instálelos o indique CMDESK_TEST_PG_URL." >&2
    exit 1
  fi
fi
# The pages the server's mails link to are tested in Debian's headless Chromium (Selenium).
if ! command -v chromedriver >/dev/null 2>&1 || ! { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Instalando Chromium y chromium-driver (pruebas de las páginas en un navegador real)..."
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "Faltan chromium y chromium-driver; las pruebas de las páginas fallarán sin ellos." >&2
  fi
fi
# Here a missing browser is a failure, not a skip.
export CMDESK_TEST_REQUIRE_BROWSER=1
bash scripts/bootstrap.sh test
export QT_QPA_PLATFORM=offscreen
echo "== ruff"
.venv/bin/python -m ruff check cmdesk tests bench
echo "== mypy"
.venv/bin/python -m mypy cmdesk
echo "== pytest"
.venv/bin/python -m pytest -p no:cacheprovider "$@"
