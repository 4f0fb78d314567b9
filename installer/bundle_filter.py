"""What the one-folder build keeps of Qt: the plugins, translations and libraries cmdesk uses.

PyInstaller's PySide6 hooks collect every plugin of the types QtGui and QtWidgets may load (image
formats, platform themes, Wayland, EGL, TLS, …) and every translation of the collected modules. cmdesk
draws plain widgets, so the spec drops the rest with `keep(dest)`, applied to the TOC entries' bundle
paths before COLLECT.

Files are told apart by their role, not by the shape of one platform's path: PyInstaller lays PySide6
out as `PySide6/Qt/plugins/<type>/…` and `PySide6/Qt/translations/…` on Linux and macOS, but as
`PySide6\\plugins\\<type>\\…` and `PySide6\\translations\\…` on Windows (the wheel's own layout, with
the DLLs beside the Python extensions). `qt_role(dest)` reads either. The rules, per role:

- plugins (`KEEP_PLUGINS`, type → the names kept, `None` = all of them):
  - platforms: Windows `qwindows` (the desktop) and `qoffscreen` (`--self-test`, the test suite);
    Linux `qxcb` and `qoffscreen`; macOS `qcocoa` and `qoffscreen`;
  - styles: all (Windows: `qmodernwindowsstyle` holds "windowsvista" and "windows11");
  - platforminputcontexts (Linux: compose/IBus, so accents can be typed; not the Qt Quick virtual
    keyboard) and xcbglintegrations (xcb needs them to start): kept;
  - imageformats: none. cmdesk's only pictures are PNG (its window icon, drawn icons), which QtGui
    reads without a plugin; JPEG, GIF, SVG, PDF, WebP, TIFF… readers go;
  - tls, networkinformation: none. cmdesk never uses QtNetwork (it speaks HTTPS through `requests`
    and Python's `ssl`), so Qt's TLS backends would be dead weight;
  - every other type (platform themes, Wayland, EGL, generic input, icon engines, SQL drivers, QML
    tooling, Designer…) goes;
- translations: only `qtbase_es.qm` (what `cmdesk.ui.app.install_translations` loads);
- Qt libraries that only dropped plugins use (Svg, Network, Pdf, Quick/Qml, Wayland, EGL, the software
  OpenGL renderer) go. `--self-test` in the test suite is what proves nothing needed went with them.

`scripts/check-windows.sh` runs these rules over the real Windows wheels of PySide6, laid out as
PyInstaller lays them out on Windows (`installer/check_windows.py`). Importable without PyInstaller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# The Qt bindings' package folders inside a bundle (cmdesk uses PySide6; PyQt6's layout is the same).
QT_PACKAGES = ("PySide6", "PyQt6")

PLATFORM_PLUGINS = {
    "win32": ("qwindows", "qoffscreen"),
    "linux": ("qxcb", "qoffscreen"),
    "darwin": ("qcocoa", "qoffscreen"),
}
# Plugin type → the plugin names kept (without `lib` and extension); None keeps all of that type.
# "platforms" is per platform (PLATFORM_PLUGINS); a type not listed is dropped whole.
KEEP_PLUGINS: dict[str, frozenset[str] | None] = {
    "platforms": None,
    "styles": None,
    "platforminputcontexts": None,
    "xcbglintegrations": None,
    "imageformats": frozenset(),
    "tls": frozenset(),
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


@dataclass(frozen=True)
class QtRole:
    """What a file of the Qt bindings is: a plugin (`plugin_type`), a translation, or anything else of
    the package (`other`: Qt and binding libraries, Python extensions, data)."""

    kind: str  # "plugin", "translation" or "other"
    name: str  # the file name
    plugin_type: str = ""

    @property
    def stem(self) -> str:
        """A plugin's name without `lib` and extension: `qwindows.dll`, `libqxcb.so` → `qwindows`, `qxcb`."""
        stem = self.name.split(".", 1)[0]
        return stem[3:] if stem.startswith("lib") else stem


def qt_role(dest: str) -> QtRole | None:
    """The role of the file at bundle path `dest` within the Qt bindings, or None outside them.

    `PySide6/Qt/plugins/platforms/libqxcb.so` (Linux, macOS) and `PySide6\\plugins\\platforms\\qwindows.dll`
    (Windows) are both platform plugins; `…/translations/*.qm` are translations, in either layout."""
    parts = [p for p in dest.replace("\\", "/").split("/") if p]
    if len(parts) < 2 or parts[0] not in QT_PACKAGES:
        return None
    rest = parts[1:]
    if rest[0] in ("Qt", "Qt6") and len(rest) > 1:
        rest = rest[1:]
    if rest[0] == "plugins" and len(rest) >= 3:
        return QtRole("plugin", rest[-1], plugin_type=rest[1])
    if rest[0] == "translations" and len(rest) >= 2:
        return QtRole("translation", rest[-1])
    return QtRole("other", rest[-1])


def keep_plugin(role: QtRole, platform: str) -> bool:
    if role.plugin_type not in KEEP_PLUGINS:
        return False
    # The virtual keyboard is a Qt Quick component (it would bring Quick, Qml and Network back).
    if "virtualkeyboard" in role.name.lower():
        return False
    if role.plugin_type == "platforms":
        return role.stem in PLATFORM_PLUGINS[platform_key(platform)]
    names = KEEP_PLUGINS[role.plugin_type]
    return names is None or role.stem in names


def keep(dest: str, platform: str) -> bool:
    """Whether the file at bundle path `dest` goes into the build for `platform` (`sys.platform`)."""
    name = dest.replace("\\", "/").rsplit("/", 1)[-1]
    role = qt_role(dest)
    if role is not None and role.kind == "plugin":
        return keep_plugin(role, platform)
    if role is not None and role.kind == "translation":
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
        role = qt_role(dest)
        return (
            kind == "EXTENSION"
            or (role is not None and role.kind == "plugin")
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
