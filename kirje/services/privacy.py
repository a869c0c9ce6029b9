"""GDPR erasure (forget), the data file a person may ask for, suppression of their address."""

from __future__ import annotations

from kirje.services.base import AccountScope


class Privacy:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
