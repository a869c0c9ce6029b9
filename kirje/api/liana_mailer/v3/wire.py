"""How v3 answers: the resource itself on success, and errors with HTTP statuses.

v1 and v2 report domain errors with HTTP 200 and succeed:false; v3 cannot, because v3 clients
read the body as the resource: the seed's events loop would take an error body for a page
without items. The PHP rest-client raises RestClientAuthorizationException on 401 and an
APIException carrying `message` on any other status >= 400, so every v3 error has a 4xx/5xx
status and a JSON body with `message` (and the same `succeed`/`code` keys as v1/v2).
"""

from __future__ import annotations

from typing import Any

import orjson

from kirje.api.liana_mailer.wire import (
    RATE_LIMITED_MESSAGE,
    UNAUTHORIZED_MESSAGE,
    BodyTooLarge,
    MalformedBody,
    NotAvailableYet,
)
from kirje.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    KirjeError,
    NotFound,
    RateLimited,
    Unauthorized,
)


class UnknownResource(KirjeError):
    pass


class WrongMethod(KirjeError):
    pass


_STATUS_AND_CODE: tuple[tuple[type[KirjeError], int, str], ...] = (
    (Unauthorized, 401, "unauthorized"),
    (RateLimited, 429, "rate_limited"),
    (UnknownResource, 404, "unknown_resource"),
    (WrongMethod, 405, "method_not_allowed"),
    (MalformedBody, 400, "malformed_body"),
    (BodyTooLarge, 413, "too_large"),
    (NotAvailableYet, 501, "not_available"),
    (NotFound, 404, "not_found"),
    (Invalid, 400, "invalid"),
    (Conflict, 409, "conflict"),
    (Forbidden, 403, "forbidden"),
)


def resource(value: Any) -> tuple[int, bytes]:
    return 200, orjson.dumps(value)


def failure(error: KirjeError) -> tuple[int, bytes]:
    status, code = next(
        ((status, code) for kind, status, code in _STATUS_AND_CODE if isinstance(error, kind)),
        (500, "error"),
    )
    message = error.message
    if isinstance(error, Unauthorized):
        message = f"{UNAUTHORIZED_MESSAGE}: {error.reason.value}"
    elif isinstance(error, RateLimited):
        message = RATE_LIMITED_MESSAGE
    return status, orjson.dumps({"succeed": False, "message": message, "code": code})
