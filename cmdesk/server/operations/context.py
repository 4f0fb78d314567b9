"""Who performs an operation: a profile acting for one account (or the system itself)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    account_id: str
    profile_id: str = "system"

    @property
    def author(self) -> str:
        """What `created_by` records."""
        return self.profile_id
