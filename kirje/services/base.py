"""What every account-scoped service holds: the database, the account and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kirje.store.database import Database

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AccountScope:
    """Binds a service to one account: every query it makes is filtered by account_id."""

    db: Database
    account_id: int
    clock: Clock = utc_now
