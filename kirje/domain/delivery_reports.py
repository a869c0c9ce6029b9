"""Delivery reports: what a delivery's ledger and its mail events add up to, the groups of its
recipients a report lists, and the deliverability rating. No I/O.

What each number counts (one delivery; "recipient" is a ledger row, one per contact):

* members: every recipient, whatever happened to them (the audience).
* delivered: recipients whose mail the receiving server accepted and who have not
  hard-bounced since (ledger state `sent`; a hard bounce turns the row `failed`).
* failed: recipients the receiving server refused (after the retries), or that hard-bounced
  after it had accepted the mail: tried, and not delivered.
* excluded: recipients left out without being tried, because they could no longer be mailed
  when their turn came (unsubscribed, bounced, banned or erased after the delivery was made).
* in_doubt: a worker died while their mail was in flight (ledger `unknown`); waiting: not
  sent yet (pending, or taken by a worker right now).
* opens, clicks: every mailopen and maillink event of the delivery (machines' too: the
  events keep the User-Agent for telling them apart later); openers, clickers: distinct
  contacts with at least one.
* bounced: distinct contacts with a mailbounce event of the delivery, hard or soft.
* noopeners: delivered recipients without an open; succeeded: delivered recipients without
  any bounce (a soft bounce arrives after the server accepted the mail).
* unsubscribed_by_link: distinct contacts who used this delivery's unsubscribe link.
* unsubscribed: recipients who, since the delivery was made, used its link or left one of its
  lists by their own action (any way: a later form, another mail's link, the API on their
  behalf with admin false).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kirje.domain.deliveries import Delivery, DeliveryKind

# Deliveries Kirje makes by itself, not on a person's or an API call's request: the mails a
# subscription or confirmation sends. The automation engine's mails join them when it sends.
AUTOMATIC_KINDS = (DeliveryKind.WELCOME, DeliveryKind.CONFIRMATION)

# The most deliveries one listing returns, and the most ids one call may name.
MAX_REPORTS = 1000
# The most ratings one call returns (seed: "Must be 100 or less").
MAX_RATINGS = 100


@dataclass(frozen=True)
class DeliveryTotals:
    """The numbers of one delivery (see the module docstring for what each counts)."""

    members: int = 0
    delivered: int = 0
    failed: int = 0
    excluded: int = 0
    in_doubt: int = 0
    waiting: int = 0
    opens: int = 0
    openers: int = 0
    delivered_openers: int = 0
    clicks: int = 0
    clickers: int = 0
    bounced: int = 0
    delivered_bounced: int = 0
    unsubscribed: int = 0
    unsubscribed_by_link: int = 0

    @property
    def noopeners(self) -> int:
        return self.delivered - self.delivered_openers

    @property
    def succeeded(self) -> int:
        return self.delivered - self.delivered_bounced

    @property
    def tried(self) -> int:
        """Recipients whose mail a receiving server answered for good: accepted or refused."""
        return self.delivered + self.failed


@dataclass(frozen=True)
class ReportList:
    """The list a report names: a delivery's first list."""

    id: int
    name: str
    is_deleted: bool
    is_hidden: bool


@dataclass(frozen=True)
class DeliveryReport:
    delivery: Delivery
    # The subject as sent: the letter's override, else the draft's.
    subject: str
    # The draft's name, which groups its deliveries (LianaMailer calls it the campaign).
    message_name: str
    mailing_list: ReportList | None
    totals: DeliveryTotals


class ReportOrder(StrEnum):
    """What a listing of reports is sorted by (ties by id, in the same direction)."""

    CREATED = "created"
    SUBJECT = "subject"
    ID = "id"
    MEMBERS = "members"
    BOUNCED = "bounced"
    MESSAGE_NAME = "message_name"
    LIST_ID = "list_id"
    # When it was to go out: the time it was scheduled for, else its creation.
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class ReportRange:
    """Which of the account's reports a listing returns: those created within [since, until)
    (either bound open), sorted, then `offset` skipped and at most `limit` kept."""

    since: datetime | None = None
    until: datetime | None = None
    offset: int = 0
    limit: int = MAX_REPORTS
    order: ReportOrder = ReportOrder.CREATED
    descending: bool = True


class RecipientGroup(StrEnum):
    """The recipients of one delivery a report lists (module docstring: what each means)."""

    OPENED = "opened"
    NOT_OPENED = "not_opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    UNSUBSCRIBED_BY_LINK = "unsubscribed_by_link"
    DELIVERED = "delivered"
    # Every recipient not delivered: failed, excluded, in doubt or not sent yet.
    UNDELIVERED = "undelivered"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXCLUDED = "excluded"


# Groups read from events (the others from the ledger alone).
EVENT_GROUPS = frozenset(
    {
        RecipientGroup.OPENED,
        RecipientGroup.CLICKED,
        RecipientGroup.BOUNCED,
        RecipientGroup.UNSUBSCRIBED,
        RecipientGroup.UNSUBSCRIBED_BY_LINK,
    }
)


@dataclass(frozen=True)
class TrackedLink:
    """A tracked link of a delivery: its id, its position in the message and its URL."""

    id: int
    delivery_id: int
    position: int
    url: str


@dataclass(frozen=True)
class GroupMember:
    """One recipient of a group (or, for clickers listed per link, one recipient and link).

    `first_at` is when they first met the group's condition: the first open, click, bounce
    or unsubscribe; for groups read from the ledger, when their mail was accepted (None if
    never). `times` counts the events (opens, clicks, bounces, unsubscribes; 1 for ledger
    groups). `bounce_kind` is "hard" if any of their bounces was, else "soft" (bounced only).
    """

    contact_id: int
    email: str | None
    sms: str | None
    # The contact's values, with the values given for this delivery over them.
    properties: dict[str, str]
    state: str
    reply: str | None
    first_at: datetime | None
    times: int
    bounce_kind: str | None = None
    link: TrackedLink | None = None


@dataclass(frozen=True)
class LinkClick:
    """One click of a tracked link."""

    link_id: int
    contact_id: int
    email: str | None
    at: datetime
    user_agent: str | None


@dataclass(frozen=True)
class LinkSummary:
    link: TrackedLink
    clicks: int
    clickers: int


@dataclass(frozen=True)
class OpenerSummary:
    """A delivered recipient and their opens (none for a non-opener)."""

    contact_id: int
    email: str | None
    opens: int
    first_open: datetime | None
    last_open: datetime | None


# Deliverability: each rate takes away its share of 100 in proportion, the whole share at
# the rate mailbox providers treat as a sender problem.
BOUNCE_SHARE, BOUNCE_LIMIT = 40, 0.10
COMPLAINT_SHARE, COMPLAINT_LIMIT = 40, 0.005
UNSUBSCRIBE_SHARE, UNSUBSCRIBE_LIMIT = 20, 0.02


@dataclass(frozen=True)
class Deliverability:
    """Rates over the recipients a server answered for good (`tried`); rating 0-100, higher
    is better, None while nothing has been tried."""

    tried: int
    bounce_rate: float
    complaint_rate: float
    unsubscribe_rate: float
    rating: int | None


def deliverability(totals: DeliveryTotals, complaints: int = 0) -> Deliverability:
    """Bounces are the refused and hard-bounced recipients plus the delivered ones with a
    (soft) bounce; unsubscribes are uses of the delivery's link. Kirje takes no complaint
    (feedback loop) reports yet, so complaints stay 0 unless given."""
    tried = totals.tried
    if tried == 0:
        return Deliverability(0, 0.0, 0.0, 0.0, None)
    bounce_rate = (totals.failed + totals.delivered_bounced) / tried
    complaint_rate = complaints / tried
    unsubscribe_rate = totals.unsubscribed_by_link / tried
    lost = (
        BOUNCE_SHARE * min(1.0, bounce_rate / BOUNCE_LIMIT)
        + COMPLAINT_SHARE * min(1.0, complaint_rate / COMPLAINT_LIMIT)
        + UNSUBSCRIBE_SHARE * min(1.0, unsubscribe_rate / UNSUBSCRIBE_LIMIT)
    )
    return Deliverability(
        tried,
        round(bounce_rate, 4),
        round(complaint_rate, 4),
        round(unsubscribe_rate, 4),
        max(0, round(100 - lost)),
    )


@dataclass(frozen=True)
class RatedDelivery:
    delivery_id: int
    subject: str
    created_at: datetime
    deliverability: Deliverability


@dataclass(frozen=True)
class AccountStatistics:
    """The account as a whole. Contacts and lists count those not deleted; deliveries count
    hidden ones too; the mail numbers count events: every message accepted, open, click,
    bounce, and every use of an unsubscribe link."""

    contacts: int
    lists: int
    deliveries: int
    sent: int
    opens: int
    clicks: int
    bounces: int
    unsubscribes: int


# The account's mail over time: sent mail counted, clicks listed, a contact's received mail.

# The most clicks one listing of clicks returns.
MAX_CLICKS = 1000


@dataclass(frozen=True)
class SentMailSearch:
    """Which sent messages a count counts: accepted by the receiving server within
    [since, until) (either bound open), of one delivery, of deliveries to one list."""

    since: datetime | None = None
    until: datetime | None = None
    delivery_id: int | None = None
    list_id: int | None = None


@dataclass(frozen=True)
class Click:
    """One click of a tracked link in any of the account's deliveries. link_id is None when
    the delivery has no row for the clicked position (its links were not recorded)."""

    contact_id: int
    email: str | None
    delivery_id: int
    link_id: int | None
    url: str | None
    at: datetime
    user_agent: str | None


@dataclass(frozen=True)
class ClickPage:
    """One page of the clicks since a moment, oldest first, and how many there are in all."""

    total: int
    offset: int
    clicks: list[Click]


@dataclass(frozen=True)
class ReceivedMail:
    """A delivery's message as one contact received it (accepted by their server) and what
    they did with it: opens and clicks counted, the first open, whether it bounced."""

    delivery_id: int
    message_id: int
    subject: str
    sent_at: datetime
    first_open: datetime | None
    opens: int
    clicks: int
    is_bounced: bool
