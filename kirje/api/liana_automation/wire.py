"""LianaAutomation's answers, and the one place where errors become its status codes and bodies.

The seed keeps HTTP 200 for refused credentials, with its three exact messages (the WordPress
plugins read no body of a non-2xx answer); a wrong path or realm is the seed's 404 body.
Errors of a call itself are `{"succeed": false, "message": ...}`, the shape of its success.
"""

from __future__ import annotations

from typing import Any

import orjson

from kirje.domain.errors import AuthFailure, KirjeError, RateLimited, Unauthorized

AUTH_PREFIX = "RESTv1 unauthorized login attempt: "
# The seed's messages; "Date expired!" is Kirje's own (the seed names no message for it).
AUTH_MESSAGES = {
    AuthFailure.CHECKSUM: "Checksum does not match!",
    AuthFailure.MALFORMED: "User not valid!",
    AuthFailure.UNKNOWN_USER: "User not valid!",
    AuthFailure.BAD_SIGNATURE: "Hash mismatch!",
    AuthFailure.EXPIRED: "Date expired!",
}
NOT_FOUND_BODY = b'{"message":"Not found","status":404,"status_message":"Not Found"}'


class UnknownOperation(KirjeError):
    """A path under /rest/v1/ that names no operation."""


class MalformedBody(KirjeError):
    pass


class BodyTooLarge(KirjeError):
    pass


def answer(payload: Any) -> tuple[int, bytes]:
    return 200, orjson.dumps(payload)


def not_found() -> tuple[int, bytes]:
    return 404, NOT_FOUND_BODY


def failure(error: KirjeError) -> tuple[int, bytes]:
    if isinstance(error, UnknownOperation):
        return not_found()
    if isinstance(error, Unauthorized):
        if error.reason is AuthFailure.WRONG_REALM:
            return not_found()
        return 200, orjson.dumps({"message": AUTH_PREFIX + AUTH_MESSAGES[error.reason]})
    if isinstance(error, RateLimited):
        return 429, orjson.dumps({"succeed": False, "message": error.message})
    if isinstance(error, BodyTooLarge):
        return 413, orjson.dumps({"succeed": False, "message": error.message})
    return 200, orjson.dumps({"succeed": False, "message": error.message})


def internal_error() -> tuple[int, bytes]:
    return 500, orjson.dumps({"succeed": False, "message": "Internal server error"})


def decode(body: bytes) -> Any:
    """The JSON body; an empty one is null (channel/list is posted with `null` or nothing)."""
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"request body is not valid JSON: {error}") from None
