"""v1 recipient history, consent updates, unsubscriptions and statistics, read from events."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.api.liana_mailer.views import HELSINKI, local_time
from kirje.domain.errors import Invalid
from kirje.domain.events import Event


class HistoryOptions(msgspec.Struct, forbid_unknown_fields=True):
    limit: int = 100
    offset: int = 0
    # Event types to keep: an array, or one string with commas.
    types: list[str] | str | None = None


class ConsentUpdateFilters(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["given", "revoked"] | None = None
    lang: str | None = None


class HistoryUpdateFilters(msgspec.Struct, forbid_unknown_fields=True):
    recipient_id: int | None = None
    member_id: int | None = None  # the same, as some clients name it


# Keys every history action carries; an event's other data follows them.
ACTION_KEYS = ("action", "time", "list_id", "reason", "origin")


def member_history(ctx: Call, recipient_id: int, options: dict | None = None) -> list[dict]:
    chosen = keyed_options(options, HistoryOptions, "options")
    found = ctx.history.contact_history(
        recipient_id, types=_types(chosen.types), limit=chosen.limit, offset=chosen.offset
    )
    return [_action_view(event) for event in found]


def member_history_update(ctx: Call, recipient_id: int) -> int:
    ctx.history.update_contact_history(recipient_id)
    return 1


def member_history_update_status(ctx: Call, recipient_id: int) -> int:
    # 0 = done (or nothing ever asked): nothing to wait for.
    return int(ctx.history.is_update_pending(recipient_id))


def request_member_history_update(ctx: Call, filters: dict | None = None) -> str:
    chosen = keyed_options(filters, HistoryUpdateFilters, "filters")
    contact_id = chosen.recipient_id if chosen.recipient_id is not None else chosen.member_id
    job = ctx.history.request_update(contact_id)
    return f"H:kirje:{job.id}"


def get_member_consent_updates(
    ctx: Call,
    from_date: str,
    offset: int = 0,
    limit: int = 1000,
    filters: dict | None = None,
    consent_id: int | None = None,
) -> dict:
    chosen = keyed_options(filters, ConsentUpdateFilters, "filters")
    updates = ctx.history.consent_updates(
        _moment(from_date, "from_date"),
        consent_id=consent_id,
        is_given=None if chosen.action is None else chosen.action == "given",
        lang=chosen.lang or None,
        offset=offset,
        limit=limit,
    )
    items = [
        {
            "member_id": u.contact_id,
            "consent_id": u.consent_id,
            "consent_revision": u.revision,
            "lang": u.lang,
            "action": "given" if u.is_given else "revoked",
            "time": local_time(u.at),
        }
        for u in updates.items
    ]
    return {"items": items, "count": updates.total}


def get_unsubscriptions(ctx: Call, from_date: str | None = None) -> list[dict]:
    since = _moment(from_date, "from_date") if from_date else None
    return [
        {
            "member_id": u.contact_id,
            "email": u.email,
            "list_id": u.list_id,
            "time": local_time(u.at),
            "reason": u.reason,
        }
        for u in ctx.history.unsubscriptions(since)
    ]


def get_recipients_stats(
    ctx: Call, recipient_ids: list[int] | None = None, values: list[str] | None = None
) -> dict:
    stats = ctx.history.mail_stats(recipient_ids or [], values or None)
    return {str(contact_id): counts for contact_id, counts in stats.items()}


def _action_view(event: Event) -> dict:
    data = event.data
    view = {
        "action": event.type,
        "time": local_time(event.at),
        "list_id": event.list_id,
        "reason": data.get("reason"),
        "origin": data.get("origin"),
    }
    view.update({key: value for key, value in data.items() if key not in ACTION_KEYS})
    return view


def _moment(text: str, name: str) -> datetime:
    """ISO 8601 dates and times (offsets +HH:MM, +HHMM or Z); without one, Helsinki time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"{name} {text!r} is not a date (e.g. 2020-01-10T01:00:00+0200)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=HELSINKI)


def _types(value: list[str] | str | None) -> list[str] | None:
    if not value:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
