#!/usr/bin/env bash
# The Windows delivery, checked here on Linux against the real Windows artifacts (run by scripts/test.sh):
#
# 1. The Windows wheels of the PySide6-Essentials and shiboken6 installed in .venv, laid out as
#    PyInstaller lays them out on Windows and filtered by installer/bundle_filter.py: qwindows.dll and
#    the rest cmdesk needs kept, the other plugins, translations and Qt libraries dropped; the expected
#    size of the Windows folder printed (installer/check_windows.py).
# 2. installer/cmdesk.iss compiled by the real Inno Setup compiler (ISCC.exe, from the npm package
#    `innosetup`) under Wine, over the Linux one-folder build renamed to the Windows names; any ISCC
#    error or warning fails. Wine is installed when missing if this runs as root with apt; where it
#    cannot be had or cannot run, this says so and exits non-zero: never a silent pass.
#
# Downloads (wheels, the innosetup package, the Wine prefix, PyInstaller's work folder) are cached in
# CMDESK_WINDOWS_CACHE (default ~/.cache/cmdesk-windows), outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
INNOSETUP_VERSION=6.4.1
cache=${CMDESK_WINDOWS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cmdesk-windows}
mkdir -p "$cache"
started=$SECONDS
step() { echo "== check-windows: $* ($((SECONDS - started)) s)"; }
fail() { echo "check-windows: $*" >&2; exit 1; }

[ -x .venv/bin/python ] || bash scripts/bootstrap.sh server test
py=.venv/bin/python
"$py" -c 'import PyInstaller, pefile' 2>/dev/null || bash scripts/bootstrap.sh server test

# ---- 1. the bundle filter over the real Windows wheels ------------------------------------------------
pyside=$("$py" -c 'from importlib.metadata import version; print(version("PySide6-Essentials"))')
shiboken=$("$py" -c 'from importlib.metadata import version; print(version("shiboken6"))')
wheels="$cache/wheels/$pyside"
mkdir -p "$wheels"
if ! ls "$wheels"/pyside6_essentials-*win_amd64.whl "$wheels"/shiboken6-*win_amd64.whl >/dev/null 2>&1; then
  step "descargando las ruedas de Windows de PySide6-Essentials $pyside y shiboken6 $shiboken"
  "$py" -m pip download --quiet --no-deps --platform win_amd64 --only-binary=:all: --python-version 3.12 \
    -d "$wheels" "PySide6-Essentials==$pyside" "shiboken6==$shiboken"
fi

step "compilando cmdesk en una carpeta (PyInstaller, Linux)"
build="$cache/pyinstaller"
rm -rf "$build/dist"
"$py" -m PyInstaller --noconfirm --log-level WARN --distpath "$build/dist" --workpath "$build/work" \
  installer/cmdesk.spec
[ -x "$build/dist/cmdesk/cmdesk" ] || fail "PyInstaller no dejó dist/cmdesk/cmdesk"

step "filtro del paquete sobre las ruedas de Windows"
"$py" installer/check_windows.py bundle --wheels "$wheels" --linux-build "$build/dist/cmdesk"

# ---- 2. the installer, compiled by ISCC under Wine ----------------------------------------------------
install_wine() {
  # ISCC.exe is a 32-bit program: Wine needs its i386 half (wine32) besides wine64.
  dpkg --add-architecture i386
  local packages=(wine wine64 wine32:i386)
  apt-get update -qq >/dev/null 2>&1 || true  # one stale index must not stop it; the install reports
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
    return 0
  fi
  # A mirror whose i386 security index is out of step with the amd64 one leaves the two halves of a
  # Multi-Arch library at different versions, which apt refuses. The release's own suites carry both
  # architectures at the same versions: resolve from them alone (private lists, the system's untouched).
  echo "apt no resolvió wine con todas las fuentes; reintentando sólo con las de la versión de Debian." >&2
  local lists="$cache/apt/lists" parts="$cache/apt/sources.list.d"
  mkdir -p "$lists/partial" "$parts"
  local codename
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  cat > "$parts/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local options=(-o "Dir::State::Lists=$lists" -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$parts")
  apt-get "${options[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive apt-get "${options[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

if ! command -v wine >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "instalando Wine (apt)"
    install_wine || fail "no se pudo instalar Wine con apt: el instalador de Windows NO se comprobó."
  else
    fail "falta Wine (Debian: dpkg --add-architecture i386 && apt-get install wine wine64 wine32:i386); \
el instalador de Windows NO se comprobó."
  fi
fi

inno="$cache/innosetup-$INNOSETUP_VERSION"
if [ ! -f "$inno/bin/ISCC.exe" ]; then
  step "descargando Inno Setup $INNOSETUP_VERSION (paquete innosetup de npm)"
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
    else
      fail "falta npm (para el paquete innosetup, que trae ISCC.exe): el instalador NO se comprobó."
    fi
  fi
  rm -rf "$inno.tmp" && mkdir -p "$inno.tmp"
  (cd "$inno.tmp" && npm pack --silent "innosetup@$INNOSETUP_VERSION" >/dev/null && tar xzf innosetup-*.tgz)
  rm -rf "$inno" && mv "$inno.tmp/package" "$inno" && rm -rf "$inno.tmp"
fi

export WINEPREFIX="$cache/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
unset DISPLAY WAYLAND_DISPLAY
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  step "preparando el prefijo de Wine"
  wineboot --init >/dev/null 2>&1 || true
  wineserver -w 2>/dev/null || true
fi
wine cmd /c exit 0 >/dev/null 2>&1 || fail "Wine está instalado pero no arranca (wine cmd /c exit 0 falló): \
el instalador de Windows NO se comprobó."

step "compilando installer/cmdesk.iss con ISCC $INNOSETUP_VERSION bajo Wine"
stage="$cache/stage"
rm -rf "$stage" && mkdir -p "$stage/out"
# The Linux build under the Windows names the script expects (cmdesk.exe beside _internal\).
cp -a "$build/dist/cmdesk" "$stage/cmdesk"
mv "$stage/cmdesk/cmdesk" "$stage/cmdesk/cmdesk.exe"
version=$("$py" -c 'import cmdesk; print(cmdesk.__version__)')
"$py" installer/check_windows.py iscc --wine wine --iscc "$inno/bin/ISCC.exe" --build "$stage/cmdesk" \
  --out "$stage/out" --version "$version"
wineserver -k 2>/dev/null || true
step "listo"
