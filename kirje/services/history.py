"""What happened to recipients, from the event store: history, consent updates, statistics."""

from __future__ import annotations

from kirje.services.base import AccountScope


class History:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
