# The test command on Windows, as scripts/test.sh on Linux: installs what the tests need (the `server`
# and `test` extras), checks style and types, audits and validates the GitHub workflows, and runs the
# whole suite. Extra arguments go to pytest.
#
#   powershell -ExecutionPolicy Bypass -File scripts\test.ps1 -q
#
# PostgreSQL: the tests start a throwaway one where its programs are found; point CMDESK_TEST_PG_URL at
# a database, or set CMDESK_TEST_SKIP_PG=1 to run on SQLite only. The Windows build itself is checked by
# .github/workflows/windows.yml (PyInstaller, --self-test, Inno Setup, a silent install); on Linux,
# scripts/check-windows.sh checks it against the real Windows wheels and Inno Setup under Wine.
$ErrorActionPreference = "Stop"
Push-Location (Split-Path -Parent $PSScriptRoot)
try {
    & (Join-Path $PSScriptRoot "bootstrap.ps1") server test
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $env:QT_QPA_PLATFORM = "offscreen"
    $python = ".venv\Scripts\python.exe"
    Write-Output "== ruff"
    & $python -m ruff check cmdesk tests bench installer
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    Write-Output "== mypy"
    & $python -m mypy cmdesk
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    Write-Output "== workflows (zizmor, check-jsonschema)"
    & .venv\Scripts\zizmor.exe --offline .github\workflows
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $workflows = @(Get-ChildItem .github\workflows\*.yml | ForEach-Object { $_.FullName })
    & .venv\Scripts\check-jsonschema.exe --builtin-schema vendor.github-workflows @workflows
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    Write-Output "== pytest"
    & $python -m pytest -p no:cacheprovider @args
    exit $LASTEXITCODE
}
finally {
    Pop-Location
}
