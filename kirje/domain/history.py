"""What readers of the event store get back: consent changes, list unsubscriptions, counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The most a caller gets in one page of history or consent updates.
MAX_PAGE = 1000
# Statistics are asked for at most this many contacts at once.
MAX_STATS_CONTACTS = 1000


@dataclass(frozen=True)
class ConsentUpdate:
    contact_id: int
    consent_id: int
    revision: int
    lang: str
    is_given: bool
    at: datetime


@dataclass(frozen=True)
class ConsentUpdates:
    items: list[ConsentUpdate]
    total: int


@dataclass(frozen=True)
class Unsubscription:
    contact_id: int
    email: str | None
    list_id: int
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class Subscription:
    """A contact joining a list on their own (a form, a confirmation), not added by an admin."""

    contact_id: int
    email: str | None
    list_id: int
    at: datetime
    origin: str | None
