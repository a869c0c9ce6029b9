"""Deliveries: one sending of a message to an audience, and the ledger row of each recipient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kirje.domain.errors import Invalid


class DeliveryKind(StrEnum):
    BATCH = "batch"  # a newsletter to lists and/or given recipients
    EVENT = "event"  # transactional: given recipients
    WEBPAGE = "webpage"
    WELCOME = "welcome"
    CONFIRMATION = "confirmation"


class DeliveryState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_cancellable(self) -> bool:
        """Not finished: nobody is mailed from now on (who was mailed stays mailed)."""
        return self in (DeliveryState.SCHEDULED, DeliveryState.QUEUED, DeliveryState.SENDING)


class RecipientState(StrEnum):
    PENDING = "pending"  # to send (again, after next_attempt_at when set)
    # Taken by a worker, not handed to the SMTP server yet: a dead worker's go back to pending.
    CLAIMED = "claimed"
    SENDING = "sending"  # handed to the SMTP server, no answer recorded yet
    SENT = "sent"
    FAILED = "failed"  # refused for good: the reply says why
    # The worker died while the message was in flight: it may or may not have been accepted.
    UNKNOWN = "unknown"
    # Never sent: the delivery was cancelled while the row was still to send.
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Letter:
    """What to send: a draft, with the letter's overrides (LianaMailer's `letter` object)."""

    draft_id: int
    subject: str | None = None
    html: str | None = None
    # Whether a recipient who already got this message may get it again (event-send).
    recipients_reset: bool = False
    # event-send's id for finding the mails again (kept with the overrides).
    tracking_id: str | None = None

    def overrides(self) -> dict[str, Any]:
        given = (("subject", self.subject), ("html", self.html), ("tracking_id", self.tracking_id))
        return {name: value for name, value in given if value is not None}


@dataclass(frozen=True)
class GivenRecipient:
    """A recipient named in the request, with property values for this delivery."""

    email: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    id: int
    account_id: int
    message_id: int
    kind: DeliveryKind
    state: DeliveryState
    overrides: dict[str, Any]
    list_ids: list[int]
    recipients_reset: bool
    resends_unknown: bool
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    job_id: int | None
    created_at: datetime
    # Hidden from the report view (LianaMailer hideDelivery).
    hidden: bool = False
    # The delivery this one was rescheduled from.
    related_to: int | None = None
    # The RSS feeds (archives) it is shown on.
    archives: list[str] | None = None


@dataclass(frozen=True)
class LedgerCounts:
    """How many recipients of a delivery are in each state."""

    pending: int = 0
    claimed: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return (
            self.pending
            + self.claimed
            + self.sending
            + self.sent
            + self.failed
            + self.unknown
            + self.cancelled
        )

    @property
    def in_progress(self) -> int:
        """Still to send, or being sent now."""
        return self.pending + self.claimed + self.sending

    @property
    def is_finished(self) -> bool:
        return self.pending == 0 and self.claimed == 0 and self.sending == 0


# A transactional message is resent when a crash left it in doubt (a missing receipt is worse
# than a second one); a newsletter is not (a second copy to thousands is worse than a gap).
RESENDS_UNKNOWN = {DeliveryKind.EVENT: True, DeliveryKind.CONFIRMATION: True}
# Mail a person gets for something they did, not for a subscription: unsubscribing from it
# leaves no list.
TRANSACTIONAL = frozenset({DeliveryKind.EVENT, DeliveryKind.WELCOME, DeliveryKind.CONFIRMATION})


@dataclass(frozen=True)
class DeliveryOverview:
    """A delivery as its listings show it: with its message's title and its ledger's counts."""

    delivery: Delivery
    message_name: str
    # The letter's subject override, else the message's.
    subject: str
    counts: LedgerCounts


@dataclass(frozen=True)
class DeliveryLink:
    """A tracked link of a delivery's message, with how often it was followed."""

    id: int
    delivery_id: int
    message_id: int
    position: int
    url: str
    clicks: int
    # Distinct contacts who followed it.
    clickers: int


@dataclass(frozen=True)
class TrackedMailEvent:
    """One open or click of a delivery's mail, with who it was (link_id: clicks only)."""

    delivery_id: int
    contact_id: int | None
    email: str | None
    at: datetime
    user_agent: str | None
    link_id: int | None = None


# The RSS feeds (archives) a delivery may be shown on: names, not too many of them.
MAX_FEEDS = 100
MAX_FEED_NAME = 200


def feed_names(names: Sequence[object]) -> list[str]:
    """The RSS feed names given, trimmed, each once, in the order given."""
    if len(names) > MAX_FEEDS:
        raise Invalid(f"at most {MAX_FEEDS} feeds")
    chosen: list[str] = []
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise Invalid(f"archive[{index}] must be a feed name")
        if len(name.strip()) > MAX_FEED_NAME:
            raise Invalid(f"archive[{index}]: at most {MAX_FEED_NAME} characters")
        if name.strip() not in chosen:
            chosen.append(name.strip())
    return chosen
