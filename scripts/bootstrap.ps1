# Creates (or refreshes) the project's virtual environment in .venv with Python >= 3.12 and installs
# cmdesk into it (editable), with the extras given as arguments (e.g. "server", "test"): the Windows
# twin of scripts/bootstrap.sh. Python is found by scripts\find-python.ps1 (CMDESK_PYTHON, then the
# `py` launcher's 3.13 / 3.12 / newest 3.x, then `python` on PATH).
#
#   powershell -ExecutionPolicy Bypass -File scripts\bootstrap.ps1 server test
param([Parameter(ValueFromRemainingArguments = $true)] [string[]] $Extras = @())
$ErrorActionPreference = "Stop"
Push-Location (Split-Path -Parent $PSScriptRoot)
try {
    $venvPython = Join-Path (Get-Location) ".venv\Scripts\python.exe"
    $fresh = $true
    if (Test-Path $venvPython) {
        & $venvPython -c "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)" 2>$null
        $fresh = ($LASTEXITCODE -ne 0)
    }
    if ($fresh) {
        $python = & (Join-Path $PSScriptRoot "find-python.ps1")
        if (-not $python) { exit 1 }
        Write-Output "Creando el entorno de Python en .venv ($python)..."
        if (Test-Path .venv) { Remove-Item -Recurse -Force .venv }
        & $python -m venv .venv
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
    $extras = ""
    if ($Extras.Count -gt 0) { $extras = "[" + ($Extras -join ",") + "]" }
    $hash = (Get-FileHash -Algorithm SHA256 pyproject.toml).Hash.ToLower().Substring(0, 16)
    $stamp = ".venv\.installed-$hash$extras"
    if (-not (Test-Path -LiteralPath $stamp)) {
        $started = Get-Date
        Write-Output "Instalando cmdesk$extras y sus dependencias en .venv (la primera vez tarda unos minutos)..."
        & $venvPython -m pip install --quiet --upgrade pip
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
        # pip's own lines and progress bars show the progress.
        & $venvPython -m pip install -e ".$extras"
        if ($LASTEXITCODE -ne 0) { Write-Error "La instalación falló (vea los mensajes de pip arriba)."; exit 1 }
        New-Item -ItemType File -Path $stamp -Force | Out-Null
        Write-Output ("Listo en {0:N0} s." -f ((Get-Date) - $started).TotalSeconds)
    }
    exit 0
}
finally {
    Pop-Location
}
