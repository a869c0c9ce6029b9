"""v2 deliveries: batch-send (lists and/or given recipients), event-send (transactional) and
webpage-send, with the `letter` object that names a draft and overrides its content.

batch-send and webpage-send also take `scheduled` (inferred: Kirje's extension, not in the
seed): an ISO 8601 time to start the delivery at, Helsinki time when it has no offset."""

from __future__ import annotations

import re
import secrets
from typing import Literal

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.api.liana_mailer.local_times import parse_local_time
from kirje.domain.deliveries import DeliveryKind, GivenRecipient, Letter
from kirje.domain.errors import Invalid

_TRACKING_ID = re.compile(r"[a-z0-9]{10,24}")


class LetterBody(msgspec.Struct):
    id: int
    type: Literal["draft"] = "draft"
    recipients_reset: bool = False
    subject: str | None = None
    html: str | None = None


class BatchSend(msgspec.Struct):
    letter: LetterBody
    lists: list[int] = []
    recipients: list[dict] = []
    # Inferred (Kirje's extension): when to start; absent, at once.
    scheduled: str | None = None


class EventSend(msgspec.Struct):
    letter: LetterBody
    recipients: list[dict]
    tracking_id: str | None = None


def batch_send(ctx: Call, body: dict) -> dict:
    return _send(ctx, body, DeliveryKind.BATCH)


def webpage_send(ctx: Call, body: dict) -> dict:
    return _send(ctx, body, DeliveryKind.WEBPAGE)


def _send(ctx: Call, body: dict, kind: DeliveryKind) -> dict:
    request = keyed_options(body, BatchSend, "body")
    scheduled = request.scheduled
    delivery = ctx.deliveries.send(
        kind,
        _letter(request.letter),
        list_ids=request.lists,
        recipients=_recipients(request.recipients),
        scheduled_at=parse_local_time(scheduled, "scheduled") if scheduled else None,
    )
    return {"deliveries": [delivery.id], "mails": [delivery.message_id]}


def event_send(ctx: Call, body: dict) -> dict:
    request = keyed_options(body, EventSend, "body")
    if not request.recipients:
        raise Invalid("recipients is required")
    tracking_id = request.tracking_id or secrets.token_hex(8)
    if not _TRACKING_ID.fullmatch(tracking_id):
        raise Invalid("tracking_id: 10-24 characters, a-z and 0-9 only")
    recipients = _recipients(request.recipients)
    delivery = ctx.deliveries.send(
        DeliveryKind.EVENT, _letter(request.letter, tracking_id), recipients=recipients
    )
    return {
        "delivery_id": delivery.id,
        "mail_id": delivery.message_id,
        "tracking_id": tracking_id,
        "recipients": len(recipients),
    }


def _letter(body: LetterBody, tracking_id: str | None = None) -> Letter:
    return Letter(
        draft_id=body.id,
        subject=body.subject,
        html=body.html,
        recipients_reset=body.recipients_reset,
        tracking_id=tracking_id,
    )


def _recipients(entries: list[dict]) -> list[GivenRecipient]:
    """Recipient objects: `email` and property values (numbers become text, as a property
    value is text); `sms` is accepted and left out: these are mail deliveries."""
    recipients = []
    for index, entry in enumerate(entries):
        email = entry.get("email")
        if not isinstance(email, str) or not email.strip():
            raise Invalid(f"recipients[{index}].email is required")
        properties = {}
        for name, value in entry.items():
            if name in ("email", "sms") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise Invalid(f"recipients[{index}].{name} must be a string or a number")
            properties[name] = str(value)
        recipients.append(GivenRecipient(email, properties))
    return recipients
