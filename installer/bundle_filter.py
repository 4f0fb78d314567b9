"""What the one-folder build keeps of Qt: the plugins, translations and libraries cmdesk uses.

PyInstaller's PySide6 hooks collect every plugin of the types QtGui and QtWidgets may load (image
formats, platform themes, Wayland, EGL, TLS, …) and every translation of the collected modules. cmdesk
draws plain widgets, so the spec drops the rest with `keep(dest)`, applied to the TOC entries' bundle
paths (`PySide6/Qt/plugins/platforms/qwindows.dll`, …) before COLLECT. The rules, per platform:

- platforms: Windows `qwindows` (the desktop) and `qoffscreen` (`--self-test`, the test suite); Linux
  `qxcb` and `qoffscreen`;
- styles: all (Windows: `qmodernwindowsstyle` holds "windowsvista" and "windows11");
- platforminputcontexts (Linux: compose/IBus, so accents can be typed; not the Qt Quick virtual
  keyboard), xcbglintegrations (xcb needs them to start): kept; every other plugin type goes;
- translations: only `qtbase_es.qm` (what `cmdesk.ui.app.install_translations` loads);
- Qt libraries that only dropped plugins use (Svg, Network, Pdf, Quick/Qml, Wayland, EGL, the software
  OpenGL renderer) go. `--self-test` in the test suite is what proves nothing needed went with them.

Importable without PyInstaller (the tests check the rules on made-up paths).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

QT_PREFIX = "PySide6/Qt/"

KEEP_PLUGIN_TYPES = {"platforms", "styles", "platforminputcontexts", "xcbglintegrations"}
KEEP_PLATFORMS = {
    "win32": ("qwindows", "qoffscreen"),
    "linux": ("libqxcb", "libqoffscreen"),
    "darwin": ("libqcocoa", "libqoffscreen"),
}
KEEP_TRANSLATIONS = {"qtbase_es.qm"}
# Qt libraries no kept plugin or imported module needs (matched on the file name, any platform).
DROP_LIBRARIES = re.compile(
    r"(?i)^(lib)?(qt6(svg|network|pdf|quick\w*|qml\w*|waylandclient|waylandeglclienthwintegration|"
    r"wlshellintegration|eglfsdeviceintegration|eglfskmssupport|opengl|openglwidgets|virtualkeyboard)"
    r"(\.so(\.\d+)*|\.dll)|opengl32sw\.dll|d3dcompiler_\d+\.dll)$"
)
# Python packages that hooks pull in through optional imports the app never makes.
EXCLUDED_MODULES = [
    # Other Qt bindings and GUI toolkits.
    "PyQt5",
    "PyQt6",
    "PySide2",
    "tkinter",
    "_tkinter",
    "turtle",
    "turtledemo",
    # Unused PySide6 modules (only QtCore, QtGui and QtWidgets are imported).
    "PySide6.QtNetwork",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtSvg",
    "PySide6.QtSvgWidgets",
    "PySide6.QtPrintSupport",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtUiTools",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    # Development tools reached through plugins (pydantic.mypy) and optional imports.
    "mypy",
    "mypyc",
    "librt",
    "ast_serialize",
    "yaml",
    "pytest",
    "_pytest",
    "hypothesis",
    "schemathesis",
    "IPython",
    "pdb",
    "doctest",
    "curses",
    "_curses",
    "readline",
    "lib2to3",
    "setuptools",
    "pip",
    # The desktop's embedded server is SQLite only; a central server is reached over HTTP.
    "psycopg",
    "psycopg_binary",
    "psycopg2",
    "psycopg_pool",
    "cmdesk.server.stamping_fast",
    "cmdesk.devtools",
    # fastapi's and uvicorn's optional extras (the command-line tools, reloading, other servers).
    "fastapi_cli",
    "typer",
    "rich",
    "pygments",
    "markdown_it",
    "mdurl",
    "watchfiles",
    "websockets",
    "wsproto",
    "httptools",
    "uvloop",
]


def platform_key(platform: str) -> str:
    return "win32" if platform.startswith("win") else "darwin" if platform == "darwin" else "linux"


def keep(dest: str, platform: str) -> bool:
    """Whether the file at bundle path `dest` goes into the build for `platform` (`sys.platform`)."""
    path = dest.replace("\\", "/")
    name = path.rsplit("/", 1)[-1]
    if path.startswith(QT_PREFIX + "plugins/"):
        parts = path[len(QT_PREFIX + "plugins/") :].split("/")
        kind = parts[0]
        if kind not in KEEP_PLUGIN_TYPES:
            return False
        if kind == "platforms":
            stem = name.split(".", 1)[0]
            return stem in KEEP_PLATFORMS[platform_key(platform)]
        # The virtual keyboard is a Qt Quick component (it would bring Quick, Qml and Network back).
        return "virtualkeyboard" not in name.lower()
    if path.startswith(QT_PREFIX + "translations/"):
        return name in KEEP_TRANSLATIONS
    return DROP_LIBRARIES.match(name) is None


def prune(toc: Iterable[tuple[str, str, str]], platform: str) -> list[tuple[str, str, str]]:
    """The TOC entries (dest, source, typecode) to keep."""
    return [entry for entry in toc if keep(entry[0], platform)]


def _key(name: str, platform: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.lower() if platform_key(platform) == "win32" else base


def drop_unreachable(
    toc: Iterable[tuple[str, str, str]],
    imports_of: Callable[[str], Iterable[str]],
    platform: str,
) -> list[tuple[str, str, str]]:
    """The TOC without the shared libraries nothing kept links to.

    PyInstaller's dependency analysis runs before `prune`, so the libraries that only dropped
    plugins needed (GTK, Cairo, Pango, Kerberos… for the Linux platform themes) are still listed.
    The roots are the Python extensions, the kept Qt plugins and the Python library itself;
    `imports_of(source)` names the libraries a binary links to (PyInstaller's
    `bindepend.get_imports`). A `SYMLINK` entry stays when its target does.
    """
    entries = list(toc)
    binaries = {_key(e[0], platform): e for e in entries if e[2] == "BINARY"}

    def is_root(entry: tuple[str, str, str]) -> bool:
        dest, _source, kind = entry
        name = _key(dest, platform)
        return (
            kind == "EXTENSION"
            or dest.replace("\\", "/").startswith(QT_PREFIX + "plugins/")
            or name.startswith(("libpython", "python3"))
        )

    reached: set[str] = set()
    stack = [e for e in entries if e[2] in ("BINARY", "EXTENSION") and is_root(e)]
    while stack:
        entry = stack.pop()
        key = _key(entry[0], platform)
        if key in reached:
            continue
        reached.add(key)
        for name in imports_of(entry[1]):
            dependency = binaries.get(_key(name, platform))
            if dependency is not None:
                stack.append(dependency)
    out = []
    for entry in entries:
        dest, source, kind = entry
        if kind == "BINARY" and _key(dest, platform) not in reached:
            continue
        if kind == "SYMLINK" and _key(source, platform) in binaries and _key(source, platform) not in reached:
            continue
        out.append(entry)
    return out
