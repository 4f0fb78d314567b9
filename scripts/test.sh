#!/usr/bin/env bash
# The test command: installs what the tests need (the `server` and `test` extras), checks style and
# types, audits and validates the GitHub workflows, checks the Windows build against the real Windows
# artifacts (scripts/check-windows.sh: Qt's Windows wheels through the bundle filter, the installer
# compiled by Inno Setup under Wine), and runs the whole suite on SQLite and on a real PostgreSQL (a
# throwaway server the tests start, unless CMDESK_TEST_PG_URL points at one). Extra arguments go to
# pytest. CMDESK_SKIP_WINDOWS_CHECK=1 leaves the Windows check out (it says so; CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pg_config >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Instalando PostgreSQL (los tests lo usan)..."
    apt-get update -qq || true  # one stale index (a mirror mid-sync) must not stop the install
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
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
bash scripts/bootstrap.sh server test
export QT_QPA_PLATFORM=offscreen
echo "== ruff"
.venv/bin/python -m ruff check cmdesk tests bench installer
echo "== mypy"
.venv/bin/python -m mypy cmdesk
echo "== workflows (zizmor, check-jsonschema)"
.venv/bin/zizmor --offline .github/workflows
.venv/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
if [ "${CMDESK_SKIP_WINDOWS_CHECK:-}" = 1 ]; then
  echo "== Windows: NO comprobado (CMDESK_SKIP_WINDOWS_CHECK=1)"
else
  echo "== Windows (scripts/check-windows.sh)"
  bash scripts/check-windows.sh
  # The one-folder build it made from installer/cmdesk.spec: tests/installer/test_frozen_build.py runs it.
  cache=${CMDESK_WINDOWS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cmdesk-windows}
  export CMDESK_TEST_FROZEN_BUILD="$cache/pyinstaller/dist/cmdesk"
fi
echo "== pytest"
# Two test processes (pytest-xdist) unless the arguments say otherwise (`-n 0` runs in one): the
# whole suite runs so on two cores in about 18 minutes, about half the time of one process.
workers=(-n 2)
for arg in "$@"; do
  case "$arg" in -n|-n*|--numprocesses*) workers=() ;; esac
done
.venv/bin/python -m pytest -p no:cacheprovider "${workers[@]}" "$@"
