"""The `cmdesk` command (a gui-script): hands over to the Qt application, imported only here, late.

Keeping Qt out of this module's imports lets the core be imported (and tested) without PySide6.
A Windows gui-script has no console; `--version` and `--self-test` write to the console of the
command prompt that started them when there is one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

_CONSOLE_FLAGS = ("--version", "--self-test", "--measure-startup", "-h", "--help")


def _attach_console() -> None:
    """pythonw has no stdout: borrow the parent's console (cmd.exe) for the text answers."""
    if sys.platform != "win32" or sys.stdout is not None:
        return
    try:
        import ctypes

        attach_parent_process = -1
        if ctypes.windll.kernel32.AttachConsole(attach_parent_process):
            sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            sys.stderr = sys.stdout
    except (AttributeError, OSError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in _CONSOLE_FLAGS or a.startswith("--server") for a in args):
        _attach_console()
    try:
        from cmdesk.ui.app import main as ui_main

        return ui_main(args)
    except SystemExit as exit_:  # argparse's --version / --help / usage errors
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except BaseException as exc:
        # The windowed app has no console: leave the traceback where the user can send it from.
        if not isinstance(exc, KeyboardInterrupt):
            from cmdesk.services.frozen import record_crash

            record_crash(exc)
        raise


if __name__ == "__main__":
    sys.exit(main())
