"""Reading the event store as a feed: a page of an account's events, and the contacts who
opened or clicked a delivery, each with the event that made them one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kirje.domain.errors import Invalid
from kirje.domain.events import Event, EventType

# The most events (or responders) one page holds. A larger page is refused rather than cut
# short: a client that pages until a page comes back shorter than it asked would stop early.
MAX_FEED_PAGE = 1000

# The events a delivery's responders are found by.
RESPONSE_TYPES = frozenset({EventType.MAIL_OPEN.value, EventType.MAIL_LINK.value})


@dataclass(frozen=True)
class FeedPage:
    limit: int
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_FEED_PAGE:
            raise Invalid(f"limit must be between 1 and {MAX_FEED_PAGE}")
        if self.offset < 0:
            raise Invalid("offset must be 0 or more")


@dataclass(frozen=True)
class EventQuery:
    """Which events to read. Times are UTC; since is inclusive and until exclusive, so that
    back-to-back windows see every event once."""

    types: frozenset[str]
    page: FeedPage
    since: datetime | None = None
    until: datetime | None = None
    is_newest_first: bool = False
    # Property values of the event's contact to include; none: the contact's properties are
    # not read at all.
    property_names: tuple[str, ...] = ()
    with_lists: bool = False


class ResponderOrder(StrEnum):
    CONTACT = "contact"
    FIRST_RESPONSE = "first_response"


@dataclass(frozen=True)
class ResponderQuery:
    """Which responders of a delivery to read: contacts with an event of `type`, each with
    their first such event at or after `since`."""

    type: str
    page: FeedPage
    since: datetime | None = None
    order: ResponderOrder = ResponderOrder.FIRST_RESPONSE
    is_descending: bool = True
    property_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in RESPONSE_TYPES:
            raise Invalid(f"responders are found by {', '.join(sorted(RESPONSE_TYPES))}")


@dataclass(frozen=True)
class EventContact:
    """The contact of an event as a feed shows it. properties is None when none were asked
    for, and names a value (None when the contact has none) for each one that was."""

    id: int
    email: str | None
    sms: str | None
    properties: dict[str, str | None] | None


@dataclass(frozen=True)
class ListSummary:
    id: int
    name: str


@dataclass(frozen=True)
class FeedEvent:
    event: Event
    delivery_id: int | None
    contact: EventContact | None
    mailing_list: ListSummary | None = None
    # The delivery link a click followed (its id in delivery_links), when it is known.
    link_id: int | None = None


@dataclass(frozen=True)
class Responder:
    """A contact who opened or clicked a delivery, with their first such event."""

    contact: EventContact
    first: FeedEvent


def picked_properties(
    values: dict[str, str], names: tuple[str, ...]
) -> dict[str, str | None] | None:
    """The named property values of a contact; None when no names were asked for."""
    if not names:
        return None
    return {name: values.get(name) for name in names}
