"""Recipient searches: by property, by function, statuses, exclusions, allowed domains."""

from __future__ import annotations

from kirje.services.base import AccountScope


class RecipientQueries:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
