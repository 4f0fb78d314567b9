"""The dry run: every row checked against the desktop's cache before anything moves.

For each row: its cuenta de timbrado (the CTI column, or the client's NIC or RFC → the client's only
standard CTI), which must be in this distributor's cache, standard and active; the quantity (a whole
number of stamps > 0); the amount (pesos with IVA, parsed as the rest of the desktop parses money);
«Sin cargo» (a transfer that is no sale: no amount, nothing to invoice — the single transfer
dialog's checkbox; where the file has that column a row needs an amount or «Sin cargo», never $0.00
silently; without it an empty amount is a transfer without sale, shown as «Sin cargo»); the comment;
and rows repeated in the file. Then, in the file's order over the rows to send, the distributor's
balance before and after each row (the balance the cache knows, less the transfers still waiting in
the outbox) and the CTI's; a row the balance no longer covers is an error. Every message is Spanish
and names the row as the spreadsheet numbers it.

Nothing is sent while a row to send has an error: the user corrects the file or excludes the rows
(`DryRun.exclude`), which re-runs the balances.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from cmdesk.domain import identity
from cmdesk.domain.amounts import NO_CHARGE_AMOUNT_MESSAGE
from cmdesk.domain.errors import DomainError
from cmdesk.domain.money import check_amount_cents, parse_mxn
from cmdesk.services.bulk_import.mapping import Column, ColumnMapping, fold_title
from cmdesk.services.bulk_import.reading import Cell, Sheet, SheetRow

MAX_QUANTITY = 10**9
MAX_COMMENT = 500
_QUANTITY = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")
_NIC = re.compile(r"[0-9]{1,12}")
# What a «Sin cargo» cell may say (folded: lower case, no accents).
_YES = frozenset({"si", "s", "x", "1", "true", "verdadero", "sin cargo", "yes", "y"})
_NO = frozenset({"", "no", "n", "0", "false", "falso"})
NO_AMOUNT_MESSAGE = "Falta el importe: escríbalo, o escriba «Sí» en la columna Sin cargo si no es una venta."


class Directory(Protocol):
    """What the dry run reads of the desktop (`desktop.SessionDesktop` over the cache)."""

    def stamping_account(self, cti_id: str) -> dict[str, Any] | None: ...

    def client(self, client_id: str) -> dict[str, Any] | None: ...

    def clients_by_nic(self, nic: str) -> list[dict[str, Any]]: ...

    def clients_by_rfc(self, rfc: str) -> list[dict[str, Any]]: ...

    def stamping_accounts_of(self, client_id: str) -> list[dict[str, Any]]: ...

    def available_stamps(self) -> int: ...

    def applied_before(self, cti_id: str, quantity: int, amount_cents: int) -> str | None:
        """Where an equal transfer to this CTI was already applied from a file lately, if it was."""
        ...


@dataclass
class RowCheck:
    row: int
    cti_id: str | None = None
    client_id: str | None = None
    client_name: str = ""
    client_nic: str = ""
    quantity: int | None = None
    amount_cents: int = 0
    no_charge: bool = False  # «Sin cargo»: no sale, nothing to invoice (amount 0)
    comment: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    excluded: bool = False
    # The distributor's stamps before and after this row, and the CTI's (rows to send only).
    balance_before: int | None = None
    balance_after: int | None = None
    cti_before: int | None = None
    cti_after: int | None = None
    cti_balance: int | None = None  # the CTI's balance the cache knows
    # Errors that depend on the other rows (the balance), found again on each evaluation.
    _late: list[str] = field(default_factory=list, repr=False)

    @property
    def problems(self) -> list[str]:
        return self.errors + self._late

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def to_send(self) -> bool:
        return self.ok and not self.excluded


@dataclass(frozen=True)
class Totals:
    rows: int
    to_send: int
    with_errors: int
    excluded: int
    stamps: int
    amount_cents: int  # the amount to invoice ("por facturar") of the rows to send
    available: int
    remaining: int


@dataclass
class DryRun:
    sheet: Sheet
    mapping: ColumnMapping
    rows: list[RowCheck]
    available: int

    def exclude(self, rows: Iterable[int], excluded: bool = True) -> None:
        """Leave rows out of the sending (or bring them back), and run the balances again."""
        wanted = set(rows)
        for check in self.rows:
            if check.row in wanted:
                check.excluded = excluded
        _evaluate(self.rows, self.available)

    def exclude_errors(self) -> list[int]:
        """Leave every row with an error out; returns their numbers."""
        numbers = [c.row for c in self.rows if not c.ok and not c.excluded]
        self.exclude(numbers)
        return numbers

    @property
    def blocking(self) -> list[RowCheck]:
        """Rows to send that still have an error."""
        return [c for c in self.rows if not c.excluded and not c.ok]

    @property
    def ready(self) -> bool:
        return not self.blocking and any(c.to_send for c in self.rows)

    def why_not_ready(self) -> str:
        """Why nothing can be sent yet, in Spanish ('' when it can)."""
        blocking = self.blocking
        if blocking:
            numbers = ", ".join(str(c.row) for c in blocking[:10]) + (" …" if len(blocking) > 10 else "")
            count = len(blocking)
            rows = "fila tiene" if count == 1 else "filas tienen"
            return f"{count} {rows} errores (filas {numbers}): corríjalas en el archivo o exclúyalas."
        if not any(c.to_send for c in self.rows):
            return "No hay filas que enviar."
        return ""

    def totals(self) -> Totals:
        sending = [c for c in self.rows if c.to_send]
        stamps = sum(c.quantity or 0 for c in sending)
        return Totals(
            rows=len(self.rows),
            to_send=len(sending),
            with_errors=sum(1 for c in self.rows if not c.ok),
            excluded=sum(1 for c in self.rows if c.excluded),
            stamps=stamps,
            amount_cents=sum(c.amount_cents for c in sending),
            available=self.available,
            remaining=self.available - stamps,
        )


def dry_run(sheet: Sheet, mapping: ColumnMapping, directory: Directory) -> DryRun:
    """Check every row of `sheet` read through `mapping` (see the module docstring)."""
    mapping.check(sheet.headers)
    columns = {c: sheet.column(t) for c, t in mapping.columns.items()}
    checks = [_check_row(sheet, row, columns, directory) for row in sheet.rows]
    _flag_repeated(checks)
    available = directory.available_stamps()
    _evaluate(checks, available)
    return DryRun(sheet, mapping, checks, available)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _check_row(
    sheet: Sheet, row: SheetRow, columns: dict[Column, int | None], directory: Directory
) -> RowCheck:
    check = RowCheck(row.number)

    def cell(column: Column) -> Cell:
        index = columns.get(column)
        return row.get(index) if index is not None else None

    _target(check, _text(cell(Column.CTI)), _text(cell(Column.CLIENT)), directory)
    check.quantity = _quantity(check, cell(Column.QUANTITY))
    errors = len(check.errors)
    check.amount_cents = _amount(check, cell(Column.AMOUNT))
    if len(check.errors) == errors:  # an unreadable amount is said once
        _no_charge(check, cell(Column.NO_CHARGE), Column.NO_CHARGE in columns)
    comment = _text(cell(Column.COMMENT))
    if len(comment) > MAX_COMMENT:
        check.errors.append(f"El comentario tiene {len(comment):,} caracteres; el máximo es {MAX_COMMENT}.")
    check.comment = comment or f"{sheet.file_name}, fila {row.number}"[:MAX_COMMENT]
    if check.ok and check.cti_id and check.quantity:
        where = directory.applied_before(check.cti_id, check.quantity, check.amount_cents)
        if where:
            check.warnings.append(f"Una transferencia igual a esta cuenta ya se aplicó desde {where}.")
    return check


def _target(check: RowCheck, cti_text: str, client_text: str, directory: Directory) -> None:
    """The row's CTI, from the CTI column or from the client's NIC or RFC."""
    client: dict[str, Any] | None = None
    if client_text:
        client = _client(check, client_text, directory)
        if client is None:
            return
    if cti_text:
        cti = directory.stamping_account(cti_text) or directory.stamping_account(cti_text.upper())
        if cti is None:
            check.errors.append(f"La cuenta de timbrado {cti_text} no existe entre las de sus clientes.")
            return
        if client is not None and cti.get("client_id") != client.get("id"):
            check.errors.append(f"La cuenta de timbrado {cti['id']} no es del cliente {client_text}.")
            return
    elif client is not None:
        standard = [
            c for c in directory.stamping_accounts_of(str(client["id"])) if c.get("kind") == "standard"
        ]
        if not standard:
            check.errors.append(f"El cliente {client_text} no tiene una cuenta de timbrado estándar.")
            return
        if len(standard) > 1:
            ids = ", ".join(str(c["id"]) for c in standard[:4])
            check.errors.append(
                f"El cliente {client_text} tiene {len(standard)} cuentas de timbrado estándar ({ids}); "
                "escriba en la columna CTI a cuál transferir."
            )
            return
        cti = standard[0]
    else:
        check.errors.append("Falta la cuenta de timbrado (CTI) o el NIC o RFC del cliente.")
        return
    check.cti_id = str(cti["id"])
    if cti.get("kind") != "standard":
        check.errors.append(
            f"La cuenta de timbrado {check.cti_id} es ilimitada: no tiene saldo de timbres que recargar."
        )
    elif cti.get("active") is False:
        check.errors.append(
            f"La cuenta de timbrado {check.cti_id} está bloqueada; reactívela o excluya la fila."
        )
    owner = client or directory.client(str(cti.get("client_id") or ""))
    if owner is None:
        check.errors.append(f"La cuenta de timbrado {check.cti_id} no es de uno de sus clientes.")
        return
    check.client_id = str(owner["id"])
    check.client_name = str(owner.get("name") or "")
    check.client_nic = str(owner.get("nic") or "")
    balance = cti.get("balance")
    check.cti_balance = balance if isinstance(balance, int) else None


def _client(check: RowCheck, text: str, directory: Directory) -> dict[str, Any] | None:
    if _NIC.fullmatch(text):
        found = directory.clients_by_nic(text)
        what = f"el NIC {text}"
    else:
        rfc = identity.normalize_rfc(text)
        found = directory.clients_by_rfc(rfc)
        what = f"el RFC {rfc}"
    if not found:
        check.errors.append(f"No hay un cliente con {what}.")
        return None
    if len(found) > 1:
        check.errors.append(
            f"{len(found)} clientes tienen {what}; escriba su NIC o la cuenta de timbrado (CTI) en su lugar."
        )
        return None
    return found[0]


def _quantity(check: RowCheck, value: Cell) -> int | None:
    message = "La cantidad debe ser un número entero de timbres mayor que cero."
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if value.is_integer() else None
    elif isinstance(value, str) and _QUANTITY.fullmatch(value.strip()):
        number = int(value.strip().replace(",", ""))
    if value is None or value == "":
        check.errors.append("Falta la cantidad de timbres.")
        return None
    if number is None or number <= 0:
        check.errors.append(message)
        return None
    if number > MAX_QUANTITY:
        check.errors.append(f"La cantidad es demasiado grande (máximo {MAX_QUANTITY:,} timbres por fila).")
        return None
    return number


def _amount(check: RowCheck, value: Cell) -> int:
    """Centavos of the amount (pesos with IVA); 0 when the cell is empty (a transfer without sale)."""
    try:
        if value is None or value == "":
            return 0
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            pesos = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            cents = pesos * 100
            if cents != cents.to_integral_value():
                check.errors.append("El importe admite como máximo 2 decimales.")
                return 0
            return check_amount_cents(int(cents))
        return parse_mxn(str(value))
    except DomainError as err:
        check.errors.append(err.errors[0].message if err.errors else err.detail)
    except (ValueError, InvalidOperation):
        check.errors.append("Escriba un importe válido, por ejemplo 1,234.50.")
    return 0


def _no_charge(check: RowCheck, value: Cell, mapped: bool) -> None:
    """«Sin cargo»: yes takes no amount; no (or an empty cell) needs one where the file has the column."""
    if isinstance(value, bool):
        flag: bool | None = value
    elif isinstance(value, int | float):
        flag = True if value == 1 else False if value == 0 else None
    else:
        folded = fold_title(_text(value))
        flag = True if folded in _YES else False if folded in _NO else None
    if flag is None:
        check.errors.append(f"En «Sin cargo» escriba «Sí» o «No» (dice «{_text(value)}»).")
        return
    check.no_charge = flag
    if flag and check.amount_cents:
        check.errors.append(NO_CHARGE_AMOUNT_MESSAGE)
    elif not flag and check.amount_cents == 0:
        if mapped:
            check.errors.append(NO_AMOUNT_MESSAGE)
        else:
            check.no_charge = True  # no amount and no such column: no sale, as before the column


def _flag_repeated(checks: list[RowCheck]) -> None:
    first: dict[str, RowCheck] = {}
    for check in checks:
        if not check.cti_id:
            continue
        earlier = first.get(check.cti_id)
        if earlier is None:
            first[check.cti_id] = check
        elif (earlier.quantity, earlier.amount_cents, earlier.comment) == (
            check.quantity,
            check.amount_cents,
            check.comment,
        ):
            check.errors.append(f"Fila repetida: es igual a la fila {earlier.row}.")
        else:
            check.warnings.append(
                f"La cuenta de timbrado {check.cti_id} también recibe en la fila {earlier.row}."
            )


def _evaluate(checks: list[RowCheck], available: int) -> None:
    """The balances of the rows to send, in the file's order."""
    left = available
    cti_balance: dict[str, int] = {}
    for check in checks:
        check._late.clear()
        check.balance_before = check.balance_after = check.cti_before = check.cti_after = None
        if check.excluded or check.errors or not check.quantity:
            continue
        if check.quantity > left:
            check._late.append(
                f"Saldo insuficiente: quedan {left:,} timbres disponibles y la fila pide {check.quantity:,}."
            )
            continue
        check.balance_before, left = left, left - check.quantity
        check.balance_after = left
        if check.cti_id and check.cti_balance is not None:
            check.cti_before = cti_balance.get(check.cti_id, check.cti_balance)
            check.cti_after = cti_balance[check.cti_id] = check.cti_before + check.quantity
