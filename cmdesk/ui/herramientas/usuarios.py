"""Herramientas → Usuarios (manual, "Administración de usuarios"): the people with access to the
account (ID usuario, Nombre, Correo, Teléfono, "Usuario maestro"), Nuevo usuario (e-mail and mobile, then
Agregar usuario) and Eliminar (never the master: the server says why).

Granting and removing access is done online (`herramientas.actions`): the server decides whether the
e-mail and mobile belong to an existing profile, and a removed user's sessions end at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import contact, names
from cmdesk.domain.enums import Role
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui.herramientas import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import FormDialog, hbox, heading, push_button
from cmdesk.ui.kit.messages import ask, error_text, inform
from cmdesk.ui.kit.table import Column, PagedTableModel, make_table, selected_record
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("herramientas")


COLUMNS = (
    Column("id", QT_TRANSLATE_NOOP("portal", "ID usuario")),
    Column("name", QT_TRANSLATE_NOOP("portal", "Nombre"), sort="name"),
    Column("email", QT_TRANSLATE_NOOP("portal", "Correo"), sort="email"),
    Column("mobile", QT_TRANSLATE_NOOP("portal", "Teléfono"), sort="mobile"),
    Column("email_confirmed", QT_TRANSLATE_NOOP("portal", "Confirmado"), "bool"),
    Column(
        "is_master",
        QT_TRANSLATE_NOOP("portal", "Eliminar"),
        value=lambda r: labels.name(names.ROLES, Role.MASTER) if r.get("is_master") else "",
    ),
)


class NewUserDialog(FormDialog):
    """Nuevo usuario: the person's e-mail and mobile; then their details and «Agregar usuario»."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, tr("Nuevo usuario"), parent, accept_text="Siguiente")
        self.setObjectName("newUserDialog")
        self.step = 1
        self.stack = QStackedWidget(self)
        self.layout_.insertWidget(0, self.stack)
        first = QWidget(self)
        form = QFormLayout(first)
        intro = QLabel(
            tr("Por favor proporcione el correo electrónico y número de teléfono móvil del nuevo usuario."),
            first,
        )
        intro.setWordWrap(True)
        form.addRow(intro)
        self.email = QLineEdit(first)
        self.mobile = QLineEdit(first)
        self.add_field("email", tr("Correo electrónico"), self.email, form=form)
        self.add_field("mobile", tr("Número telefónico (móvil)"), self.mobile, form=form)
        self.stack.addWidget(first)
        second = QWidget(self)
        form2 = QFormLayout(second)
        self.summary = QLabel(second)
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        form2.addRow(self.summary)
        self.name = QLineEdit(second)
        self.add_field(
            "name",
            tr("Nombre"),
            self.name,
            hint=tr("Si la persona aún no tiene perfil, recibirá un correo para definir su contraseña."),
            form=form2,
        )
        self.stack.addWidget(second)
        self.fit_width(480)

    def _checked(self) -> tuple[str, str]:
        v = contact.Validator()
        email = v.run("email", contact.check_email, self.email.text())
        mobile = v.run("mobile", contact.check_phone, self.mobile.text())
        v.raise_if_any()
        assert email is not None and mobile is not None
        return email, mobile

    def go_to(self, step: int) -> None:
        self.step = step
        self.stack.setCurrentIndex(step - 1)
        self.ok_button.setText(tr("Agregar usuario") if step == 2 else tr("Siguiente"))

    def set_errors(self, errors: Mapping[str, str], detail: str = "") -> None:
        if self.step == 2 and ("email" in errors or "mobile" in errors):
            self.go_to(1)
        super().set_errors(errors, detail)

    def submit(self) -> None:
        email, mobile = self._checked()
        if self.step == 1:
            self.summary.setText(
                tr("Correo electrónico: {email}\nTeléfono móvil: {mobile}").format(email=email, mobile=mobile)
            )
            self.go_to(2)
            self.name.setFocus()
            return
        self.run(
            actions.add_user(
                self.context, email=email, mobile=mobile, name=self.name.text().strip(), parent=self
            )
        )


class UsersPage(TabPage):
    entities = frozenset({"profile", "settings"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = PagedTableModel(context, COLUMNS, actions.load_users, parent=self)
        self.table = make_table(self.model, self, stretch=2, widths=(0, 24, 0, 12, 0, 14))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.new_button = push_button(tr("Nuevo usuario…"), self, "newUser", self.new_user)
        self.delete_button = push_button(tr("Eliminar"), self, "deleteUser", self.delete)
        buttons = hbox(self.new_button, self.delete_button, None)
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Usuarios"),
                self,
                tr(
                    "Cree y administre a los usuarios: cada uno entra a esta Cuenta Maestra con su propio "
                    "perfil y puede realizar los movimientos que requiera."
                ),
            )
        )
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notice)
        self.model.loaded.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.delete_button.setEnabled(selected_record(self.table) is not None)

    def new_user(self) -> NewUserDialog:
        dialog = NewUserDialog(self.context, self)
        dialog.done_ok.connect(self._added)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _added(self, answer: dict[str, Any]) -> None:
        user = answer["user"]
        who = user.get("name") or user.get("email") or ""
        if answer.get("created"):
            text = tr("Se agregó a {who}; recibirá un correo para definir su contraseña.").format(who=who)
        else:
            text = tr("Se agregó a {who} con su perfil existente.").format(who=who)
        self.show_notice(text)

    def delete(self) -> None:
        row = selected_record(self.table)
        if row is None:
            return
        ident = str(row["id"])
        who = str(row.get("name") or row.get("email") or "")
        ask(
            self,
            tr("Usuarios"),
            tr("¿Realmente desea eliminar al usuario?"),
            lambda: self._delete(ident, who),
            informative=tr("{who} ya no podrá entrar a esta Cuenta Maestra.").format(who=who),
        )

    def _delete(self, ident: str, who: str) -> None:
        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Usuarios"), error_text(error), error=True)

        actions.remove_user(self.context, ident, parent=self).success(
            lambda _r: self.show_notice(tr("Se eliminó al usuario {who}.").format(who=who))
        ).failure(failed).run()
