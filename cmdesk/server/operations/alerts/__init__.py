"""Low-balance alerts, server side: the rules, the alerts and their states, the evaluator that raises
them where the data is authoritative, and the hand-off of who is told (`deliver`).

Rules (Herramientas). A CTI is governed by its most specific rule: its own, else its client's, else
the account's, else `DEFAULT_RULE`. A rule is a set of thresholds — days remaining (D.R. ≤ n) and/or
balance (≤ n stamps) — and who is told: the account's users (every member profile's e-mail) and,
optionally, the client's contact with a message the distributor edits (`MESSAGE_FIELDS`). The
distributor's own stamps have their rule too (`own_balance`, default `DEFAULT_OWN_RULE`): its D.R. is
its stamps over what all its clients' active standard CTIs consume (`forecast.distributor_forecast`).

What fires. Only what is being used can run out: a subject with no consumption in the C.P.D. window
(C.P.D. 0), an unlimited CTI or a blocked one never fires. A threshold fires once per crossing: the
alert row is the open crossing (`rearmed_at` null, unique per subject and threshold), so it cannot
fire again until it is re-armed, which happens when the condition no longer holds AND the balance is
above the balance the alert fired at (a refill; a slower pace alone does not re-arm). Re-arming
resolves the alert (by "system") unless a user already did. Thresholds crossed together notify once,
for the most severe; each gets its row.

Where and when (`tick`). Every server process runs the evaluator (`EvaluatorThread`, started with the
app) every few seconds; each step takes the lease first — the one `alert_evaluator` row locked
`FOR UPDATE SKIP LOCKED` on PostgreSQL (a process that finds it locked skips the step), SQLite's
single writer elsewhere — so the processes take turns. A step follows each account's change feed from
its own cursor (`feed.read`'s never-skipping (txid, id) order; on PostgreSQL one LATERAL query for all
accounts) and evaluates the CTIs and own balances that changed: nothing is added to the stamping path.
On a schedule (`sweep_minutes`) it also sweeps every CTI with consumption and every open crossing, a
batch per step, which catches what only time changes (the distributor's combined C.P.D.) and a rule
edited. Alerts reach the desktop through the change feed (entity `alert`).

Delivery. `deliver()` is the one hand-off to mail: it records each intended message in
`alert_deliveries`, enforcing the daily cap per recipient (`capped` beyond it), and queues the others
on the durable mail queue (`cmdesk.server.mail.queue`, a "notice" mail) in the same transaction
(`queued`): an alert never commits without its mails, and a rolled-back evaluation sends none.

The package: `rules` (what a rule is, Herramientas' operations), `states` (alert views, lists, states,
the feed loaders), `delivery` (the hand-off to mail), `subjects` (what is evaluated and how a
threshold fires), `evaluator` (the lease, the feed-following step, the sweep, the thread).
"""

from cmdesk.server.operations.alerts.delivery import Recipient, deliver
from cmdesk.server.operations.alerts.evaluator import (
    CHANGES_PER_ACCOUNT,
    EVALUATOR,
    SWEEP_BATCH,
    EvaluatorThread,
    StepReport,
    tick,
)
from cmdesk.server.operations.alerts.rules import (
    DEFAULT_CLIENT_MESSAGE,
    DEFAULT_DAILY_CAP,
    DEFAULT_OWN_RULE,
    DEFAULT_RULE,
    MAX_DAILY_CAP,
    MAX_DAYS_THRESHOLD,
    MAX_THRESHOLDS,
    MESSAGE_FIELDS,
    MESSAGE_MAX_LENGTH,
    SCOPES,
    STATE_LABELS,
    STATES,
    Rule,
    check_message,
    delete_rule,
    list_rules,
    render_message,
    rule_view,
    save_rule,
)
from cmdesk.server.operations.alerts.states import (
    FEED_LOADERS,
    alert_view,
    list_alerts,
    load_alerts,
    load_rules,
    read_alert,
    set_state,
    set_states,
)
from cmdesk.server.operations.alerts.subjects import (
    OWN_CPD_MAX_AGE,
    Subject,
    combined_cpd,
    cti_subjects,
    evaluate_subjects,
    own_subjects,
    purchase_info,
)

__all__ = [
    "CHANGES_PER_ACCOUNT",
    "DEFAULT_CLIENT_MESSAGE",
    "DEFAULT_DAILY_CAP",
    "DEFAULT_OWN_RULE",
    "DEFAULT_RULE",
    "EVALUATOR",
    "FEED_LOADERS",
    "MAX_DAILY_CAP",
    "MAX_DAYS_THRESHOLD",
    "MAX_THRESHOLDS",
    "MESSAGE_FIELDS",
    "MESSAGE_MAX_LENGTH",
    "OWN_CPD_MAX_AGE",
    "SCOPES",
    "STATES",
    "STATE_LABELS",
    "SWEEP_BATCH",
    "EvaluatorThread",
    "Recipient",
    "Rule",
    "StepReport",
    "Subject",
    "alert_view",
    "check_message",
    "combined_cpd",
    "cti_subjects",
    "delete_rule",
    "deliver",
    "evaluate_subjects",
    "list_alerts",
    "list_rules",
    "load_alerts",
    "load_rules",
    "own_subjects",
    "purchase_info",
    "read_alert",
    "render_message",
    "rule_view",
    "save_rule",
    "set_state",
    "set_states",
    "tick",
]
