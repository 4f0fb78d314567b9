"""The dialogs of Clientes → Distribuidores: Agregar distribuidor (the manual's two steps) and convertir
un cliente en distribuidor. Both change the network of accounts and need the server's answer (the new
NIC, the administrator's confirmation e-mail), so they go online (`distribuidores.actions`). Transfers
to a sub-distributor use the Timbrado tab's `TransferDialog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from cmdesk.domain import contact, contracts, geography, identity
from cmdesk.domain.errors import validation_error
from cmdesk.services.server_info import server_now
from cmdesk.ui import translator
from cmdesk.ui.distribuidores import actions
from cmdesk.ui.kit.forms import FormDialog

if TYPE_CHECKING:
    from cmdesk.services.cache import Cache
    from cmdesk.ui.kit.actions import AppContext


tr = translator("distribuidores")


OWN_EMAIL = contact.OWN_EMAIL
OWN_MOBILE = contact.OWN_MOBILE
NEEDS_MULTINIVEL = "Administrar distribuidores requiere contratar «Multinivel» en Compras."


def own_contacts(cache: Cache) -> tuple[set[str], set[str]]:
    """The e-mails and phones of the signed-in account and its users (the new distributor's must
    differ: manual, "Alta de distribuidor en el portal", step 5)."""
    account = cache.account() or {}
    people = [account, *cache.all("profile")]
    return contact.own_contacts(
        [str(p.get("email") or "") for p in people],
        [str(p.get(key) or "") for p in people for key in ("phone", "mobile")],
    )


def has_multinivel(cache: Cache) -> bool:
    """Whether the cache shows a Multinivel contract in force (the server has the last word)."""
    return contracts.has_multinivel(cache.all("contract"), server_now())


# ---- Agregar distribuidor -----------------------------------------------------------------------------

COMPANY_FIELDS: tuple[tuple[str, str], ...] = (
    ("trade_name", "Nombre comercial"),
    ("phone", "Teléfono"),
    ("state", "Estado"),
    ("city", "Ciudad"),
    ("neighborhood", "Colonia"),
    ("street", "Calle"),
    ("exterior_number", "Número exterior"),
    ("interior_number", "Número interior"),
    ("postal_code", "Código postal"),
    ("business_activity", "¿A qué se dedica su empresa?"),
    ("comments", "Comentarios"),
)


class AddDistributorDialog(FormDialog):
    """Agregar distribuidor: first the administrator's e-mail and mobile (never the creating
    distributor's own), then the company's data; `Continuar` creates the sub-account online."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, tr("Alta de distribuidor"), parent, accept_text="Continuar")
        self.setObjectName("addDistributorDialog")
        self.step = 1
        self.stack = QStackedWidget(self)
        self.layout_.insertWidget(0, self.stack)
        # Step 1
        first = QWidget(self)
        first_form = QFormLayout(first)
        intro = QLabel(
            tr(
                "Por favor proporcione el correo electrónico y número de teléfono móvil del "
                "Administrador de la cuenta de distribuidor."
            ),
            first,
        )
        intro.setWordWrap(True)
        first_form.addRow(intro)
        self.email = QLineEdit(first)
        self.email.setPlaceholderText(tr("nombre@empresa.com.mx"))
        self.mobile = QLineEdit(first)
        self.mobile.setPlaceholderText(tr("10 dígitos, con lada"))
        self.add_field("email", tr("Correo electrónico"), self.email, form=first_form)
        self.add_field("mobile", tr("Número telefónico (móvil)"), self.mobile, form=first_form)
        self.stack.addWidget(first)
        # Step 2, in a scroll area: the manual's form is long.
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        second = QWidget(scroll)
        form = QFormLayout(second)
        heading = QLabel(tr("Datos de la empresa del nuevo distribuidor"), second)
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        form.addRow(heading)
        self.profile_name = QLineEdit(second)
        self.add_field("profile_name", tr("Nombre del administrador"), self.profile_name, form=form)
        self.name = QLineEdit(second)
        self.name.setPlaceholderText(tr("Empresa (persona física o moral)"))
        self.add_field("name", tr("Empresa"), self.name, form=form)
        self.rfc = QLineEdit(second)
        self.rfc.setMaxLength(16)
        self.add_field("rfc", tr("RFC"), self.rfc, hint=self._rfc_hint(""), form=form)
        self.rfc.textChanged.connect(self._rfc_changed)
        self.company: dict[str, QWidget] = {}
        for key, label in COMPANY_FIELDS:
            widget: QWidget
            if key == "state":
                combo = QComboBox(second)
                combo.addItem(tr("(Seleccione)"), "")
                for state in geography.MEXICAN_STATES:
                    combo.addItem(state, state)
                widget = combo
            elif key == "comments":
                text = QPlainTextEdit(second)
                text.setFixedHeight(text.fontMetrics().lineSpacing() * 3 + 12)
                widget = text
            else:
                line = QLineEdit(second)
                if key == "postal_code":
                    line.setMaxLength(5)
                widget = line
            self.company[key] = widget
            self.add_field(key, tr(label), widget, form=form)
        scroll.setWidget(second)
        self.stack.addWidget(scroll)
        self.stack.setCurrentIndex(0)
        self.back_button = self.buttons.addButton(tr("Atrás"), QDialogButtonBox.ButtonRole.ResetRole)
        self.back_button.setObjectName("backButton")
        self.back_button.clicked.connect(lambda: self.go_to(1))
        self.back_button.hide()
        self.resize(520, 240)

    @staticmethod
    def _rfc_hint(value: str) -> str:
        return tr("{counter} (mínimo 12, máximo 13 caracteres)").format(
            counter=identity.rfc_counter_text(value)
        )

    def _rfc_changed(self, text: str) -> None:
        hint = self.findChild(QLabel, "rfc_hint")
        if isinstance(hint, QLabel):
            hint.setText(self._rfc_hint(text))

    def company_value(self, key: str) -> str:
        widget = self.company[key]
        if isinstance(widget, QComboBox):
            return str(widget.currentData() or "")
        if isinstance(widget, QPlainTextEdit):
            return widget.toPlainText().strip()
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def go_to(self, step: int) -> None:
        self.step = step
        self.stack.setCurrentIndex(step - 1)
        self.back_button.setVisible(step == 2)
        if step == 2:
            self.resize(max(self.width(), 600), 640)
            self.profile_name.setFocus()
        else:
            self.email.setFocus()

    def field_for(self, name: str) -> str:
        return name

    def _check_contacts(self) -> tuple[str, str]:
        v = contact.Validator()
        email = v.run("email", contact.check_email, self.email.text())
        mobile = v.run("mobile", contact.check_phone, self.mobile.text())
        v.raise_if_any()
        assert email is not None and mobile is not None
        session = self.context.session
        if session is not None and session.cache is not None:
            errors = contact.own_contact_problems(own_contacts(session.cache), email=email, mobile=mobile)
            if errors:
                raise validation_error({k: tr(v) for k, v in errors.items()})
        return email, mobile

    def submit(self) -> None:
        if self.step == 1:
            self._check_contacts()
            self.go_to(2)
            return
        email, mobile = self._check_contacts()
        v = contact.Validator()
        name = v.run("name", contact.check_required, self.name.text(), "Empresa")
        rfc = v.run("rfc", identity.check_rfc, self.rfc.text())
        phone = v.optional("phone", contact.check_phone, self.company_value("phone"))
        v.optional("postal_code", contact.check_postal_code, self.company_value("postal_code"))
        v.raise_if_any()
        assert name is not None and rfc is not None
        session = self.context.session
        if phone and session is not None and session.cache is not None:
            errors = contact.own_contact_problems(own_contacts(session.cache), phone=phone)
            if errors:
                raise validation_error({k: tr(v) for k, v in errors.items()})
        body: dict[str, Any] = {
            "email": email,
            "mobile": mobile,
            "name": name,
            "rfc": rfc.rfc,
            "profile_name": self.profile_name.text().strip(),
        }
        for key, _label in COMPANY_FIELDS:
            body[key] = self.company_value(key)
        body["phone"] = phone or ""
        self.run(actions.create(self.context, body, parent=self))

    def set_errors(self, errors: Mapping[str, str], detail: str = "") -> None:
        # A refusal of the e-mail or the mobile takes the user back to the first step.
        if self.step == 2 and ("email" in errors or "mobile" in errors):
            self.go_to(1)
        super().set_errors(errors, detail)


def created_text(answer: Mapping[str, Any]) -> str:
    """What to tell after Alta de distribuidor (the manual: the account is being provisioned)."""
    distributor = answer.get("distributor") or {}
    nic = distributor.get("nic") or ""
    if distributor.get("status") == "unvalidated":
        then = tr(
            "La cuenta queda «Sin validar» hasta que su administrador confirme el correo electrónico "
            "que se le envió; después aparecerá en la pestaña «Sin activar», donde usted la activa."
        )
    else:
        then = tr(
            "El administrador ya tiene un perfil confirmado: la cuenta está en la pestaña «Sin activar»; "
            "actívela para que pueda usarse plenamente."
        )
    return (
        tr("La cuenta de sub-distribuidor {name} (NIC {nic}) se creó correctamente.").format(
            name=distributor.get("name") or "", nic=nic
        )
        + "\n\n"
        + then
    )


# ---- Convertir un cliente en distribuidor --------------------------------------------------------------


class ConvertClientDialog(FormDialog):
    """A client becomes a sub-distributor with its own data; the client stays as it is."""

    def __init__(self, context: AppContext, client: Mapping[str, Any], parent: QWidget | None = None) -> None:
        name = str(client.get("name") or "")
        nic = str(client.get("nic") or "")
        super().__init__(
            context,
            tr("Convertir en distribuidor"),
            parent,
            accept_text="Convertir",
            intro=tr(
                "Se creará una cuenta de distribuidor con los datos del cliente [{nic}] {name} "
                "(el cliente conserva sus cuentas de timbrado y saldos). Proporcione el correo "
                "electrónico y el número de teléfono móvil del Administrador de la nueva cuenta."
            ).format(nic=nic, name=name),
        )
        self.setObjectName("convertClientDialog")
        self.client_id = str(client.get("id") or "")
        self.email = QLineEdit(self)
        self.mobile = QLineEdit(self)
        self.profile_name = QLineEdit(self)
        self.profile_name.setText(str(client.get("legal_name") or ""))
        self.add_field("email", tr("Correo electrónico"), self.email)
        self.add_field("mobile", tr("Número telefónico (móvil)"), self.mobile)
        self.add_field("profile_name", tr("Nombre del administrador"), self.profile_name)
        self.fit_width(520)

    def submit(self) -> None:
        v = contact.Validator()
        email = v.run("email", contact.check_email, self.email.text())
        mobile = v.run("mobile", contact.check_phone, self.mobile.text())
        v.raise_if_any()
        session = self.context.session
        if session is not None and session.cache is not None:
            errors = contact.own_contact_problems(own_contacts(session.cache), email=email, mobile=mobile)
            if errors:
                raise validation_error({k: tr(v) for k, v in errors.items()})
        body = {"email": email, "mobile": mobile, "profile_name": self.profile_name.text().strip()}
        self.run(actions.convert_client(self.context, self.client_id, body, parent=self))
