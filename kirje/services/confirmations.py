"""Double opt-in: confirmation codes, the tasks a confirmation completes, and confirming."""

from __future__ import annotations

from kirje.services.base import AccountScope


class Confirmations:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
