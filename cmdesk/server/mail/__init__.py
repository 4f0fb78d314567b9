"""Outbound mail of cmdesk-server: the durable queue, the link tokens its mails carry, the Spanish
templates, the transports (SMTP, or .eml files in a folder) and the sender.

    operation (one transaction) ── enqueue() ──► mail_queue row (+ link_tokens row: hash only)
    sender: claim (SKIP LOCKED) ─► render (token derived from the row id) ─► SMTP / .eml ─► mark sent

See docs/deploy.md, "Mail", for where the sender runs and what a crash can do.
"""
