"""Account-wide settings: marketing settings and tracking switches.

They live in the account's settings document under "marketing", so a new setting needs no
migration; the rules for each value are in domain/account_settings.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kirje.domain.account_settings import MarketingSettings
from kirje.services.base import AccountScope
from kirje.store import accounts as account_store

MARKETING_KEY = "marketing"


class AccountSettings:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def marketing(self) -> MarketingSettings:
        with self.scope.db.reading() as conn:
            document = account_store.settings_of(conn, self.scope.account_id)
        return MarketingSettings.from_document(document.get(MARKETING_KEY))

    def change_marketing(self, values: Mapping[str, Any]) -> MarketingSettings:
        """Sets the named marketing settings (null resets one); all or nothing."""
        with self.scope.db.transaction() as conn:
            document = account_store.settings_of(conn, self.scope.account_id, for_update=True)
            current = MarketingSettings.from_document(document.get(MARKETING_KEY))
            changed = current.changed(values)
            document[MARKETING_KEY] = changed.as_document()
            account_store.update_settings(conn, self.scope.account_id, document)
            return changed

    def set_cem_tracking(self, enabled: bool) -> None:
        self.change_marketing({"cem_tracking": enabled})

    def allows_all(self, addresses: list[str]) -> bool:
        """Whether every address is valid and in an allowed domain."""
        settings = self.marketing()
        return all(settings.allows(address) for address in addresses)
