"""The one exception family of the core; each dialect maps it to its own wire shape."""

from __future__ import annotations

from enum import Enum


class KirjeError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(KirjeError):
    """The thing asked for does not exist in the caller's account."""


class Invalid(KirjeError):
    """The input breaks a rule: a wrong type, a bad address, a reserved name."""


class Conflict(KirjeError):
    """The input is valid but clashes with what is stored (a duplicate, a wrong state)."""


class Forbidden(KirjeError):
    """The caller may not do this."""


class RateLimited(KirjeError):
    """The caller sent more requests than its limit allows."""

    def __init__(self, message: str = "Too Many Requests", retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailure(Enum):
    """Why a signed request was refused; dialects word each reason their own way."""

    MALFORMED = "malformed authorization"
    CHECKSUM = "content checksum does not match the body"
    UNKNOWN_USER = "unknown API user"
    WRONG_REALM = "realm does not match the API user"
    EXPIRED = "date outside the allowed window"
    BAD_SIGNATURE = "signature does not match"


class Unauthorized(KirjeError):
    """A request whose credentials do not verify."""

    def __init__(self, reason: AuthFailure) -> None:
        super().__init__(reason.value)
        self.reason = reason
