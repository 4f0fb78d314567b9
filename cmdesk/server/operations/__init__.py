"""The authoritative domain operations of the portal (server side).

Each operation takes a SQLAlchemy `Session` already inside a transaction, an `Actor` (who acts, for
which account) and plain values; it enforces every rule where it can't be bypassed and returns plain
data (dicts in the shapes of API.md). The caller owns the transaction: one operation, one transaction
(`cmdesk.server.db.run`). Balances only change through `balances.debit` / `balances.credit`, which are
conditional updates in the database, never read-then-write in Python.
"""
