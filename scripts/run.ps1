# Installs cmdesk and runs the desktop app on its embedded default, as scripts/run.sh does on Linux: the
# reference server starts in-process on 127.0.0.1 with SQLite in the user's data folder, seeded on the
# first run with the demo distributor, and cmdesk signs in by itself. Extra arguments go to cmdesk
# (e.g. --server https://cm.example.mx). Waits until cmdesk closes and exits with its code.
#
#   powershell -ExecutionPolicy Bypass -File scripts\run.ps1
$ErrorActionPreference = "Stop"
Push-Location (Split-Path -Parent $PSScriptRoot)
try {
    & (Join-Path $PSScriptRoot "bootstrap.ps1")
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    # cmdesk.exe is a windowed program: piping it makes PowerShell wait for it and show what it prints
    # (--version, --self-test).
    & .venv\Scripts\cmdesk.exe @args | Out-Host
    exit $LASTEXITCODE
}
finally {
    Pop-Location
}
