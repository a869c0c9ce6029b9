"""Who calls the native API: HTTP Basic with an API user's id and secret (over TLS).

The Liana dialects sign every request because their clients do; Kirje's own API is for
operators' scripts and apps, where Basic over HTTPS is what every HTTP client speaks. The
secret is compared in constant time, and the user's rate limit applies as on the dialects.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from kirje.api.rate_limit import RateLimiter
from kirje.domain.accounts import ApiCredential
from kirje.domain.errors import AuthFailure, RateLimited, Unauthorized
from kirje.services.accounts import CredentialCache


class BasicAuth:
    def __init__(self, credentials: CredentialCache, limiter: RateLimiter) -> None:
        self.credentials = credentials
        self.limiter = limiter

    def verify(self, header: str | None) -> ApiCredential:
        user_id, secret = _basic(header)
        credential = self.credentials.get(user_id)
        if credential is None or not credential.is_enabled:
            raise Unauthorized(AuthFailure.UNKNOWN_USER)
        if not hmac.compare_digest(credential.secret, secret):
            raise Unauthorized(AuthFailure.BAD_SIGNATURE)
        if not self.limiter.allow(f"liana:{credential.user_id}", credential.rate_limit_per_second):
            raise RateLimited()
        return credential


def _basic(header: str | None) -> tuple[int, bytes]:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized(AuthFailure.MALFORMED)
    try:
        user, _, secret = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        return int(user), secret
    except (binascii.Error, ValueError):
        raise Unauthorized(AuthFailure.MALFORMED) from None
