"""Privacy: what an erasure removed, the anonymous shadow it leaves, and the address hash that
keeps a forgotten address from coming back."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class SuppressionReason(StrEnum):
    FORGOTTEN = "forgotten"


ERASED_BY_REQUEST = (
    "this {channel} address was erased at the person's request (GDPR) and cannot be added again"
)


def address_hash(account_id: int, channel: Channel | str, normalized_address: str) -> str:
    """The stored stand-in for an address: recognisable again, not readable back.

    The account id is part of the input, so the same address hashes differently in each
    account and one account's suppressions say nothing about another's.
    """
    text = f"{account_id}:{Channel(channel).value}:{normalized_address}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Erasure:
    """What forgetting one contact erased; it holds counts and field names, no personal data."""

    contact_id: int
    forgotten_at: datetime
    cleared_fields: tuple[str, ...]
    property_values: int
    memberships_closed: int
    consents_anonymised: int
    event_payloads_erased: int
    queued_mails_dropped: int
    confirmation_tasks_dropped: int
    channels_suppressed: tuple[str, ...]
    # extra1, extra2 and tracking tokens (LianaAutomation identities)
    identifiers_dropped: int = 0
    # Delivery ledger rows whose address and values were blanked (the rows stay: reports
    # count them).
    ledger_rows_erased: int = 0

    def counts(self) -> dict:
        """The part stored in the `forgotten` event (the id and time are the event's own)."""
        values = asdict(self)
        del values["contact_id"], values["forgotten_at"]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


@dataclass(frozen=True)
class ShadowContact:
    """The anonymous trace of a contact that outlives erasure: enough for statistics."""

    id: int
    created_at: datetime
    deleted_at: datetime | None
    forgotten_at: datetime | None
    is_enabled: bool
    list_ids: list[int] = field(default_factory=list)
    consent_count: int = 0
    event_count: int = 0


@dataclass(frozen=True)
class PersonalData:
    """Everything held about one person, section by section, as plain rows (the answer to a
    GDPR access request). Values are text, numbers, booleans, datetimes or JSON documents."""

    contact_id: int
    recipient: dict
    properties: dict[str, str]
    memberships: list[dict]
    consents: list[dict]
    events: list[dict]
    queued_mails: list[dict]
    confirmation_tasks: list[dict]
