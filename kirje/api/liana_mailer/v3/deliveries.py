"""GET /api/v3/deliveries/{delivery_id}/openers and .../clickers: one item per recipient who
opened (clicked) the delivery, with their first open (click)."""

from __future__ import annotations

from typing import Any

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.v3.query import QueryParameters, helsinki_text, sort_order
from kirje.api.liana_mailer.v3.views import event_data
from kirje.domain.errors import Invalid
from kirje.domain.event_feed import FeedPage, Responder, ResponderOrder, ResponderQuery
from kirje.domain.events import EventType

PARAMETERS = ("limit", "offset", "fields", "properties", "sort", "event_at_start")
DEFAULT_LIMIT = 20
DEFAULT_FIELDS = ("id", "href", "event")
# email and sms are ours (inferred); properties is always in an item (null unless asked for).
FIELDS = (*DEFAULT_FIELDS, "email", "sms", "properties")
SORTS = {"id": ResponderOrder.CONTACT, "event.at": ResponderOrder.FIRST_RESPONSE}
DEFAULT_SORT = "-event.at"


def openers(ctx: Call, query: QueryParameters, delivery_id: int) -> dict:
    return _responders(ctx, query, delivery_id, EventType.MAIL_OPEN)


def clickers(ctx: Call, query: QueryParameters, delivery_id: int) -> dict:
    return _responders(ctx, query, delivery_id, EventType.MAIL_LINK)


def _responders(ctx: Call, query: QueryParameters, delivery_id: int, kind: EventType) -> dict:
    query.allow_only(PARAMETERS)
    fields = _fields(query.names("fields"))
    sort, is_descending = sort_order(query.text("sort"), SORTS, default=DEFAULT_SORT)
    responder_query = ResponderQuery(
        type=kind.value,
        page=FeedPage(
            limit=query.integer("limit", default=DEFAULT_LIMIT),
            offset=query.integer("offset", default=0),
        ),
        since=query.helsinki_time("event_at_start"),
        order=SORTS[sort],
        is_descending=is_descending,
        property_names=query.names("properties"),
    )
    found = ctx.event_feed.responders(delivery_id, responder_query)
    return {"items": [_item(responder, fields) for responder in found]}


def _fields(given: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [name for name in given if name not in FIELDS]
    if unknown:
        raise Invalid(f"fields: unknown {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    return given or DEFAULT_FIELDS


def _item(responder: Responder, fields: tuple[str, ...]) -> dict[str, Any]:
    contact, first = responder.contact, responder.first
    values: dict[str, Any] = {
        "id": contact.id,
        "href": f"/api/v3/recipients/{contact.id}",
        "event": {
            "at": helsinki_text(first.event.at),
            "type": first.event.type,
            "data": event_data(first),
        },
        "email": contact.email,
        "sms": contact.sms,
    }
    item = {name: values[name] for name in fields if name in values}
    item["properties"] = contact.properties
    return item
