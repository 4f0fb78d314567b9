"""What the screens tell the user, and how: a failure in Spanish words (`error_text`, `field_errors`),
message boxes opened without a nested event loop (`inform`, `ask`: `open()`, never `exec()`, so tests
and the sync keep running; the parent keeps the last one in `last_box`), and what to do about a
command the server refused (`advice`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox, QWidget

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.services.api_client import ApiError, OfflineError
from cmdesk.services.outbox import Command, CommandState
from cmdesk.services.sync import SessionExpired
from cmdesk.ui import QT_TRANSLATE_NOOP, translator

CONTEXT = "messages"


tr = translator(CONTEXT)


OFFLINE_TEXT = QT_TRANSLATE_NOOP(
    CONTEXT, "Esta operación necesita conexión con el servidor; inténtelo de nuevo cuando haya conexión."
)
NO_SESSION_TEXT = QT_TRANSLATE_NOOP(CONTEXT, "Inicie sesión para trabajar con su Cuenta Maestra.")
CONTRACT_HINT = QT_TRANSLATE_NOOP(CONTEXT, "Puede contratarla en Compras → Suscripciones (o Compras → MKL).")


def field_errors(error: BaseException) -> dict[str, str]:
    """`{field: message}` of a refusal (from the server or a local check)."""
    if isinstance(error, ApiError):
        return error.field_errors()
    if isinstance(error, DomainError):
        return {e.field: e.message for e in error.errors}
    return {}


def error_text(error: BaseException) -> str:
    """The Spanish sentence(s) to show for a failed action: the server's reason (with where to buy a
    missing subscription), the lack of a connection, or a local check's message."""
    if isinstance(error, OfflineError):
        return tr(OFFLINE_TEXT)
    if isinstance(error, SessionExpired):
        return str(error)
    if isinstance(error, ApiError | DomainError):
        text = error.detail
        fields = field_errors(error)
        if len(fields) == 1 and text.strip().lower().startswith("los datos"):
            text = next(iter(fields.values()))  # "Los datos no son válidos" says less than the field
        if error.code == ErrorCode.FEATURE_NOT_CONTRACTED.value:
            text = f"{text}\n\n{tr(CONTRACT_HINT)}"
        return text
    return str(error) or type(error).__name__


# Boxes without a parent, kept alive until closed (nothing else holds a reference to them).
_OPEN: set[QMessageBox] = set()


def _remember(parent: QWidget | None, box: QMessageBox) -> QMessageBox:
    if parent is not None:
        setattr(parent, "last_box", box)  # noqa: B010 (any QWidget: not a declared attribute)
    else:
        _OPEN.add(box)
        box.finished.connect(lambda _result: _OPEN.discard(box))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def inform(
    parent: QWidget | None, title: str, text: str, *, error: bool = False, informative: str = ""
) -> QMessageBox:
    """A message with «Aceptar» (a warning when `error`)."""
    box = QMessageBox(parent)
    box.setObjectName("errorBox" if error else "infoBox")
    box.setIcon(QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information)
    box.setWindowTitle(title)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    ok = box.addButton(tr("Aceptar"), QMessageBox.ButtonRole.AcceptRole)
    ok.setObjectName("okButton")
    return _remember(parent, box)


def ask(
    parent: QWidget | None,
    title: str,
    text: str,
    on_yes: Callable[[], None],
    *,
    yes_text: str = "",
    no_text: str = "",
    informative: str = "",
    reason: bool = False,
) -> QMessageBox:
    """A confirmation: `on_yes` runs when the user accepts («Aceptar» / «Cancelar» unless named).
    `reason`: with a "Motivo" field (`reason_of(box)`), for the bitácora."""
    box = QMessageBox(parent)
    box.setObjectName("confirmBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    yes = box.addButton(yes_text or tr("Aceptar"), QMessageBox.ButtonRole.AcceptRole)
    yes.setObjectName("yesButton")
    no = box.addButton(no_text or tr("Cancelar"), QMessageBox.ButtonRole.RejectRole)
    no.setObjectName("noButton")
    box.setDefaultButton(no)
    if reason:
        add_reason(box)

    def clicked(button: object) -> None:
        if button is yes:
            on_yes()

    box.buttonClicked.connect(clicked)
    return _remember(parent, box)


REASON_MAX_LENGTH = 500  # what the server's bitácora keeps (`X-Cmdesk-Reason`)


def add_reason(box: QMessageBox) -> QLineEdit:
    """A "Motivo" field above a message box's buttons: the reason a sensitive action (block a CTI,
    suspend a distributor, change a price) was taken, kept in the server's bitácora."""
    from PySide6.QtWidgets import QDialogButtonBox, QGridLayout, QLabel

    edit = QLineEdit(box)
    edit.setObjectName("reason")
    edit.setMaxLength(REASON_MAX_LENGTH)
    edit.setPlaceholderText(tr("Opcional: queda en la bitácora"))
    label = QLabel(tr("Motivo:"), box)
    grid = box.layout()
    buttons = box.findChild(QDialogButtonBox)
    if isinstance(grid, QGridLayout) and buttons is not None:
        position: tuple[int, int, int, int] = grid.getItemPosition(grid.indexOf(buttons))  # type: ignore[assignment]
        row = position[0]
        grid.removeWidget(buttons)
        span = max(1, grid.columnCount())
        grid.addWidget(label, row, 0, 1, span)
        grid.addWidget(edit, row + 1, 0, 1, span)
        grid.addWidget(buttons, row + 2, 0, 1, span)
    box.setProperty("reasonField", True)
    return edit


def reason_of(box: QMessageBox | None) -> str:
    """The reason typed in a box made with `add_reason` ("" without one)."""
    edit = box.findChild(QLineEdit, "reason") if box is not None else None
    return edit.text().strip() if edit is not None else ""


# ---- commands the server refused ------------------------------------------------------------------

# What the user can do about each refusal.
ADVICE: Mapping[str, str] = {
    "insufficient_balance": QT_TRANSLATE_NOOP(
        CONTEXT,
        "No hay saldo suficiente. Compre timbres o puntos (menú Compras) y pulse «Reintentar con nueva "
        "clave», o descarte la operación.",
    ),
    "validation_error": QT_TRANSLATE_NOOP(
        CONTEXT,
        "El servidor no aceptó los datos. Descarte la operación y vuelva a capturarla con los datos "
        "corregidos.",
    ),
    "not_found": QT_TRANSLATE_NOOP(
        CONTEXT,
        "El registro ya no existe en el servidor (otro usuario pudo eliminarlo). Descarte la operación.",
    ),
    "version_conflict": QT_TRANSLATE_NOOP(
        CONTEXT,
        "Otro usuario cambió los mismos datos. Revise los valores de abajo, vuelva a capturar el cambio "
        "si aún lo necesita y descarte esta operación.",
    ),
    "duplicate": QT_TRANSLATE_NOOP(
        CONTEXT, "Ya existe un registro con esos datos. Revise la información y descarte la operación."
    ),
    "account_blocked": QT_TRANSLATE_NOOP(
        CONTEXT, "La cuenta está bloqueada. Actívela y pulse «Reintentar»."
    ),
    "feature_not_contracted": QT_TRANSLATE_NOOP(
        CONTEXT,
        "La operación requiere un servicio que no tiene contratado. Contrátelo y reintente, o descarte "
        "la operación.",
    ),
    "invalid_state_transition": QT_TRANSLATE_NOOP(
        CONTEXT, "El estado del registro ya no permite esta operación. Descártela."
    ),
}
DEFAULT_ADVICE = QT_TRANSLATE_NOOP(
    CONTEXT,
    "Corrija la causa y pulse «Reintentar», o descarte la operación si ya no la necesita.",
)


def advice(command: Command) -> str:
    """What to do about a refused command (or one in conflict)."""
    if command.state == CommandState.CONFLICT:
        return tr(ADVICE["version_conflict"])
    return tr(ADVICE.get(command.error_code or "", DEFAULT_ADVICE))
