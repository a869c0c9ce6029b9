"""The LianaMailer envelope, and the one place where errors become status codes and messages."""

from __future__ import annotations

from typing import Any

import orjson

from kirje.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    KirjeError,
    NotFound,
    RateLimited,
    Unauthorized,
)


class UnknownMethod(KirjeError):
    pass


class NotAvailableYet(KirjeError):
    pass


class MalformedBody(KirjeError):
    pass


class BodyTooLarge(KirjeError):
    pass


# Domain errors travel with HTTP 200 and succeed:false, as the clients expect: the WordPress
# plugins throw on 401 without reading the body, the Python client raises on any status >= 400
# naming only the status, and every client reads `message` from a 200 with succeed:false.
_STATUS_AND_CODE: tuple[tuple[type[KirjeError], int, str], ...] = (
    (Unauthorized, 401, "unauthorized"),
    (RateLimited, 429, "rate_limited"),
    (UnknownMethod, 404, "unknown_method"),
    (MalformedBody, 400, "malformed_body"),
    (BodyTooLarge, 413, "too_large"),
    (NotAvailableYet, 200, "not_available"),
    (NotFound, 200, "not_found"),
    (Invalid, 200, "invalid"),
    (Conflict, 200, "conflict"),
    (Forbidden, 200, "forbidden"),
)

UNAUTHORIZED_MESSAGE = "Unauthorized"
RATE_LIMITED_MESSAGE = "Too Many Requests"


def success(result: Any) -> tuple[int, bytes]:
    return 200, orjson.dumps({"succeed": True, "result": result})


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


def internal_error() -> tuple[int, bytes]:
    body = {"succeed": False, "message": "Internal server error", "code": "error"}
    return 500, orjson.dumps(body)
