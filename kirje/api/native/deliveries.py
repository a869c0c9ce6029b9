"""Native API: deliveries. A draft sent to lists and/or given recipients, at once or at a time
set ahead; read with the counts of its ledger; cancelled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, JSONBody

from kirje.domain.deliveries import Delivery, DeliveryKind, GivenRecipient, Letter
from kirje.services.account_services import AccountServices

PREFIX = "/api/kirje/v1"

Call = Callable[[Request, Callable[[AccountServices], Any]], Awaitable[Any]]

# A moment with its offset (2030-01-01T09:00:00Z): the native API never guesses a time zone.
Moment = Annotated[datetime, msgspec.Meta(tz=True)]


class RecipientIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    # Values for this delivery, over the contact's own ($name$ placeholders).
    properties: dict[str, str] = {}


class DeliveryIn(msgspec.Struct, forbid_unknown_fields=True):
    """A newsletter: the draft `message_id` to the members of `list_ids` and/or `recipients`
    (each person once), started at once or at `scheduled_at`. A scheduled delivery takes the
    lists' members as they are when it starts."""

    message_id: int
    list_ids: list[int] = []
    recipients: list[RecipientIn] = []
    scheduled_at: Moment | None = None


class LedgerCountsOut(msgspec.Struct):
    """Recipients per ledger state: pending (to send), claimed and sending (in flight), sent,
    failed, unknown (in flight when a worker died), cancelled (never sent)."""

    pending: int
    claimed: int
    sending: int
    sent: int
    failed: int
    unknown: int
    cancelled: int
    total: int


class DeliveryOut(msgspec.Struct):
    id: int
    message_id: int
    kind: str
    # scheduled, queued, sending, done, cancelled or failed
    state: str
    list_ids: list[int]
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    related_to: int | None
    hidden: bool
    counts: LedgerCountsOut


def _view(services: AccountServices, delivery: Delivery) -> DeliveryOut:
    counts = services.deliveries.counts(delivery.id)
    return DeliveryOut(
        id=delivery.id,
        message_id=delivery.message_id,
        kind=delivery.kind.value,
        state=delivery.state.value,
        list_ids=list(delivery.list_ids),
        scheduled_at=delivery.scheduled_at,
        started_at=delivery.started_at,
        finished_at=delivery.finished_at,
        created_at=delivery.created_at,
        related_to=delivery.related_to,
        hidden=delivery.hidden,
        counts=LedgerCountsOut(
            pending=counts.pending,
            claimed=counts.claimed,
            sending=counts.sending,
            sent=counts.sent,
            failed=counts.failed,
            unknown=counts.unknown,
            cancelled=counts.cancelled,
            total=counts.total,
        ),
    )


def _send(services: AccountServices, body: DeliveryIn) -> DeliveryOut:
    delivery = services.deliveries.send(
        DeliveryKind.BATCH,
        Letter(body.message_id),
        list_ids=body.list_ids,
        recipients=[GivenRecipient(r.email, dict(r.properties)) for r in body.recipients],
        scheduled_at=body.scheduled_at,
    )
    return _view(services, delivery)


def delivery_routes(call: Call) -> list:
    """The routes, answered through the native API's `call` (Basic auth, errors as JSON)."""

    @post(f"{PREFIX}/deliveries", status_code=201, tags=["deliveries"])
    async def create_delivery(request: Request, data: JSONBody[DeliveryIn]) -> DeliveryOut:
        """Sends a draft to lists and/or recipients; with `scheduled_at` still to come, the
        delivery waits (state `scheduled`) and a job worker starts it at that time."""
        return await call(request, lambda s: _send(s, data))

    @get(f"{PREFIX}/deliveries/{{delivery_id:int}}", tags=["deliveries"])
    async def get_delivery(request: Request, delivery_id: FromPath[int]) -> DeliveryOut:
        """A delivery's state and how many of its recipients are in each ledger state."""
        return await call(request, lambda s: _view(s, s.deliveries.get(delivery_id)))

    @post(f"{PREFIX}/deliveries/{{delivery_id:int}}/cancel", status_code=200, tags=["deliveries"])
    async def cancel_delivery(request: Request, delivery_id: FromPath[int]) -> DeliveryOut:
        """Nobody more is mailed: a scheduled or queued delivery never sends, a sending one
        stops (who was mailed stays mailed). 409 when the delivery has finished."""
        return await call(request, lambda s: _view(s, s.deliveries.cancel(delivery_id)))

    return [create_delivery, get_delivery, cancel_delivery]
