"""Account-wide settings: marketing settings and tracking switches."""

from __future__ import annotations

from kirje.services.base import AccountScope


class AccountSettings:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
