"""The audit log (bitácora): who changed what, when, from where, and why — one record per operation,
in the operation's own transaction. See `recorder` for the mechanism, `routes` for the names of the
actions, `reader` for the queries behind `GET /v1/audit`, and docs/api.md for the contract.
"""

from cmdesk.server.audit.recorder import (
    AUDIT_CALL_SQL,
    AuditContext,
    add_subjects,
    balance_changed,
    bind,
    context,
    current,
    install_hooks,
    mark_recorded,
    note,
    set_actor,
    sql_arguments,
    write_record,
)
from cmdesk.server.audit.routes import ACTIONS, EXEMPT, audited, route_action
from cmdesk.server.audit.values import SECRET_MARK, scrub

__all__ = [
    "ACTIONS",
    "AUDIT_CALL_SQL",
    "EXEMPT",
    "SECRET_MARK",
    "AuditContext",
    "add_subjects",
    "audited",
    "balance_changed",
    "bind",
    "context",
    "current",
    "install_hooks",
    "mark_recorded",
    "note",
    "route_action",
    "scrub",
    "set_actor",
    "sql_arguments",
    "write_record",
]
