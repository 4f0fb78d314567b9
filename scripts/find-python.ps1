# Prints the path of a Python >= 3.12 (PySide6 6.12 crashes on 3.11): CMDESK_PYTHON, then the `py`
# launcher's 3.13, 3.12 and newest 3.x, then `python` on PATH (not the Microsoft Store's stub, which
# only opens the Store). Exits 1, saying what to install, when there is none.
$check = "import sys; print(sys.executable) if sys.version_info >= (3, 12) else sys.exit(1)"
$candidates = @()
if ($env:CMDESK_PYTHON) { $candidates += , @($env:CMDESK_PYTHON) }
$candidates += , @("py", "-3.13")
$candidates += , @("py", "-3.12")
$candidates += , @("py", "-3")
$candidates += , @("python")
foreach ($candidate in $candidates) {
    $command = $candidate[0]
    $rest = @($candidate | Select-Object -Skip 1)
    if (-not (Get-Command $command -ErrorAction SilentlyContinue)) { continue }
    $found = & $command @rest -c $check 2>$null
    if ($LASTEXITCODE -eq 0 -and $found) {
        Write-Output ($found | Select-Object -Last 1).Trim()
        exit 0
    }
}
[Console]::Error.WriteLine("No se encontró Python 3.12 o posterior. Instálelo desde python.org (marque " +
    "«Add python.exe to PATH»; el lanzador «py» viene con él) o indique `$env:CMDESK_PYTHON = 'C:\ruta\python.exe'.")
exit 1
