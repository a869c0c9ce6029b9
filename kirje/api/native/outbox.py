"""Native API: the local outbox, where mail goes when no SMTP server is configured. Each account
sees only the messages of its own deliveries (kirje.mail.account_outbox)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.params import FromPath, Parameter

from kirje.mail.account_outbox import AccountOutbox, OutboxMessage
from kirje.services.account_services import AccountServices

PREFIX = "/api/kirje/v1"

Call = Callable[[Request, Callable[[AccountServices], Any]], Awaitable[Any]]


class OutboxItem(msgspec.Struct, rename={"from_": "from"}):
    id: str
    to: str
    from_: str | None
    subject: str | None
    date: datetime
    size: int


def _item(message: OutboxMessage) -> OutboxItem:
    return OutboxItem(
        id=message.id,
        to=message.to,
        from_=message.from_,
        subject=message.subject,
        date=message.date,
        size=message.size,
    )


def outbox_routes(call: Call) -> list:
    """The routes, answered through the native API's `call` (Basic auth, errors as JSON)."""

    @get(f"{PREFIX}/outbox", tags=["outbox"])
    async def list_outbox(
        request: Request,
        limit: int = Parameter(default=50, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[OutboxItem]:
        """The account's messages in the local outbox, newest first: `id` names the message
        (the maildir file), `to` its envelope recipients, `size` its bytes as sent."""
        return await call(
            request,
            lambda s: [_item(m) for m in AccountOutbox(s.scope).page(limit=limit, offset=offset)],
        )

    @get(f"{PREFIX}/outbox/{{outbox_id:str}}", tags=["outbox"], media_type="message/rfc822")
    async def get_outbox_message(request: Request, outbox_id: FromPath[str]) -> Response[bytes]:
        """One message of the account as it was sent (RFC 5322), to read or save as .eml."""
        answer = await call(request, lambda s: AccountOutbox(s.scope).message(outbox_id))
        if isinstance(answer, Response):
            # An error, in the API's JSON shape: the route's own media type is the message's.
            answer.media_type = MediaType.JSON
            return answer
        return Response(answer, media_type="message/rfc822")

    return [list_outbox, get_outbox_message]
