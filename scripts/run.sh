#!/usr/bin/env bash
# Installs cmdesk and runs the desktop app on its embedded default: the reference server starts
# in-process on 127.0.0.1 with SQLite in the user's data folder, seeded on first run with the demo
# distributor, and cmdesk signs in by itself. Extra arguments go to cmdesk (e.g. --server URL).
#
# Before starting Qt it checks that the system libraries of Qt's X11 (xcb) platform plugin are there
# (`ldd` over PySide6's libqxcb.so: Qt itself only says "could not load the Qt platform plugin", and
# names the wrong library). Missing ones are installed when this runs as root with apt; otherwise it
# names the Debian packages to install and stops with code 3, before Qt starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# The Debian package of a shared library, by Debian's naming policy (libfoo.so.N → libfooN,
# libfoo2.so.N → libfoo2-N), the exceptions named; an installable name is preferred (e.g. the …t64
# packages of Debian 13).
debian_package() {
  local soname=$1 base version name candidate
  case $soname in
    libglib-2.0.so.*|libgthread-2.0.so.*|libgobject-2.0.so.*) name=libglib2.0-0 ;;
    libGLX.so.*|libGLdispatch.so.*) name=${soname%%.so*}; name=${name,,}0 ;;
    *)
      base=${soname%%.so.*}
      version=${soname##*.so.}
      version=${version%%.*}
      if [[ $base =~ [0-9]$ ]]; then name="${base,,}-$version"; else name="${base,,}$version"; fi
      ;;
  esac
  if command -v apt-cache >/dev/null 2>&1; then
    for candidate in "$name" "${name}t64"; do
      if apt-cache show "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
    done
  fi
  echo "$name"
}

# The libraries the xcb platform plugin (and the Qt libraries it loads) link to that are not found.
missing_qt_libraries() {
  local plugin
  plugin=$(.venv/bin/python -c 'import os, PySide6; print(os.path.join(os.path.dirname(PySide6.__file__), "Qt", "plugins", "platforms", "libqxcb.so"))')
  [ -f "$plugin" ] || return 0
  ldd "$plugin" 2>/dev/null | awk '/=> not found/ {print $1}' | sort -u
}

if [ "$(uname -s)" = Linux ] && [ "${QT_QPA_PLATFORM:-xcb}" = xcb ] && command -v ldd >/dev/null 2>&1; then
  missing=$(missing_qt_libraries)
  if [ -n "$missing" ]; then
    packages=$(for lib in $missing; do debian_package "$lib"; done | sort -u | paste -sd' ')
    echo "Faltan bibliotecas del sistema que Qt necesita para abrir ventanas (X11/xcb): $(echo $missing)"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Instalándolas con apt: $packages"
      apt-get update -qq >/dev/null 2>&1 || true  # a stale index elsewhere must not stop the install
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
      missing=$(missing_qt_libraries)
    fi
    if [ -n "$missing" ]; then
      {
        echo "cmdesk no puede abrir su ventana sin ellas. Instálelas (Debian/Ubuntu) y vuelva a ejecutar:"
        echo "    sudo apt-get install $packages"
        echo "(En otras distribuciones, los paquetes que contienen: $(echo $missing).)"
      } >&2
      exit 3
    fi
  fi
  if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "No hay una sesión gráfica (DISPLAY vacío): ejecute cmdesk desde el escritorio." >&2
    exit 3
  fi
fi
exec .venv/bin/cmdesk "$@"
