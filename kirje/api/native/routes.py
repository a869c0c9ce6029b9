"""Routes of the native API. Each handler reads its typed body, calls one service method in a
worker thread, and answers a typed view; errors become one JSON shape with a status code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, Parameter

from kirje.api.native.auth import BasicAuth
from kirje.api.native.deliveries import delivery_routes
from kirje.api.native.outbox import outbox_routes
from kirje.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    KirjeError,
    NotFound,
    RateLimited,
    Unauthorized,
)
from kirje.domain.messages import Message, MessageContent
from kirje.services.account_services import AccountServices
from kirje.services.system import System

PREFIX = "/api/kirje/v1"
T = TypeVar("T")

_STATUS = {
    Unauthorized: 401,
    NotFound: 404,
    Invalid: 422,
    Conflict: 409,
    Forbidden: 403,
    RateLimited: 429,
}


class DraftIn(msgspec.Struct, forbid_unknown_fields=True):
    """A draft's content; from_email and reply_to default to the account's sender settings."""

    subject: str
    html: str
    name: str = ""
    from_name: str = ""
    from_email: str | None = None
    reply_to: str | None = None
    text: str | None = None
    preheader: str = ""


class Draft(msgspec.Struct):
    id: int
    name: str
    subject: str
    from_name: str
    from_email: str | None
    reply_to: str | None
    html: str
    text: str | None
    preheader: str
    created_at: datetime
    updated_at: datetime


class Failure(msgspec.Struct):
    error: str


def _draft(message: Message) -> Draft:
    return Draft(
        id=message.id,
        name=message.name,
        subject=message.subject,
        from_name=message.from_name,
        from_email=message.from_email,
        reply_to=message.reply_to,
        html=message.html,
        text=message.text,
        preheader=message.preheader,
        created_at=message.created_at,
        updated_at=message.updated_at,
    )


def _content(body: DraftIn) -> MessageContent:
    return MessageContent(**msgspec.structs.asdict(body))


def native_routes(system: System, auth: BasicAuth, threads: anyio.CapacityLimiter) -> list:
    async def call(request: Request, work: Callable[[AccountServices], T]) -> T | Response:
        def run() -> T:
            credential = auth.verify(request.headers.get("authorization"))
            return work(system.for_account(credential.account_id))

        try:
            return await anyio.to_thread.run_sync(run, limiter=threads)
        except KirjeError as error:
            return _failure(error)

    @post(f"{PREFIX}/drafts", status_code=201, tags=["drafts"])
    async def create_draft(request: Request, data: JSONBody[DraftIn]) -> Draft:
        """Creates a draft; its id is what a v2 letter `{type: "draft", id}` refers to."""
        return await call(request, lambda s: _draft(s.messages.create(_content(data))))

    @get(f"{PREFIX}/drafts", tags=["drafts"])
    async def list_drafts(
        request: Request,
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[Draft]:
        """The account's drafts, newest first."""
        return await call(
            request, lambda s: [_draft(m) for m in s.messages.list(limit=limit, offset=offset)]
        )

    @get(f"{PREFIX}/drafts/{{draft_id:int}}", tags=["drafts"])
    async def get_draft(request: Request, draft_id: FromPath[int]) -> Draft:
        return await call(request, lambda s: _draft(s.messages.get(draft_id)))

    @put(f"{PREFIX}/drafts/{{draft_id:int}}", tags=["drafts"])
    async def update_draft(
        request: Request, draft_id: FromPath[int], data: JSONBody[DraftIn]
    ) -> Draft:
        """Replaces a draft's content (deliveries already made keep what they sent)."""
        return await call(request, lambda s: _draft(s.messages.update(draft_id, _content(data))))

    return [
        create_draft,
        list_drafts,
        get_draft,
        update_draft,
        *outbox_routes(call),
        *delivery_routes(call),
    ]


def _failure(error: KirjeError) -> Response[Any]:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
    headers = {"WWW-Authenticate": 'Basic realm="kirje"'} if status == 401 else None
    message = "unauthorized" if status == 401 else error.message
    return Response(Failure(message), status_code=status, headers=headers)
