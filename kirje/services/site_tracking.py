"""Site tracking: the channel a tracking URL names, and the events a visitor's browser sends.

A tracking URL names its channel by the channel's public key alone, so the account is the
key's: a key can only ever reach its own channel. A visitor is named by a tracking token,
which becomes a contact identity like any other (see kirje.services.event_imports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kirje.domain.channels import Channel
from kirje.domain.errors import Forbidden, NotFound
from kirje.domain.event_imports import EventImport, ImportEntry, IncomingEvent
from kirje.domain.identities import Identity
from kirje.store import channels as channel_store
from kirje.store.database import Database

if TYPE_CHECKING:
    from kirje.services.account_services import AccountServices


@dataclass(frozen=True)
class TrackedEvent:
    """One event a visitor's browser sent."""

    token: str
    verb: str
    items: dict[str, Any]


class SiteTracking:
    def __init__(self, db: Database, for_account: Callable[[int], AccountServices]) -> None:
        self.db = db
        self.for_account = for_account

    def channel(self, key: str) -> Channel:
        """The channel of a tracking key; NotFound for a key that names none."""
        with self.db.reading() as conn:
            channel = channel_store.find_by_public_key(conn, key)
        if channel is None:
            raise NotFound("unknown tracking key")
        return channel

    def collect(self, key: str, event: TrackedEvent) -> None:
        """Stores the event for the contact the token names (created on first sight)."""
        channel = self.channel(key)
        if not channel.tracking_enabled:
            raise Forbidden("site tracking is disabled for this channel")
        entry = ImportEntry(Identity(token=event.token), [IncomingEvent(event.verb, event.items)])
        imports = self.for_account(channel.account_id).event_imports
        imports.run(EventImport(channel=str(channel.id), entries=[entry]), with_handle=False)
