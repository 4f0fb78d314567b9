"""The Windows delivery files, checked here where Windows is not: the bundle's pruning rules, the
version resource, the icon, the Inno Setup script's promises (per-user, Spanish, fixed AppId, silent
updates that relaunch, data kept on uninstall) and the Windows workflow's shape."""

from __future__ import annotations

import re
import struct
import sys
import types
from pathlib import Path

import pytest

import cmdesk
from cmdesk.services import frozen, paths, updates

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"
sys.path.insert(0, str(INSTALLER))

import bundle_filter  # noqa: E402
import version_info  # noqa: E402

ISS = (INSTALLER / "cmdesk.iss").read_text(encoding="utf-8")
WORKFLOW = ROOT / ".github" / "workflows" / "windows.yml"


# ---- what the one-folder build keeps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dest", "platform", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/qwindows.dll", "win32", True),
        ("PySide6/Qt/plugins/platforms/qoffscreen.dll", "win32", True),
        ("PySide6/Qt/plugins/platforms/qminimal.dll", "win32", False),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "linux", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "linux", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", "linux", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", "linux", False),
        ("PySide6/Qt/plugins/styles/qmodernwindowsstyle.dll", "win32", True),
        ("PySide6/Qt/plugins/imageformats/qjpeg.dll", "win32", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "linux", False),
        ("PySide6/Qt/plugins/tls/qopensslbackend.dll", "win32", False),
        ("PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so", "linux", True),
        ("PySide6/Qt/plugins/platforminputcontexts/qtvirtualkeyboardplugin.dll", "win32", False),
        # Windows: PyInstaller keeps the wheel's layout (no Qt/ folder), with backslashes.
        ("PySide6\\plugins\\platforms\\qwindows.dll", "win32", True),
        ("PySide6\\plugins\\platforms\\qoffscreen.dll", "win32", True),
        ("PySide6\\plugins\\platforms\\qdirect2d.dll", "win32", False),
        ("PySide6/plugins/platforms/qminimal.dll", "win32", False),
        ("PySide6\\plugins\\styles\\qmodernwindowsstyle.dll", "win32", True),
        ("PySide6\\plugins\\imageformats\\qjpeg.dll", "win32", False),
        ("PySide6\\plugins\\imageformats\\qsvg.dll", "win32", False),
        ("PySide6\\plugins\\tls\\qschannelbackend.dll", "win32", False),
        ("PySide6\\plugins\\iconengines\\qsvgicon.dll", "win32", False),
        ("PySide6\\plugins\\generic\\qtuiotouchplugin.dll", "win32", False),
        ("PySide6\\plugins\\platforminputcontexts\\qtvirtualkeyboardplugin.dll", "win32", False),
        ("PySide6\\translations\\qtbase_es.qm", "win32", True),
        ("PySide6\\translations\\qtbase_de.qm", "win32", False),
        ("PySide6\\translations\\qt_es.qm", "win32", False),
        ("PySide6\\Qt6Core.dll", "win32", True),
        ("PySide6\\Qt6Svg.dll", "win32", False),
        ("PySide6\\opengl32sw.dll", "win32", False),
        ("PySide6\\msvcp140.dll", "win32", True),
        ("shiboken6\\shiboken6.abi3.dll", "win32", True),
        ("PySide6/Qt/translations/qtbase_es.qm", "win32", True),
        ("PySide6/Qt/translations/qtbase_de.qm", "win32", False),
        ("PySide6/Qt/translations/qt_help_es.qm", "linux", False),
        ("PySide6/Qt6Widgets.dll", "win32", True),
        ("PySide6/Qt6Quick.dll", "win32", False),
        ("PySide6/Qt6Network.dll", "win32", False),
        ("PySide6/opengl32sw.dll", "win32", False),
        ("PySide6/Qt/lib/libQt6Pdf.so.6", "linux", False),
        ("PySide6/Qt/lib/libQt6Core.so.6", "linux", True),
        ("cmdesk/resources/demo/catalog.json", "win32", True),
        ("python312.dll", "win32", True),
    ],
)
def test_keep(dest, platform, kept):
    assert bundle_filter.keep(dest, platform) is kept


@pytest.mark.parametrize(
    ("dest", "kind", "plugin_type", "stem"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "plugin", "platforms", "qxcb"),
        ("PySide6\\plugins\\platforms\\qwindows.dll", "plugin", "platforms", "qwindows"),
        ("PySide6/plugins/styles/qmodernwindowsstyle.dll", "plugin", "styles", "qmodernwindowsstyle"),
        ("PyQt6/Qt6/plugins/platforms/libqcocoa.dylib", "plugin", "platforms", "qcocoa"),
        ("PySide6\\translations\\qtbase_es.qm", "translation", "", "qtbase_es"),
        ("PySide6/Qt/translations/qt_help_de.qm", "translation", "", "qt_help_de"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "other", "", "Qt6Core"),
        ("PySide6\\Qt6Core.dll", "other", "", "Qt6Core"),
    ],
)
def test_qt_role_reads_both_layouts(dest, kind, plugin_type, stem):
    role = bundle_filter.qt_role(dest)
    assert role is not None
    assert (role.kind, role.plugin_type, role.stem) == (kind, plugin_type, stem)


def test_qt_role_is_none_outside_the_bindings():
    assert bundle_filter.qt_role("cmdesk/resources/cmdesk.png") is None
    assert bundle_filter.qt_role("plugins/platforms/qwindows.dll") is None


def test_other_bindings_and_tools_are_excluded():
    for name in ("PyQt5", "PyQt6", "PySide2", "tkinter", "mypy", "pytest", "psycopg", "cmdesk.devtools"):
        assert name in bundle_filter.EXCLUDED_MODULES


def test_libraries_only_dropped_plugins_needed_are_dropped():
    toc = [
        ("PySide6/QtGui.abi3.so", "/s/QtGui.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/s/libQt6Gui.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "/s/libQt6Core.so.6", "BINARY"),
        ("libglib-2.0.so.0", "/s/libglib-2.0.so.0", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/s/libqxcb.so", "BINARY"),
        ("libxcb-icccm.so.4", "/s/libxcb-icccm.so.4", "BINARY"),
        ("libgtk-3.so.0", "/s/libgtk-3.so.0", "BINARY"),  # only the dropped GTK theme used it
        ("libcairo.so.2", "/s/libcairo.so.2", "BINARY"),
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libgtk-3.so.0.link", "libgtk-3.so.0", "SYMLINK"),
        ("cmdesk/resources/demo/people.json", "/s/people.json", "DATA"),
    ]
    links = {
        "/s/QtGui.abi3.so": ["libQt6Gui.so.6", "libc.so.6"],
        "/s/libQt6Gui.so.6": ["libQt6Core.so.6", "libglib-2.0.so.0"],
        "/s/libqxcb.so": ["libxcb-icccm.so.4", "libQt6Gui.so.6"],
        "/s/libgtk-3.so.0": ["libcairo.so.2"],
    }
    kept = bundle_filter.drop_unreachable(toc, lambda source: links.get(source, []), "linux")
    names = [e[0] for e in kept]
    assert "libgtk-3.so.0" not in names and "libcairo.so.2" not in names and "libgtk-3.so.0.link" not in names
    for name in ("libQt6Core.so.6", "libglib-2.0.so.0", "libxcb-icccm.so.4", "libQt6Gui.so.6"):
        assert any(n.endswith(name) for n in names), name
    assert "cmdesk/resources/demo/people.json" in names


def test_windows_names_match_without_case():
    toc = [
        ("PySide6/QtCore.pyd", "C:/s/QtCore.pyd", "EXTENSION"),
        ("PySide6/Qt6Core.dll", "C:/s/Qt6Core.dll", "BINARY"),
        ("MSVCP140.dll", "C:/s/MSVCP140.dll", "BINARY"),
    ]
    links = {"C:/s/QtCore.pyd": ["QT6CORE.DLL"], "C:/s/Qt6Core.dll": ["msvcp140.dll"]}
    kept = bundle_filter.drop_unreachable(toc, lambda source: links.get(source, []), "win32")
    assert len(kept) == 3


# ---- version resource -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "numbers"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.0.0rc1", (2, 0, 0, 0)), ("3.4.5.6", (3, 4, 5, 6))],
)
def test_file_version_numbers(version, numbers):
    assert version_info.file_version_tuple(version) == numbers


def test_version_file_is_from_the_package_and_pyinstaller_reads_it(tmp_path, monkeypatch):
    assert version_info.package_version() == cmdesk.__version__
    path = version_info.write_version_file(tmp_path / "version_info.txt")
    text = path.read_text(encoding="utf-8")
    assert f"StringStruct('ProductVersion', '{cmdesk.__version__}')" in text
    pytest.importorskip("PyInstaller")
    if sys.platform != "win32":  # the reader's Windows-only imports, not used for reading text
        monkeypatch.setitem(sys.modules, "pefile", types.ModuleType("pefile"))
        import PyInstaller.compat

        monkeypatch.setattr(PyInstaller.compat, "win32api", None, raising=False)
    from PyInstaller.utils.win32.versioninfo import load_version_info_from_text_file

    info = load_version_info_from_text_file(str(path))
    assert info.ffi.fileVersionMS >> 16 == version_info.file_version_tuple(cmdesk.__version__)[0]
    assert len(info.toRaw()) > 500


# ---- icon -----------------------------------------------------------------------------------------------


def test_icon_holds_every_windows_size_as_png():
    data = (INSTALLER / "cmdesk.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        width, _h, _c, _r, _planes, _bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        sizes.append(width or 256)
        assert data[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + length <= len(data)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]
    assert (INSTALLER / "cmdesk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ROOT / "cmdesk" / "resources" / "cmdesk.png").is_file()


# ---- the Inno Setup script ------------------------------------------------------------------------------


def setting(name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", ISS, re.MULTILINE)
    assert match, name
    return match.group(1).strip()


def test_per_user_install_overridable_to_all_users():
    assert setting("PrivilegesRequired") == "lowest"
    assert setting("PrivilegesRequiredOverridesAllowed") == "dialog commandline"
    assert setting("DefaultDirName").startswith("{autopf}")


def test_spanish_wizard_and_shortcuts():
    assert 'Name: "spanish"; MessagesFile: "compiler:Languages\\Spanish.isl"' in ISS
    assert "{autoprograms}" in ISS and "{autodesktop}" in ISS and "Tasks: desktopicon" in ISS
    assert re.search(r'Name: "desktopicon";.*Flags: unchecked', ISS)


def test_fixed_app_id_and_version_from_the_build():
    assert re.fullmatch(r"\{\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", setting("AppId"))
    assert setting("AppId") == "{{6F0C3B9E-2D4A-4E7B-9A51-C8D2E7F41B63}"  # never change it
    assert 'GetStringFileInfo(BuildDir + "\\" + AppExeName, "ProductVersion")' in ISS
    assert setting("AppVersion") == "{#AppVersion}"


def test_silent_updates_close_and_relaunch_cmdesk():
    assert f'#define AppMutexName "{frozen.APP_MUTEX}"' in ISS
    assert setting("AppMutex") == "{#AppMutexName},Global\\{#AppMutexName}"
    assert setting("CloseApplications") == "yes"
    name, value = updates.RELAUNCH_ARGUMENT.lstrip("/").split("=")
    assert f"ExpandConstant('{{param:{name}|0}}') = '{value}'" in ISS
    assert "Check: RelaunchAfterUpdate" in ISS and "skipifsilent" in ISS
    app_source = (ROOT / "cmdesk" / "ui" / "app.py").read_text(encoding="utf-8")
    user_model_id = re.search(r'#define AppUserModelID "([^"]+)"', ISS)
    assert user_model_id and f'SetCurrentProcessExplicitAppUserModelID("{user_model_id.group(1)}")' in app_source


def test_the_check_compile_changes_only_the_compression():
    """scripts/check-windows.sh compiles with /DCheckCompile: what it checks must be the release script."""
    block = re.search(r"^#ifdef CheckCompile\n(.*?)^#else\n(.*?)^#endif", ISS, re.MULTILINE | re.DOTALL)
    assert block
    settings = [line.split("=")[0] for line in block.group(1).splitlines() if line and not line.startswith(";")]
    assert settings == ["Compression", "SolidCompression"]
    assert block.group(2).split() == ["Compression=lzma2/max", "SolidCompression=yes"]
    assert ISS.count("CheckCompile") == 1


def test_uninstaller_keeps_the_data_unless_asked():
    folder = re.search(r"DataFolder = '\{localappdata\}\\(.+)';", ISS)
    assert folder and folder.group(1) == f"{paths.APP_AUTHOR}\\{paths.APP_NAME}"
    assert "Check.Checked := False;" in ISS
    assert "ExpandConstant('{param:deletedata|0}') = '1'" in ISS
    assert "DelTree(ExpandConstant(DataFolder)" in ISS
    assert "[UninstallDelete]" not in ISS


# ---- the Windows workflow -------------------------------------------------------------------------------


def test_windows_workflow():
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = flow["jobs"]["build"]
    assert job["runs-on"] == "windows-latest"
    steps = job["steps"]
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.12"
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    for needle in (
        "./scripts/test.ps1",  # the README's commands run wherever the workflow runs
        "./scripts/run.ps1 --self-test",
        "installer/cmdesk.spec",
        "--self-test",
        "installer\\cmdesk.iss",
        "signtool sign",
        "/VERYSILENT",
    ):
        assert needle in runs, needle
    assert "Inno Setup 6\\ISCC.exe" not in runs  # found wherever the installed version puts it
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact") for s in steps)


def test_windows_workflow_is_hardened():
    """What zizmor checks (the test command runs it), kept visible here: actions pinned to a commit,
    no credentials left in the checkout, no cache in a job that publishes, secrets in one step only,
    and no `${{ }}` expanded inside a script."""
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = flow["jobs"]["build"]["steps"]
    for step in steps:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        assert "${{" not in str(step.get("run", "")), step.get("name")
        assert "secrets." not in str(step.get("if", ""))
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert "cache" not in python.get("with", {})
    with_secrets = [s for s in steps if "secrets." in str(s.get("env", ""))]
    assert [s["id"] for s in with_secrets] == ["cert"]
    assert "secrets." not in str(flow["jobs"]["build"].get("env", ""))
    signing = [s for s in steps if "signtool" in str(s.get("run", "")) and s.get("id") != "cert"]
    assert signing and all("thumbprint" in str(s.get("if", "")) or "THUMBPRINT" in str(s.get("run")) for s in signing)


# ---- the Windows check (scripts/check-windows.sh) -------------------------------------------------------


def test_iscc_errors_and_warnings_are_found_and_file_names_are_not():
    import check_windows
    output = [
        r"   Compressing: Z:\stage\cmdesk\_internal\libgpg-error.so.0",
        "Successful compile (0.564 sec). Resulting Setup program filename is:",
        'Warning: Architecture identifier "x64" is deprecated.',
        "Warning: Line 11, Column 5: [Hint] Variable 'X' never used",
        "Error on line 40 in Z:\\w\\installer\\cmdesk.iss: No existe cmdesk.exe en BuildDir",
        "Compile aborted.",
    ]
    assert check_windows.iscc_problems(output) == output[2:]
    assert check_windows.iscc_problems(output[:2]) == []
