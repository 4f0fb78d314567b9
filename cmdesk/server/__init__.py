"""cmdesk-server: the central server, authority for every balance (FastAPI over the domain operations)."""
