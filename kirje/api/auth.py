"""Liana-style signed requests (LianaMailer and LianaAutomation share one scheme).

Authorization: REALM USERID:SIGNATURE, the signature being the hex HMAC-SHA256, keyed with the
user's secret, of method, body MD5, "application/json", Date, body and path joined by newlines.
The body and the path are hashed exactly as received: clients encode JSON differently
(PHP compact, Python with spaces, WordPress with escaped slashes) and percent-encode queries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime

from kirje.domain.accounts import ApiCredential
from kirje.domain.errors import AuthFailure, Unauthorized

SIGNED_CONTENT_TYPE = b"application/json"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    target: bytes  # raw path with "?query" when there is one
    body: bytes
    content_md5: str | None
    date: str | None
    authorization: str | None


@dataclass(frozen=True)
class Authorization:
    realm: str
    user_id: int
    signature: str


def content_md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def signature(secret: bytes, method: str, md5: str, date: str, body: bytes, target: bytes) -> str:
    message = b"\n".join(
        [method.upper().encode(), md5.encode(), SIGNED_CONTENT_TYPE, date.encode(), body, target]
    )
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def parse_authorization(header: str | None) -> Authorization:
    try:
        realm, credentials = (header or "").strip().split(" ", 1)
        user, sent_signature = credentials.strip().split(":", 1)
        return Authorization(realm, int(user), sent_signature.strip().lower())
    except ValueError:
        raise Unauthorized(AuthFailure.MALFORMED) from None


def parse_date(text: str, naive_zone: tzinfo) -> datetime:
    """ISO 8601 with 'T' or space, offsets +HH:MM, +HHMM, Z or none; or an RFC 1123 date."""
    cleaned = text.strip()
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        try:
            moment = parsedate_to_datetime(cleaned)
        except (TypeError, ValueError, IndexError):
            raise Unauthorized(AuthFailure.EXPIRED) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=naive_zone)


class SignatureVerifier:
    """Checks a signed request and returns the credential it was signed with."""

    def __init__(
        self,
        find_credential: Callable[[int], ApiCredential | None],
        *,
        window: timedelta,
        clock: Callable[[], datetime],
        naive_zone: tzinfo,
    ) -> None:
        self._find_credential = find_credential
        self._window = window
        self._clock = clock
        self._naive_zone = naive_zone

    def verify(self, request: SignedRequest) -> ApiCredential:
        authorization = parse_authorization(request.authorization)
        md5 = content_md5(request.body)
        if not hmac.compare_digest((request.content_md5 or "").strip().lower(), md5):
            raise Unauthorized(AuthFailure.CHECKSUM)
        credential = self._find_credential(authorization.user_id)
        if credential is None or not credential.is_enabled:
            raise Unauthorized(AuthFailure.UNKNOWN_USER)
        if authorization.realm.upper() != credential.realm.upper():
            raise Unauthorized(AuthFailure.WRONG_REALM)
        date = request.date or ""
        if abs(self._clock() - parse_date(date, self._naive_zone)) > self._window:
            raise Unauthorized(AuthFailure.EXPIRED)
        expected = signature(
            credential.secret, request.method, md5, date, request.body, request.target
        )
        if not hmac.compare_digest(expected, authorization.signature):
            raise Unauthorized(AuthFailure.BAD_SIGNATURE)
        return credential


def signed_request_from_scope(scope: dict, body: bytes) -> SignedRequest:
    """Reads the raw ASGI request: headers as sent (any case), the path and query undecoded."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.lower(), value)
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target = target + b"?" + scope["query_string"]

    def header(name: bytes) -> str | None:
        value = headers.get(name)
        return value.decode("latin-1") if value is not None else None

    return SignedRequest(
        method=scope["method"],
        target=target,
        body=body,
        content_md5=header(b"content-md5"),
        date=header(b"date"),
        authorization=header(b"authorization"),
    )
