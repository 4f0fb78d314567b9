"""The Windows build, checked here (Linux) against the real Windows artifacts (scripts/check-windows.sh).

    python installer/check_windows.py bundle --wheels DIR [--linux-build DIR]
    python installer/check_windows.py iscc --iscc ISCC.exe --build DIR --out DIR

`bundle`: the Windows wheels of PySide6-Essentials and shiboken6 (the versions installed here), laid out
the way PyInstaller's PySide6 hooks lay them out on Windows, filtered by `installer/bundle_filter.py`
exactly as `installer/cmdesk.spec` filters them; asserts what must stay (`qwindows.dll`, `qoffscreen.dll`,
the Windows style, `qtbase_es.qm`, the Qt libraries those link to) and what must go (the other plugins,
translations and Qt libraries), checks that no kept binary links to a Qt library the filter dropped, and
prints the expected size of the Windows one-folder build.

How PyInstaller lays PySide6 out on Windows (PyInstaller/utils/hooks/qt/__init__.py, 6.x):
- `qt_rel_dir` is `PySide6` (not `PySide6/Qt`): plugins go to `PySide6/plugins/<type>/`, translations
  to `PySide6/translations/`;
- the hooks of the imported modules (QtCore, QtGui, QtWidgets) collect every plugin of the types
  PyInstaller's `_modules_info` associates with them and with the Qt libraries they link to, except
  plugins whose Qt libraries are missing; the translations of their base names (`qt_*`, `qtbase_*`);
- the PySide6 hook adds `opengl32sw.dll` (and ANGLE / ICU DLLs where the wheel has them);
- binary dependency analysis then follows each binary's PE imports (read with `pefile`, as PyInstaller
  does), searching the binary's own folder first, and keeps a library found inside a package at its
  path in the package (`PySide6/Qt6Core.dll`, `shiboken6/shiboken6.abi3.dll`).

`iscc`: runs the real Inno Setup compiler (under Wine, through the command given in `--wine`) on
installer/cmdesk.iss over a build folder, and fails on any error or warning it prints.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

INSTALLER = Path(__file__).resolve().parent
ROOT = INSTALLER.parent
sys.path.insert(0, str(INSTALLER))

import bundle_filter  # noqa: E402

PLATFORM = "win32"
# The PySide6 modules cmdesk imports (`cmdesk/ui/**`): their hooks decide what is collected.
IMPORTED_MODULES = ("QtCore", "QtGui", "QtWidgets")
GOAL_MB = 120.0

MB = 1_000_000


def pe_imports(data: bytes) -> set[str]:
    """The DLL names a PE file imports, plus the DLLs its exports forward to (as PyInstaller reads them)."""
    import pefile

    pe = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories(
        directories=[
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"],
        ],
        forwarded_exports_only=True,
        import_dllnames_only=True,
    )
    names = {entry.dll.decode() for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])}
    exports = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    for symbol in exports.symbols if exports else []:
        if symbol.forwarder is not None:
            names.add(symbol.forwarder.decode().split(".")[0] + ".dll")
    pe.close()
    return names


@dataclass
class Wheels:
    """The files of the Windows wheels, by their path inside site-packages (`PySide6/Qt6Core.dll`)."""

    files: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    archives: dict[str, zipfile.ZipFile] = field(default_factory=dict)
    _imports: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def open(cls, paths: Iterable[Path]) -> Wheels:
        wheels = cls()
        for path in paths:
            archive = zipfile.ZipFile(path)
            for info in archive.infolist():
                if info.is_dir() or ".dist-info/" in info.filename:
                    continue
                wheels.files[info.filename] = info
                wheels.archives[info.filename] = archive
        return wheels

    def size(self, name: str) -> int:
        return self.files[name].file_size

    def imports(self, name: str) -> set[str]:
        if name not in self._imports:
            self._imports[name] = pe_imports(self.archives[name].read(self.files[name]))
        return self._imports[name]

    def resolve(self, dll: str, importer: str) -> str | None:
        """Where Windows would find `dll` for `importer` among the wheels' files: the importer's own
        folder first, then the folders PySide6 adds to the DLL search path (PySide6/, shiboken6/)."""
        folders = [str(PurePosixPath(importer).parent), "PySide6", "shiboken6"]
        lowered = {name.lower(): name for name in self.files}
        for folder in folders:
            found = lowered.get(f"{folder}/{dll}".lower())
            if found:
                return found
        return None

    def glob(self, pattern: str) -> list[str]:
        return sorted(name for name in self.files if fnmatch.fnmatchcase(name, pattern))


@dataclass(frozen=True)
class QtModule:
    module: str | None  # the Python extension (`QtGui`), None for a library without one
    plugins: tuple[str, ...]
    translations: tuple[str, ...]


def qt_module_info() -> tuple[dict[str, QtModule], dict[str, QtModule]]:
    """PyInstaller's own table for PySide6 (`_modules_info`): by Python module, and by Qt library name
    (`qt6gui`), as `QtLibraryInfo._load_module_info` builds them."""
    from PyInstaller.utils.hooks.qt import _modules_info

    by_module: dict[str, QtModule] = {}
    by_library: dict[str, QtModule] = {}
    for entry in _modules_info.QT_MODULES_INFO:
        if entry.bindings and "PySide6" not in _modules_info.process_namespace_strings(entry.bindings):
            continue
        info = QtModule(entry.module, tuple(entry.plugins or ()), tuple(entry.translations or ()))
        if entry.module:
            by_module[entry.module] = info
        if entry.shared_lib:
            by_library[f"qt6{entry.shared_lib}".lower()] = info
    return by_module, by_library


def library_name(dll: str) -> str:
    """`_normalize_shared_library_name` on Windows: `Qt6Gui.dll` → `qt6gui`."""
    return PurePosixPath(dll).stem.lower()


def collect(wheels: Wheels) -> list[tuple[str, str, str]]:
    """The TOC (dest, source, typecode) PyInstaller would collect from the wheels on Windows."""
    by_module, by_library = qt_module_info()
    plugin_types: set[str] = set()
    translations: set[str] = set()
    pending, hooked = list(IMPORTED_MODULES), set()
    while pending:  # each hook's `add_qt6_dependencies` → `QtLibraryInfo.collect_module`
        module = pending.pop()
        if module in hooked:
            continue
        hooked.add(module)
        if module in by_module:
            plugin_types.update(by_module[module].plugins)
            translations.update(by_module[module].translations)
        source = f"PySide6/{module}.pyd"
        imported = {(dll, wheels.resolve(dll, source)) for dll in wheels.imports(source)}
        done: set[tuple[str, str | None]] = set()
        while imported:
            dll, path = imported.pop()
            done.add((dll, path))
            name = library_name(dll)
            if path is None or name not in by_library:
                continue
            if name == "qt6qml" and not module.startswith(("QtQml", "QtQuick")):
                continue
            info = by_library[name]
            if info.module and info.module != module:
                pending.append(info.module)  # a hidden import: its own hook does the rest
                continue
            if not info.module:
                plugin_types.update(info.plugins)
                translations.update(info.translations)
            imported |= {(d, wheels.resolve(d, path)) for d in wheels.imports(path)} - done

    toc: list[tuple[str, str, str]] = []
    for module in sorted(hooked):
        toc.append((f"PySide6/{module}.pyd", f"PySide6/{module}.pyd", "EXTENSION"))
    toc.append(("shiboken6/Shiboken.pyd", "shiboken6/Shiboken.pyd", "EXTENSION"))
    for kind in sorted(plugin_types):
        for plugin in wheels.glob(f"PySide6/plugins/{kind}/*.dll"):
            # collect_plugins: a plugin whose Qt libraries are not all there is left out.
            missing = [
                dll
                for dll in wheels.imports(plugin)
                if re.fullmatch(r"qt6\w+", library_name(dll)) and wheels.resolve(dll, plugin) is None
            ]
            if not missing:
                toc.append((plugin, plugin, "BINARY"))
    for base in sorted(translations):
        for qm in wheels.glob(f"PySide6/translations/{base}_*.qm"):
            toc.append((qm, qm, "DATA"))
    # hook-PySide6: collect_extra_binaries (all-or-none groups).
    groups = (
        ["libEGL.dll", "libGLESv2.dll"],
        ["opengl32sw.dll"],
        ["icudt??.dll", "icuin??.dll", "icuuc??.dll"],
    )
    for group in groups:
        found = [wheels.glob(f"PySide6/{pattern}") for pattern in group]
        if all(found):
            toc += [(name, name, "BINARY") for names in found for name in names]
    # Binary dependency analysis: every binary's imports found in the wheels, recursively.
    listed = {entry[0] for entry in toc}
    index = 0
    while index < len(toc):
        _dest, source, kind = toc[index]
        index += 1
        if kind not in ("BINARY", "EXTENSION"):
            continue
        for dll in sorted(wheels.imports(source)):
            found = wheels.resolve(dll, source)
            if found and found not in listed:
                listed.add(found)
                toc.append((found, found, "BINARY"))
    return [(dest.replace("/", "\\"), source, kind) for dest, source, kind in toc]


def filtered(wheels: Wheels, toc: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """What installer/cmdesk.spec keeps of the TOC: `prune`, then `drop_unreachable`."""

    def imports_of(source: str) -> list[str]:
        return sorted(wheels.imports(source)) if source.lower().endswith((".dll", ".pyd")) else []

    kept = bundle_filter.prune(toc, PLATFORM)
    return bundle_filter.drop_unreachable(kept, imports_of, PLATFORM)


def linux_rest_mb(build: Path) -> tuple[float, float]:
    """(MB of the Linux one-folder build outside Qt, MB of it that are libraries only Qt links to).

    Everything that is not PySide6/shiboken6 is the same Python code and the same packages on Windows
    (the native parts of both are of a similar size); the system libraries the Linux build carries for Qt
    alone (ICU, X11/xcb, GLib, fontconfig…) Windows takes from the system instead."""
    from PyInstaller.depend.bindepend import get_imports

    internal = build / "_internal"
    files = [p for p in build.rglob("*") if p.is_file() and not p.is_symlink()]
    rest = [p for p in files if not {"PySide6", "shiboken6"} & set(p.relative_to(build).parts[:2])]
    top_libs = {
        p.name: p for p in internal.iterdir() if ".so" in p.name and p.is_file() and not p.is_symlink()
    }
    roots = [
        p
        for p in files
        if p.name.endswith(".so")
        and "PySide6" not in p.parts
        and "shiboken6" not in p.parts
        and p.parent != internal
    ] + [p for name, p in top_libs.items() if name.startswith("libpython")]
    reached: set[str] = set()
    stack = list(roots)
    while stack:
        binary = stack.pop()
        for name, _path in get_imports(str(binary)):
            if name in top_libs and name not in reached:
                reached.add(name)
                stack.append(top_libs[name])
    qt_only = sum(
        p.stat().st_size
        for name, p in top_libs.items()
        if name not in reached and not name.startswith("libpython")
    )
    return sum(p.stat().st_size for p in rest) / MB, qt_only / MB


def check_bundle(wheel_dir: Path, linux_build: Path | None) -> int:
    wheel_paths = sorted(wheel_dir.glob("*.whl"))
    names = " ".join(p.name for p in wheel_paths)
    if "pyside6_essentials" not in names.lower() or "shiboken6" not in names.lower():
        print(f"Faltan las ruedas de Windows de PySide6-Essentials y shiboken6: {wheel_dir}", file=sys.stderr)
        return 2
    wheels = Wheels.open(wheel_paths)
    toc = collect(wheels)
    kept = filtered(wheels, toc)
    kept_names = {dest for dest, _s, _k in kept}
    dropped = sorted({dest for dest, _s, _k in toc} - kept_names)

    def kept_under(folder: str) -> list[str]:
        return sorted(
            n.rsplit("\\", 1)[-1] for n in kept_names if n.startswith(folder.replace("/", "\\") + "\\")
        )

    def collected_under(folder: str) -> list[str]:
        prefix = folder.replace("/", "\\") + "\\"
        return sorted(d.rsplit("\\", 1)[-1] for d, _s, _k in toc if d.startswith(prefix))

    failures: list[str] = []

    def expect(condition: bool, message: str) -> None:
        print(("  ok    " if condition else "  FALLA ") + message)
        if not condition:
            failures.append(message)

    plugins = {d.split("\\")[2] for d, _s, _k in toc if d.startswith("PySide6\\plugins\\")}
    plugin_count = sum(1 for d, _s, _k in toc if d.startswith("PySide6\\plugins\\"))
    translations = collected_under("PySide6/translations")
    print(f"Ruedas: {names}")
    print(
        f"PyInstaller recogería {len(toc)} archivos de Qt en Windows: {plugin_count} plugins "
        f"({', '.join(sorted(plugins))}), {len(translations)} traducciones"
    )
    print(f"El filtro conserva {len(kept)} y quita {len(dropped)}:")
    platforms = kept_under("PySide6/plugins/platforms")
    expect(
        platforms == ["qoffscreen.dll", "qwindows.dll"], f"plataformas: {platforms} (qwindows, qoffscreen)"
    )
    styles = kept_under("PySide6/plugins/styles")
    expect(
        "qmodernwindowsstyle.dll" in styles,
        f"estilos: {styles} (qmodernwindowsstyle: windowsvista, windows11)",
    )
    kept_types = {n.split("\\")[2] for n in kept_names if n.startswith("PySide6\\plugins\\")}
    expect(
        kept_types <= {"platforms", "styles", "platforminputcontexts"},
        f"tipos de plugin: {sorted(kept_types)}",
    )
    for kind in ("imageformats", "iconengines", "generic", "tls", "networkinformation", "platformthemes"):
        if kind in plugins:
            count = len(collected_under(f"PySide6/plugins/{kind}"))
            expect(not kept_under(f"PySide6/plugins/{kind}"), f"{kind}: todos quitados ({count})")
    kept_qm = kept_under("PySide6/translations")
    expect(kept_qm == ["qtbase_es.qm"], f"traducciones: {kept_qm} de {len(translations)}")
    for name in ("Qt6Core.dll", "Qt6Gui.dll", "Qt6Widgets.dll", "pyside6.abi3.dll", "QtWidgets.pyd"):
        expect(f"PySide6\\{name}" in kept_names, f"PySide6\\{name} conservado")
    expect("shiboken6\\shiboken6.abi3.dll" in kept_names, "shiboken6\\shiboken6.abi3.dll conservado")
    for name in ("opengl32sw", "Qt6Svg", "Qt6Network", "Qt6Pdf", "Qt6Quick", "Qt6Qml"):
        expect(f"PySide6\\{name}.dll" not in kept_names, f"PySide6\\{name}.dll fuera")
    # Nothing kept may link to a library of the wheels that the filter dropped.
    broken = []
    for dest, source, kind in kept:
        if kind in ("BINARY", "EXTENSION"):
            for dll in wheels.imports(source):
                found = wheels.resolve(dll, source)
                if found and found.replace("/", "\\") not in kept_names:
                    broken.append(f"{dest} → {dll}")
    expect(not broken, f"ningún binario conservado enlaza una biblioteca quitada {broken or ''}")

    qt_mb = sum(wheels.size(source) for _d, source, _k in kept) / MB
    before_mb = sum(wheels.size(source) for _d, source, _k in toc) / MB
    print(f"Qt y shiboken en la carpeta de Windows: {qt_mb:.1f} MB (sin el filtro: {before_mb:.1f} MB)")
    if linux_build is not None:
        rest_mb, qt_only_mb = linux_rest_mb(linux_build)
        expected = qt_mb + rest_mb - qt_only_mb
        print(
            f"Python, cmdesk y los demás paquetes (medidos en la compilación de Linux): {rest_mb:.1f} MB, "
            f"menos {qt_only_mb:.1f} MB de bibliotecas del sistema que sólo Qt usa en Linux (ICU, X11, GLib…)"
        )
        print(f"Tamaño esperado de la carpeta de Windows: {expected:.1f} MB (meta ≤ {GOAL_MB:.0f} MB)")
        expect(expected <= GOAL_MB, f"tamaño esperado {expected:.1f} MB ≤ {GOAL_MB:.0f} MB")
    if failures:
        print(f"{len(failures)} comprobaciones fallaron.", file=sys.stderr)
        return 1
    return 0


def iscc_problems(lines: Iterable[str]) -> list[str]:
    """ISCC's errors and warnings: it prints "Warning: …" (Pascal hints too), "Error on line …" and
    "Compile aborted." at the start of a line (a compressed file named `libgpg-error.so` is no error)."""
    return [line for line in lines if re.match(r"\s*(Warning|Error)\b|\s*Compile aborted", line)]


def check_iscc(wine: list[str], iscc: str, build: str, out: str, version: str) -> int:
    """Compiles installer/cmdesk.iss with ISCC; any `Error` or `Warning` it prints is a failure."""
    sys.path.insert(0, str(INSTALLER))
    import version_info

    numbers = ".".join(str(n) for n in version_info.file_version_tuple(version))
    command = [
        *wine,
        iscc,
        f"/DBuildDir={build}",
        f"/DAppVersion={version}",
        f"/DAppNumericVersion={numbers}",
        f"/O{out}",
        "/DCheckCompile",
        str(INSTALLER / "cmdesk.iss") if not wine else to_windows_path(INSTALLER / "cmdesk.iss"),
    ]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace")
    output = result.stdout + result.stderr
    lines = output.splitlines()
    # One line per file compressed or parsed: counted, not printed.
    noise = re.compile(r"^\s*(Compressing: |Storing: |Parsing \[|Reading version info: )")
    print("\n".join(line for line in lines if line.strip() and not noise.match(line)))
    packed = sum(1 for line in lines if re.match(r"\s*(Compressing|Storing): ", line))
    print(f"({packed} archivos empaquetados)")
    problems = iscc_problems(lines)
    if result.returncode != 0 or problems:
        print(f"ISCC: código {result.returncode}, {len(problems)} errores o advertencias.", file=sys.stderr)
        return 1
    setups = sorted(Path(out if not wine else from_windows_path(out)).glob("cmdesk-setup-*.exe"))
    if not setups:
        print("ISCC no dejó ningún cmdesk-setup-*.exe", file=sys.stderr)
        return 1
    size_mb = setups[-1].stat().st_size / MB
    print(f"Instalador: {setups[-1].name}, {size_mb:.1f} MB, compilado en {time.monotonic() - started:.0f} s")
    return 0


def to_windows_path(path: Path | str) -> str:
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def from_windows_path(path: str) -> str:
    return path[2:].replace("\\", "/") if path[:2].upper() == "Z:" else path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bundle = commands.add_parser("bundle")
    bundle.add_argument("--wheels", type=Path, required=True)
    bundle.add_argument("--linux-build", type=Path)
    iscc = commands.add_parser("iscc")
    iscc.add_argument("--wine", default="wine", help="the command that runs ISCC.exe ('' on Windows)")
    iscc.add_argument("--iscc", required=True)
    iscc.add_argument("--build", type=Path, required=True)
    iscc.add_argument("--out", type=Path, required=True)
    iscc.add_argument("--version", required=True)
    args = parser.parse_args(argv)
    if args.command == "bundle":
        return check_bundle(args.wheels, args.linux_build)
    wine = args.wine.split() if args.wine else []
    convert = to_windows_path if wine else str
    iscc_path = convert(args.iscc) if wine else args.iscc
    return check_iscc(wine, iscc_path, convert(args.build), convert(args.out), args.version)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUTF8", "1")
    sys.exit(main())
