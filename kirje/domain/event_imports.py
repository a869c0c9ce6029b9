"""Event imports: identities with the events a source saw them do (LianaAutomation's import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kirje.domain.errors import Invalid
from kirje.domain.identities import Identity


@dataclass(frozen=True)
class IncomingEvent:
    verb: str
    items: dict[str, Any]


@dataclass(frozen=True)
class ImportEntry:
    identity: Identity
    events: list[IncomingEvent]


@dataclass(frozen=True)
class EventImport:
    channel: str  # the channel's id or system name
    entries: list[ImportEntry]
    # Leave out an event identical (contact, channel, verb, items) to one already stored.
    no_duplicates: bool = False
    # Store the events without handing them to the automations.
    skip_automations: bool = False


@dataclass(frozen=True)
class ArrivedEvent:
    """An event as the automation trigger point receives it, once it is stored."""

    id: int
    contact_id: int
    # None for Kirje's own events (opens, clicks, unsubscribes), which come through no channel.
    channel_id: int | None
    verb: str
    items: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class EventImportResult:
    job_id: int | None  # the handle (none for imports made without one)
    events: int  # stored
    duplicates: int  # left out by no_duplicates
    contacts_created: int
    contacts_merged: int
    skipped_identities: int  # forgotten addresses only: nothing of them is stored

    def as_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "duplicates": self.duplicates,
            "contacts_created": self.contacts_created,
            "contacts_merged": self.contacts_merged,
            "skipped_identities": self.skipped_identities,
        }


def items_from(raw: object, where: str) -> dict[str, Any]:
    """An event's items: a JSON object (PHP sends an empty one as []). Keys starting with "_"
    are left out, as the WooCommerce plugin itself leaves them out of what it sends."""
    if raw is None or raw == []:
        return {}
    if not isinstance(raw, dict):
        raise Invalid(f"{where} must be an object")
    if not any(key.startswith("_") for key in raw):
        return raw
    return {key: value for key, value in raw.items() if not key.startswith("_")}
