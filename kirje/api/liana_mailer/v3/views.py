"""The v3 shapes of feed events, their recipients and lists."""

from __future__ import annotations

from typing import Any

from kirje.api.liana_mailer.v3.query import helsinki_text
from kirje.domain.event_feed import EventContact, FeedEvent, ListSummary

# Kirje's names for event data that LianaMailer spells its own way. The rest of an event's
# data (reason, origin, admin, the changed values of a data-change...) goes out as it is.
_DATA_NAMES = {
    "user_agent": "useragent",
    "kind": "bounce-type",
    "diagnostic": "reason",
}
# Said by the event's columns instead (delivery-id, link-id).
_DATA_REPLACED = frozenset({"delivery", "link"})


def event_view(item: FeedEvent, *, with_list: bool) -> dict[str, Any]:
    return {
        "at": helsinki_text(item.event.at),
        "type": item.event.type,
        "data": event_data(item),
        "recipient": recipient_view(item.contact),
        "list": list_view(item.mailing_list) if with_list else None,
    }


def event_data(item: FeedEvent) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if item.delivery_id is not None:
        data["delivery-id"] = item.delivery_id
    if item.event.list_id is not None:
        data["list-id"] = item.event.list_id
    if "link" in item.event.data:
        data["link-id"] = item.link_id
    for name, value in item.event.data.items():
        if name not in _DATA_REPLACED:
            data.setdefault(_DATA_NAMES.get(name, name), value)
    return data


def recipient_view(contact: EventContact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {
        "id": contact.id,
        "email": contact.email,
        "sms": contact.sms,
        "properties": contact.properties,
    }


def list_view(summary: ListSummary | None) -> dict[str, Any] | None:
    return None if summary is None else {"id": summary.id, "name": summary.name}
