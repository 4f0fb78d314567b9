"""Herramientas → Usuarios (manual, "Administración de usuarios"): the people with access to the
account (ID usuario, Nombre, Correo, Teléfono, "Usuario maestro", Rol), Nuevo usuario (e-mail and mobile,
then Agregar usuario), Cambiar rol (Administrador u Operador; never the master, always administrator)
and Eliminar (never the master: the server says why).

Granting and removing access is done online (`herramientas.actions`), and only by an administrator
(`domain.roles`; the buttons are hidden for an operator). Nuevo usuario invites the person with a role
(Administrador u Operador): the server answers the same whether or not the e-mail has a profile, and
the person gets access only when they accept from their own e-mail (issue 15: consent). Until then
they are listed as pending, from their invitation (its link works 7 days); the list shows each
invitation's state (Pendiente, Por enviar, Aceptada, Vencida, Correo fallido: the mail server's answer
in the tooltip) and «Reenviar invitación» sends a new link (the previous one stops working). Eliminar
ends a user's sessions at once, or withdraws a pending invitation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import contact, mails, names, roles
from cmdesk.domain.enums import Role
from cmdesk.domain.roles import Permission
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui import locale as fmt
from cmdesk.ui.herramientas import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.export import export_button
from cmdesk.ui.kit.forms import ERROR_COLOR, FieldMessage, FormDialog, hbox, heading, push_button
from cmdesk.ui.kit.messages import ask, error_text, inform
from cmdesk.ui.kit.table import TOOLTIP, Column, PagedTableModel, make_table, selected_record
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("herramientas")


SHORT_ID = 8


def short_id(ident: Any) -> str:
    """A user's id as the Usuarios table shows it: its first `SHORT_ID` characters, in capitals."""
    return str(ident or "")[:SHORT_ID].upper()


COLUMNS = (
    # The manual's «ID usuario»: its first 8 characters in capitals, enough to tell users apart and to
    # quote it to support; the whole id in the cell's tooltip.
    Column("id", QT_TRANSLATE_NOOP("portal", "ID usuario"), value=lambda r: short_id(r.get("id"))),
    Column("name", QT_TRANSLATE_NOOP("portal", "Nombre"), sort="name"),
    Column("email", QT_TRANSLATE_NOOP("portal", "Correo"), sort="email"),
    Column("mobile", QT_TRANSLATE_NOOP("portal", "Teléfono"), sort="mobile"),
    Column("email_confirmed", QT_TRANSLATE_NOOP("portal", "Confirmado"), "bool"),
    Column(
        "role",
        QT_TRANSLATE_NOOP("portal", "Rol"),
        value=lambda r: labels.name(names.ROLES, r["role"]) if r.get("role") else "",
    ),
    Column(
        "is_master",
        QT_TRANSLATE_NOOP("portal", "Eliminar"),
        value=lambda r: labels.name(names.ROLES, Role.MASTER) if r.get("is_master") else "",
    ),
    Column(
        "invitation",
        QT_TRANSLATE_NOOP("portal", "Invitación"),
        value=lambda r: labels.invitation(mails.invitation_state(r.get("invitation"))),
    ),
)
INVITATION_COLUMN = len(COLUMNS) - 1
ID_COLUMN = 0


def invitation_detail(invitation: Mapping[str, Any] | None, now: dt.datetime | None = None) -> str:
    """When the invitation went out, until when its link works, and why its mail failed (Spanish)."""
    if not invitation:
        return ""
    state = mails.invitation_state(invitation, now)
    mail = invitation.get("mail") or {}
    lines: list[str] = []
    if state == "accepted":
        lines.append(tr("Aceptada el {date}.").format(date=fmt.date_time(invitation.get("accepted_at"))))
    elif state == "mail_failed":
        lines.append(
            tr("No se pudo enviar el correo a {email}: {error}.").format(
                email=invitation.get("email") or "",
                error=str(mail.get("last_error") or "").strip().rstrip("."),
            )
        )
        lines.append(tr("Revise el correo electrónico del usuario y use «Reenviar invitación»."))
    else:
        if mail.get("sent_at"):
            lines.append(
                tr("Enviada a {email} el {date}.").format(
                    email=invitation.get("email") or "", date=fmt.date_time(mail.get("sent_at"))
                )
            )
        elif state == "sending":
            lines.append(tr("El correo a {email} está en cola.").format(email=invitation.get("email") or ""))
            if mail.get("last_error"):
                lines.append(tr("Último intento: {error}").format(error=mail.get("last_error")))
        key = "El enlace venció el {date}." if state == "expired" else "El enlace vence el {date}."
        lines.append(tr(key).format(date=fmt.date_time(invitation.get("expires_at"))))
    return "\n".join(lines)


class UsersModel(PagedTableModel):
    """The users, with the invitation's detail as the tooltip of its cell and a failed mail in red."""

    def extra_data(self, row: int, column: int, role: int) -> Any:
        if column == ID_COLUMN and role == TOOLTIP:
            return str(self.row(row).get("id") or "") or None
        if column == INVITATION_COLUMN:
            invitation = self.row(row).get("invitation")
            if role == TOOLTIP:
                return invitation_detail(invitation) or None
            if role == int(Qt.ItemDataRole.ForegroundRole) and mails.invitation_state(invitation) in (
                "mail_failed",
                "expired",
            ):
                return QBrush(QColor(ERROR_COLOR))
        return super().extra_data(row, column, role)


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
            hint=tr(
                "La persona recibirá una invitación por correo para aceptar el acceso (y definir su "
                "contraseña, si aún no tiene; el enlace funciona 7 días); tendrá acceso cuando la acepte."
            ),
            form=form2,
        )
        self.role = QComboBox(second)
        self.role.setObjectName("role")
        for value, text in labels.items({r: names.ROLES[r] for r in roles.ASSIGNABLE}):
            self.role.addItem(text, value)
        self.role.setCurrentIndex(self.role.findData(roles.DEFAULT_ROLE.value))
        self.add_field(
            "role",
            tr("Rol"),
            self.role,
            hint=ROLE_HINT(),
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
                self.context,
                email=email,
                mobile=mobile,
                name=self.name.text().strip(),
                role=str(self.role.currentData()),
                parent=self,
            )
        )


class RoleDialog(FormDialog):
    """Cambiar rol: Administrador u Operador for one user (never the master: always administrator)."""

    def __init__(self, context: AppContext, user: Mapping[str, Any], parent: QWidget | None = None) -> None:
        who = str(user.get("name") or user.get("email") or "")
        super().__init__(
            context,
            tr("Cambiar rol"),
            parent,
            intro=tr("¿Qué podrá hacer {who} en esta Cuenta Maestra?").format(who=who),
        )
        self.setObjectName("roleDialog")
        self.user_id = str(user["id"])
        self.role = QComboBox(self)
        self.role.setObjectName("role")
        for value, text in labels.items({r: names.ROLES[r] for r in roles.ASSIGNABLE}):
            self.role.addItem(text, value)
        current = self.role.findData(user.get("role") or roles.DEFAULT_ROLE.value)
        self.role.setCurrentIndex(max(current, 0))
        self.add_field("role", tr("Rol"), self.role, hint=ROLE_HINT())
        self.fit_width(420)

    def submit(self) -> None:
        self.run(
            actions.set_user_role(self.context, self.user_id, str(self.role.currentData()), parent=self)
        )


def ROLE_HINT() -> str:
    return tr(
        "Administrador: usuarios, configuraciones, precios, compras y sub-distribuidores. "
        "Operador: clientes, cuentas de timbrado, transferencias y facturación."
    )


class UsersPage(TabPage):
    entities = frozenset({"profile", "settings", "invitation"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = UsersModel(context, COLUMNS, actions.load_users, parent=self)
        self.table = make_table(self.model, self, stretch=2, widths=(0, 24, 0, 12, 0, 14, 14, 14))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.new_button = push_button(tr("Nuevo usuario…"), self, "newUser", self.new_user)
        self.delete_button = push_button(tr("Eliminar"), self, "deleteUser", self.delete)
        self.resend_button = push_button(
            tr("Reenviar invitación"), self, "resendInvitation", self.resend_invitation
        )
        self.resend_button.setToolTip(
            tr("Envía un enlace nuevo por 7 días para aceptar la invitación; el anterior deja de funcionar.")
        )
        self.role_button = push_button(tr("Cambiar rol…"), self, "changeRole", self.change_role)
        self.role_button.setToolTip(tr("El usuario maestro siempre es administrador."))
        self.export_button = export_button(self, self.table, "usuarios", title=tr("Exportar usuarios"))
        buttons = hbox(
            self.new_button,
            self.role_button,
            self.resend_button,
            self.delete_button,
            None,
            self.export_button,
        )
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
        layout.addWidget(self.role_note)
        layout.addWidget(self.table, 1)
        # The selected user's invitation: when it went out, until when, or why its mail failed.
        self.detail = FieldMessage(self, "invitationDetail")
        layout.addWidget(self.detail)
        layout.addWidget(self.notice)
        self.model.loaded.connect(self._update)
        self._update()
        self.gate(
            Permission.USERS, self.new_button, self.role_button, self.resend_button, self.delete_button
        )

    def _update(self) -> None:
        row = selected_record(self.table)
        self.delete_button.setEnabled(row is not None)
        self.role_button.setEnabled(row is not None and not row.get("is_master"))
        self.resend_button.setEnabled(row is not None and mails.can_resend_invitation(row.get("invitation")))
        invitation = row.get("invitation") if row is not None else None
        text = invitation_detail(invitation).replace("\n", " ")
        if mails.invitation_state(invitation) in ("mail_failed", "expired"):
            self.detail.set_error(text)
        else:
            self.detail.set_ok(text)  # empty: hidden

    def change_role(self) -> RoleDialog | None:
        row = selected_record(self.table)
        if row is None or row.get("is_master"):
            return None
        dialog = RoleDialog(self.context, row, self)
        who = str(row.get("name") or row.get("email") or "")

        def changed(answer: dict[str, Any]) -> None:
            role = labels.name(names.ROLES, str(answer.get("role") or ""))
            self.show_notice(tr("{who} ahora es {role}.").format(who=who, role=role))

        dialog.done_ok.connect(changed)
        self.dialog = dialog
        dialog.open()
        return dialog

    def new_user(self) -> NewUserDialog:
        dialog = NewUserDialog(self.context, self)
        dialog.done_ok.connect(self._added)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _added(self, answer: dict[str, Any]) -> None:
        invitation = answer["user"].get("invitation") or {}
        email = invitation.get("email") or answer["user"].get("email") or ""
        self.show_notice(
            tr(
                "Enviamos una invitación a {email}; tendrá acceso a la cuenta cuando la acepte desde su "
                "correo (el enlace vence el {date})."
            ).format(email=email, date=fmt.date(invitation.get("expires_at")))
            + self._where_mail_goes()
        )

    def _where_mail_goes(self) -> str:
        session = self.context.session
        if session is not None and session.embedded:
            return " " + tr("(Servidor integrado: el correo está en Ayuda → Correos de prueba.)")
        return ""

    def resend_invitation(self) -> None:
        row = selected_record(self.table)
        if row is None or not mails.can_resend_invitation(row.get("invitation")):
            return
        ident = str(row["id"])
        email = str((row.get("invitation") or {}).get("email") or row.get("email") or "")

        def done(invitation: dict[str, Any]) -> None:
            self.show_notice(
                tr("Se envió una invitación nueva a {email}; el enlace vence el {date}.").format(
                    email=email, date=fmt.date(invitation.get("expires_at"))
                )
                + self._where_mail_goes()
            )

        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Usuarios"), error_text(error), error=True)

        actions.resend_invitation(self.context, ident, parent=self).success(done).failure(failed).run()

    def delete(self) -> None:
        row = selected_record(self.table)
        if row is None:
            return
        ident = str(row["id"])
        who = str(row.get("name") or row.get("email") or "")
        informative = (
            tr("La invitación a {who} se retira: su enlace deja de funcionar.")
            if row.get("pending")
            else tr("{who} ya no podrá entrar a esta Cuenta Maestra.")
        )
        ask(
            self,
            tr("Usuarios"),
            tr("¿Realmente desea eliminar al usuario?"),
            lambda: self._delete(ident, who),
            informative=informative.format(who=who),
        )

    def _delete(self, ident: str, who: str) -> None:
        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Usuarios"), error_text(error), error=True)

        actions.remove_user(self.context, ident, parent=self).success(
            lambda _r: self.show_notice(tr("Se eliminó al usuario {who}.").format(who=who))
        ).failure(failed).run()
