"""GET /api/v3/events: the account's events, paged, by type and Helsinki time window."""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.v3.query import QueryParameters, sort_order
from kirje.api.liana_mailer.v3.views import event_view
from kirje.domain.errors import Invalid
from kirje.domain.event_feed import EventQuery, FeedPage
from kirje.domain.events import EventType

# The seed's types, each the Kirje event of the same name. Kirje's own types stay out: a mail
# unsubscribe shows as the list-quit events it writes for each list left, consents, bans and
# erasures have no LianaMailer type, and LianaAutomation channel events are not mail history.
EVENT_TYPES: dict[str, EventType] = {
    member.value: member
    for member in (
        EventType.CONFIRMED,
        EventType.CREATED,
        EventType.DATA_CHANGE,
        EventType.DELETED,
        EventType.LIST_JOIN,
        EventType.LIST_QUIT,
        EventType.MAIL_BOUNCE,
        EventType.MAIL_LINK,
        EventType.MAIL_OPEN,
        EventType.MAIL_SENT,
        EventType.REACTIVATED,
    )
}
PARAMETERS = ("limit", "offset", "properties", "type", "sort", "at_start", "at_end", "list_data")
DEFAULT_LIMIT = 20
# Oldest first: events are appended at the end of that order, so a client paging through a
# window while new events arrive neither sees one twice nor misses one.
DEFAULT_SORT = "at"


def list_events(ctx: Call, query: QueryParameters) -> dict:
    query.allow_only(PARAMETERS)
    _, is_newest_first = sort_order(query.text("sort"), ["at"], default=DEFAULT_SORT)
    with_lists = query.boolean("list_data")
    feed_query = EventQuery(
        types=_types(query.text("type")),
        page=FeedPage(
            limit=query.integer("limit", default=DEFAULT_LIMIT),
            offset=query.integer("offset", default=0),
        ),
        since=query.helsinki_time("at_start"),
        until=query.helsinki_time("at_end"),
        is_newest_first=is_newest_first,
        property_names=query.names("properties"),
        with_lists=with_lists,
    )
    found = ctx.event_feed.events(feed_query)
    return {"items": [event_view(item, with_list=with_lists) for item in found]}


def _types(name: str | None) -> frozenset[str]:
    if name is None:
        return frozenset(member.value for member in EVENT_TYPES.values())
    if name not in EVENT_TYPES:
        raise Invalid(f"type: {name!r} is not one of {', '.join(sorted(EVENT_TYPES))}")
    return frozenset({EVENT_TYPES[name].value})
