"""The desktop's services: everything cmdesk does apart from drawing windows (no Qt here).

Folders and configuration, the API client, saved credentials, the disposable cache, the durable outbox,
synchronization and the session that ties them together; each is testable without a screen, against the
reference server running in-process.
"""
