"""Herramientas → Reglas de alerta: when the server warns of a low balance, and whom it tells.

The list shows the rule of the whole account and the one of the distributor's own stamps (stored, or
the defaults: D.R. ≤ 7 and saldo ≤ 0; D.R. ≤ 15 and ≤ 0), then the rules of particular clients and
CTIs. Agregar / Modificar open `RuleDialog`: thresholds of days remaining and of balance (up to five
each, "7, 15, 30"), who is told (the account's users; the client's contact with a message the
distributor edits, whose fields are `{cliente}`, `{cuenta}`, `{saldo}`, `{dias}`, `{distribuidor}`), and
the daily cap of e-mails per recipient (account rule only). The fields are checked here with
`cmdesk.domain.alert_rules` (the server's own checks, same Spanish words) and saved online with the
version they started from; Eliminar returns a scope to the rule above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cmdesk.domain import alert_rules, names
from cmdesk.domain.errors import validation_error
from cmdesk.domain.roles import Permission
from cmdesk.ui import QT_TRANSLATE_NOOP, translator
from cmdesk.ui.alertas import actions
from cmdesk.ui.kit import labels
from cmdesk.ui.kit.forms import FormDialog, delete_key, hbox, heading, push_button
from cmdesk.ui.kit.messages import ask, error_text, inform
from cmdesk.ui.kit.table import Column, PagedTableModel, make_table, selected_record
from cmdesk.ui.tabs import AppContext, TabPage

tr = translator("herramientas")

DEFAULT_PREFIX = "default:"


def _thresholds(values: Any, unit: str) -> str:
    items = [str(v) for v in values or []]
    return ", ".join(f"≤ {v}" for v in items) + (f" {unit}" if items else "") if items else "—"


def _who(rule: Mapping[str, Any]) -> str:
    who = []
    if rule.get("notify_users"):
        who.append(tr("usuarios"))
    if rule.get("notify_client"):
        who.append(tr("cliente"))
    return ", ".join(who) or tr("nadie")


COLUMNS = (
    Column(
        "scope",
        QT_TRANSLATE_NOOP("herramientas", "Se aplica a"),
        value=lambda r: labels.name(names.ALERT_RULE_SCOPES, r.get("scope")),
        context="herramientas",
    ),
    Column(
        "target",
        QT_TRANSLATE_NOOP("herramientas", "Cliente / cuenta"),
        value=lambda r: str(r.get("target") or ""),
        context="herramientas",
    ),
    Column(
        "days_thresholds",
        QT_TRANSLATE_NOOP("herramientas", "Días restantes"),
        value=lambda r: _thresholds(r.get("days_thresholds"), tr("días")),
        context="herramientas",
    ),
    Column(
        "balance_thresholds",
        QT_TRANSLATE_NOOP("herramientas", "Saldo"),
        value=lambda r: _thresholds(r.get("balance_thresholds"), tr("timbres")),
        context="herramientas",
    ),
    Column("who", QT_TRANSLATE_NOOP("herramientas", "Avisar a"), value=_who, context="herramientas"),
    Column("enabled", QT_TRANSLATE_NOOP("herramientas", "Activa"), "bool", context="herramientas"),
    Column(
        "stored",
        QT_TRANSLATE_NOOP("herramientas", "Origen"),
        value=lambda r: tr("Guardada") if r.get("stored") else tr("Predeterminada"),
        context="herramientas",
    ),
)


class RuleDialog(FormDialog):
    """Agregar / Modificar una regla de alerta (see the module docstring)."""

    def __init__(
        self, context: AppContext, rule: Mapping[str, Any] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(context, tr("Modificar regla") if rule else tr("Agregar regla"), parent)
        self.setObjectName("ruleDialog")
        self.rule = dict(rule) if rule else None
        self.scope = QComboBox(self)
        for value, text in labels.items(names.ALERT_RULE_SCOPES):
            self.scope.addItem(text, value)
        self.scope_id = QLineEdit(self)
        self.scope_id.setPlaceholderText(tr("NIC del cliente o Id de la cuenta de timbrado"))
        self.enabled = QCheckBox(tr("Regla activa"), self)
        self.enabled.setChecked(True)
        self.days = QLineEdit(self)
        self.days.setPlaceholderText(tr("p. ej. 7, 15, 30"))
        self.balance = QLineEdit(self)
        self.balance.setPlaceholderText(tr("p. ej. 0, 100"))
        self.notify_users = QCheckBox(tr("Los usuarios de la cuenta (correo y escritorio)"), self)
        self.notify_users.setChecked(True)
        self.notify_client = QCheckBox(tr("El contacto del cliente, con este mensaje:"), self)
        self.client_message = QPlainTextEdit(self)
        self.client_message.setPlainText(alert_rules.DEFAULT_CLIENT_MESSAGE)
        self.client_message.setMinimumHeight(90)
        self.daily_cap = QSpinBox(self)
        self.daily_cap.setRange(1, alert_rules.MAX_DAILY_CAP)
        self.daily_cap.setValue(alert_rules.DEFAULT_DAILY_CAP)
        self.add_field("scope", tr("Se aplica a"), self.scope)
        self.add_field("scope_id", tr("Cliente o cuenta"), self.scope_id)
        self.add_field("enabled", "", self.enabled)
        limit = alert_rules.MAX_THRESHOLDS
        self.add_field(
            "days_thresholds",
            tr("Avisar con días restantes ≤"),
            self.days,
            hint=tr("Hasta {n} números separados por comas.").format(n=limit),
        )
        self.add_field(
            "balance_thresholds",
            tr("Avisar con saldo ≤"),
            self.balance,
            hint=tr("Timbres; hasta {n} números separados por comas.").format(n=limit),
        )
        self.add_field("notify_users", tr("Avisar a"), self.notify_users)
        fields = ", ".join("{" + f + "}" for f in alert_rules.MESSAGE_FIELDS)
        self.add_field("notify_client", "", self.notify_client)
        self.add_field(
            "client_message", "", self.client_message, hint=tr("Puede usar {fields}.").format(fields=fields)
        )
        self.add_field(
            "daily_cap",
            tr("Máximo de correos por destinatario al día"),
            self.daily_cap,
            hint=tr("Solo en la regla de toda la cuenta."),
        )
        self.scope.currentIndexChanged.connect(lambda _i: self._scope_changed())
        self.notify_client.toggled.connect(lambda on: self.client_message.setEnabled(on))
        if rule:
            self.scope.setCurrentIndex(max(self.scope.findData(rule.get("scope")), 0))
            self.scope.setEnabled(False)
            self.scope_id.setText(str(rule.get("target_key") or ""))
            self.scope_id.setEnabled(False)
            self.enabled.setChecked(bool(rule.get("enabled", True)))
            self.days.setText(", ".join(str(v) for v in rule.get("days_thresholds") or []))
            self.balance.setText(", ".join(str(v) for v in rule.get("balance_thresholds") or []))
            self.notify_users.setChecked(bool(rule.get("notify_users", True)))
            self.notify_client.setChecked(bool(rule.get("notify_client")))
            message = rule.get("client_message") or alert_rules.DEFAULT_CLIENT_MESSAGE
            self.client_message.setPlainText(str(message))
            if isinstance(rule.get("daily_cap"), int):
                self.daily_cap.setValue(int(rule["daily_cap"]))
        else:
            self.scope.setCurrentIndex(self.scope.findData("client"))
            self.days.setText(", ".join(str(v) for v in alert_rules.DEFAULT_DAYS))
            self.balance.setText(", ".join(str(v) for v in alert_rules.DEFAULT_BALANCE))
        self.client_message.setEnabled(self.notify_client.isChecked())
        self._scope_changed()
        self.fit_width(560)

    def _scope_changed(self) -> None:
        scope = self.scope.currentData()
        self.scope_id.setEnabled(self.rule is None and scope in ("client", "stamping_account"))
        self.daily_cap.setEnabled(scope == "account")
        self.notify_client.setEnabled(scope != "own_balance")
        if scope == "own_balance":
            self.notify_client.setChecked(False)

    def values(self) -> dict[str, Any]:
        scope = str(self.scope.currentData())
        values: dict[str, Any] = {
            "enabled": self.enabled.isChecked(),
            "days_thresholds": alert_rules.parse_thresholds(self.days.text()),
            "balance_thresholds": alert_rules.parse_thresholds(self.balance.text()),
            "notify_users": self.notify_users.isChecked(),
            "notify_client": self.notify_client.isChecked(),
            "client_message": self.client_message.toPlainText(),
        }
        if scope == "account":
            values["daily_cap"] = self.daily_cap.value()
        return values

    def submit(self) -> None:
        scope = str(self.scope.currentData())
        values = self.values()
        checked = alert_rules.check_fields(scope, values)  # a DomainError shows beside the fields
        if checked["enabled"] and not checked["days_thresholds"] and not checked["balance_thresholds"]:
            raise validation_error({"days_thresholds": alert_rules.NO_THRESHOLD})
        rule = self.rule
        scope_id = None if rule else self.scope_id.text().strip() or None
        if rule is not None and rule.get("scope") in ("client", "stamping_account"):
            scope_id = str(rule.get("scope_id") or "")
        version = rule.get("version") if rule and rule.get("stored") else None
        self.run(actions.save_rule(self.context, scope, scope_id, values, version, parent=self))


class RulesPage(TabPage):
    entities = frozenset({"alert_rule", "client"})

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model = PagedTableModel(context, COLUMNS, actions.load_rules, parent=self)
        self.table = make_table(
            self.model, self, "rulesTable", sortable=False, widths=(20, 30, 18, 16, 14, 7, 0)
        )
        self.table.doubleClicked.connect(lambda *_: self.edit())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.add_button = push_button(tr("Agregar regla…"), self, "addRule", self.add)
        self.edit_button = push_button(tr("Modificar…"), self, "editRule", self.edit)
        self.delete_button = push_button(tr("Eliminar"), self, "deleteRule", self.delete)
        self.delete_shortcut = delete_key(self.table, self.delete)  # Supr/Del, as «Eliminar»
        layout = QVBoxLayout(self)
        layout.addLayout(
            heading(
                tr("Reglas de alerta"),
                self,
                tr(
                    "Cuándo avisar que un cliente (o usted mismo) se queda sin timbres. Una cuenta de "
                    "timbrado sigue su propia regla, si no la de su cliente, si no la de toda la cuenta."
                ),
            )
        )
        layout.addLayout(hbox(self.add_button, self.edit_button, self.delete_button, None))
        layout.addWidget(self.role_note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notice)
        self.model.loaded.connect(self._update)
        self._update()
        # The alert rules are the account's settings (`domain.roles`): an operator reads them only.
        self.gate(Permission.SETTINGS, self.add_button, self.edit_button, self.delete_button)

    def _update(self) -> None:
        row = selected_record(self.table)
        self.edit_button.setEnabled(row is not None)
        self.delete_button.setEnabled(row is not None and bool(row.get("stored")))

    def _open(self, rule: Mapping[str, Any] | None) -> RuleDialog:
        dialog = RuleDialog(self.context, rule, self)
        dialog.done_ok.connect(lambda _r: self.show_notice(tr("Se guardó la regla.")))
        self.dialog = dialog
        dialog.open()
        return dialog

    def add(self) -> RuleDialog:
        return self._open(None)

    def edit(self) -> RuleDialog | None:
        row = selected_record(self.table)
        return self._open(row) if row is not None else None

    def delete(self) -> None:
        row = selected_record(self.table)
        if row is None or not row.get("stored"):
            return
        ident = str(row["id"])
        ask(
            self,
            tr("Reglas de alerta"),
            tr("¿Eliminar la regla? Se aplicará la regla superior (o la predeterminada)."),
            lambda: self._delete(ident),
        )

    def _delete(self, ident: str) -> None:
        def failed(error: BaseException) -> None:
            self.show_notice(error_text(error), error=True)
            inform(self, tr("Reglas de alerta"), error_text(error), error=True)

        actions.delete_rule(self.context, ident, parent=self).success(
            lambda _r: self.show_notice(tr("Se eliminó la regla."))
        ).failure(failed).run()
