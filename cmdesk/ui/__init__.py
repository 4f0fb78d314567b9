"""The PySide6 desktop interface of cmdesk: the only package that imports Qt.

`app` starts the QApplication and the main window; `main_window` holds the header, the tabs (the
portal's menus, from the registry in `tabs`), the status bar and the menus; `operations` runs work
off the UI thread; `locale` formats money and dates for Mexico.
"""

from __future__ import annotations

from collections.abc import Callable


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Mark `text` for translation in `context` where a table of texts is defined; it is translated
    (`QCoreApplication.translate(context, text)`) where it is shown. Qt's own version is typed as
    returning `object`; this one keeps the `str`."""
    return text


def translator(context: str) -> Callable[[str], str]:
    """A module's `tr`: its texts translated in `context` (`tr = translator("clientes")`)."""
    from PySide6.QtCore import QCoreApplication

    translate = QCoreApplication.translate

    def tr(text: str) -> str:
        return translate(context, text)

    return tr
