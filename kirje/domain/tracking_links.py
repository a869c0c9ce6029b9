"""Signed links in mail: the open pixel, tracked clicks, the unsubscribe page, the web view of one
recipient's message, and the confirmation link of a contact.

A token is URL-safe Base64 (no padding) of the ids it names, as unsigned LEB128 varints
(account, delivery, contact, and for a click the link's index), followed by the first 16 bytes
(128 bits) of an HMAC-SHA256 over the link's purpose, those bytes and, for a click, the URL.
So a recipient of delivery 4211 of account 3 with contact id 1,048,576 carries a 30-character
token, and no id can be changed, nor a link of one purpose used for another.

Decisions:
* A click signs the URL it redirects to, carried beside the token (`?u=`): a URL made of a
  recipient's own values (`$link$`) differs per recipient, so it cannot be looked up from the
  message, and the server redirects only to a URL whose signature verifies (never an open
  redirect). The link's index is signed too, for per-link reports.
* The ids are not secret (the Message-ID and the VERP address name them already); only the
  signature is. A token that does not verify is refused without saying why.
* The key is derived from the server key (`tracking_key`): replacing the server key ends every
  link in mail already sent, as it would end every sealed secret.
* A confirmation link names the account and the contact, and signs (without carrying) the
  contact's confirmation code: the server reads the current code to check it, so a code made
  anew (setConfirmationCode) ends the links mailed with the old one, and erasing the contact
  (which drops its code) ends them all. The code itself never appears in a URL.
* Building a link touches nothing but memory, and the parts a delivery's links share (its
  ids, each quoted URL) are cached, because the send path makes one per link of every message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from urllib.parse import quote

MAC_BYTES = 16
# Four ids of at most 10 varint bytes each and the MAC, in Base64: longer is never a token.
MAX_TOKEN_LENGTH = (4 * 10 + MAC_BYTES) * 4 // 3 + 1
_KEY_LABEL = b"kirje mail tracking links v1"
# Strictly the URL-safe alphabet, and (checked after decoding) the one spelling of the bytes:
# the decoder would skip other characters and ignore the last character's spare bits.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# What a click's URL keeps unquoted in the query: enough to stay readable, never `&`, `#`, `+`
# or `%`, which would change what the query parser gives back.
_URL_SAFE = "/:?=@!$'()*,;"


class Purpose(StrEnum):
    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"
    WEB_VIEW = "w"
    CONFIRM = "k"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a verified token names."""

    account_id: int
    delivery_id: int
    contact_id: int
    link_index: int | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ConfirmationTarget:
    """Whose confirmation a confirmation link is."""

    account_id: int
    contact_id: int


def tracking_key(server_key: bytes) -> bytes:
    """The links' HMAC key, derived from the server key so that neither is the other."""
    return hmac.new(server_key, _KEY_LABEL, hashlib.sha256).digest()


class TrackingTokens:
    """Signs and verifies tokens with one key."""

    def __init__(self, key: bytes) -> None:
        # The key's HMAC state, made once and copied per token.
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def sign(self, purpose: Purpose, ids: tuple[int, ...], url: str = "") -> str:
        return self.sign_payload(purpose, b"".join(map(_varint, ids)), url)

    def sign_payload(self, purpose: Purpose, payload: bytes, url: str = "") -> str:
        """`sign` for ids already written as varints (a delivery's first two are cached)."""
        return _encoded(payload + self._signature(purpose, payload, url))

    def verify(self, purpose: Purpose, token: str, url: str = "") -> tuple[int, ...] | None:
        """The ids a token names, or None when it is malformed or its signature is not ours."""
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
            return None
        try:
            raw = urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:  # a length no Base64 has
            return None
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if len(mac) != MAC_BYTES or not payload or _encoded(raw) != token:
            return None
        if not hmac.compare_digest(mac, self._signature(purpose, payload, url)):
            return None
        return _read_varints(payload)

    def _signature(self, purpose: Purpose, payload: bytes, url: str) -> bytes:
        mac = self._mac.copy()
        # The purpose is one byte and the ids are self-delimiting, so the URL needs no length.
        mac.update(purpose.encode("ascii") + payload + url.encode("utf-8", "surrogatepass"))
        return mac.digest()[:MAC_BYTES]

    def read_open(self, token: str) -> LinkTarget | None:
        return _target(self.verify(Purpose.OPEN, token), 3)

    def read_unsubscribe(self, token: str) -> LinkTarget | None:
        return _target(self.verify(Purpose.UNSUBSCRIBE, token), 3)

    def read_web_view(self, token: str) -> LinkTarget | None:
        return _target(self.verify(Purpose.WEB_VIEW, token), 3)

    def read_confirmation(self, token: str, code: str) -> ConfirmationTarget | None:
        """The account and contact a confirmation token names, when it signs this code."""
        ids = self.verify(Purpose.CONFIRM, token, code)
        if ids is None or len(ids) != 2:
            return None
        return ConfirmationTarget(*ids)

    def claimed_confirmation(self, token: str) -> ConfirmationTarget | None:
        """The account and contact a confirmation token claims, NOT verified: only to find the
        contact's current code, which `read_confirmation` then checks the token against."""
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
            return None
        try:
            raw = urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        ids = _read_varints(raw[:-MAC_BYTES]) if len(raw) > MAC_BYTES else None
        if ids is None or len(ids) != 2:
            return None
        return ConfirmationTarget(*ids)

    def read_click(self, token: str, url: str) -> LinkTarget | None:
        ids = self.verify(Purpose.CLICK, token, url)
        if ids is None or len(ids) != 4:
            return None
        account_id, delivery_id, contact_id, index = ids
        return LinkTarget(account_id, delivery_id, contact_id, index, url)


class TrackingLinks:
    """The links of one recipient's message, under the server's public URL.

    `unsubscribe` is the page a link in the message body points to; `list_unsubscribe` is
    the same URL for the List-Unsubscribe header, or None when the public URL is not HTTPS
    (RFC 8058 one-click needs HTTPS, and `build_message` refuses anything else).
    """

    def __init__(self, public_url: str, key: bytes) -> None:
        self.base = public_url.rstrip("/")
        self.key = key
        self.tokens = TrackingTokens(key)
        self.is_https = self.base.lower().startswith("https://")

    def __reduce__(self):
        # Sent to the send job's share processes; the HMAC state is remade there.
        return (TrackingLinks, (self.base, self.key))

    def open_pixel(self, account_id: int, delivery_id: int, contact_id: int) -> str:
        payload = _delivery_ids(account_id, delivery_id) + _varint(contact_id)
        return f"{self.base}/o/{self.tokens.sign_payload(Purpose.OPEN, payload)}.gif"

    def click(
        self, account_id: int, delivery_id: int, contact_id: int, index: int, url: str
    ) -> str:
        payload = _delivery_ids(account_id, delivery_id) + _varint(contact_id) + _varint(index)
        token = self.tokens.sign_payload(Purpose.CLICK, payload, url)
        return f"{self.base}/c/{token}?u={_quoted(url)}"

    def unsubscribe(self, account_id: int, delivery_id: int, contact_id: int) -> str:
        payload = _delivery_ids(account_id, delivery_id) + _varint(contact_id)
        return f"{self.base}/u/{self.tokens.sign_payload(Purpose.UNSUBSCRIBE, payload)}"

    def web_view(self, account_id: int, delivery_id: int, contact_id: int) -> str:
        """The page showing the recipient's message as they got it (kirje.web.mail_tracking)."""
        payload = _delivery_ids(account_id, delivery_id) + _varint(contact_id)
        return f"{self.base}/w/{self.tokens.sign_payload(Purpose.WEB_VIEW, payload)}"

    def confirmation(self, account_id: int, contact_id: int, code: str) -> str:
        """The page where the contact confirms (kirje.web.confirmations); valid while `code`
        is the contact's confirmation code."""
        token = self.tokens.sign(Purpose.CONFIRM, (account_id, contact_id), code)
        return f"{self.base}/confirm/{token}"

    def list_unsubscribe(self, account_id: int, delivery_id: int, contact_id: int) -> str | None:
        if not self.is_https:
            return None
        return self.unsubscribe(account_id, delivery_id, contact_id)


def _encoded(raw: bytes) -> str:
    return urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _target(ids: tuple[int, ...] | None, count: int) -> LinkTarget | None:
    if ids is None or len(ids) != count:
        return None
    return LinkTarget(*ids)


@lru_cache(maxsize=8192)
def _quoted(url: str) -> str:
    return quote(url, safe=_URL_SAFE)


@lru_cache(maxsize=256)
def _delivery_ids(account_id: int, delivery_id: int) -> bytes:
    """The first two ids, the same in every link of a delivery."""
    return _varint(account_id) + _varint(delivery_id)


def _varint(value: int) -> bytes:
    # The common sizes written out: a loop costs more than the HMAC.
    if 0 <= value < 0x80:
        return bytes((value,))
    if 0 <= value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if 0 <= value < 0x200000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14))
    if value < 0:
        raise ValueError(f"an id in a link cannot be negative: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varints(data: bytes) -> tuple[int, ...] | None:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                return None
            continue
        values.append(value)
        value = shift = 0
    return tuple(values) if shift == 0 else None
