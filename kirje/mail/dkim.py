"""DKIM signing (RFC 6376, rsa-sha256, relaxed/relaxed) with OpenSSL's RSA, through `cryptography`.

dkimpy does RSA in pure Python: it signs about 100 of our messages a second here, where OpenSSL
signs about 1,300 with a 2048-bit key; dkimpy stays, as the independent verifier of the tests.
Canonicalisation is tuned for what `kirje.mail.mime` builds: a body with no runs of blanks and no
blanks at line ends (base64 has none) is found so by one search and hashed as it is. Anything else
still canonicalises correctly, with a few passes of bytes.replace and one regex substitution.

Ed25519 (RFC 8463) is not offered: large receivers still ignore it, so it could only be a second
signature beside RSA, and dkimpy cannot verify it here without PyNaCl.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# What the receiving mail client shows or acts on. RFC 8058 requires List-Unsubscribe and
# List-Unsubscribe-Post to be signed for one-click unsubscribing.
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
)
# Signed once more than they occur ("oversigned", RFC 6376 section 8.15): a verifier then
# counts a copy added in transit as a change, so nobody can prepend a second From, Subject or
# unsubscribe link to a signed message, or add a Reply-To or Cc it never had.
OVERSIGNED_HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
MIN_KEY_BITS = 1024  # RFC 8301: verifiers must refuse smaller RSA keys

_WSP_RUN = re.compile(rb"[ \t]+")
# Both start with a literal space, so the regex engine skips from space to space at C speed.
_SPACE_BEFORE_WSP_OR_EOL = re.compile(rb" [ \r]")
_SPACE_RUN = re.compile(rb"  +")

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True)
class DkimKey:
    """A signing domain's key: d= is `domain`, s= is `selector`; the PEM is parsed once."""

    domain: str
    selector: str
    private_key_pem: str | bytes = field(repr=False)
    _key: rsa.RSAPrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, value in (("domain", self.domain), ("selector", self.selector)):
            if not _DNS_NAME.fullmatch(value):
                raise ValueError(f"a DKIM {name} is ASCII DNS labels (IDNA A-labels): {value!r}")
        pem = self.private_key_pem
        key = serialization.load_pem_private_key(
            pem.encode("ascii") if isinstance(pem, str) else pem, password=None
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a DKIM key must be an RSA private key")
        if key.key_size < MIN_KEY_BITS:
            raise ValueError(f"a DKIM RSA key needs at least {MIN_KEY_BITS} bits")
        object.__setattr__(self, "_key", key)

    def __reduce__(self):
        # Sent to the send job's share processes; the key is parsed again there.
        return (DkimKey, (self.domain, self.selector, self.private_key_pem))

    @property
    def dns_name(self) -> str:
        """Where verifiers look up the public key."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def dns_txt_record(self) -> str:
        """The TXT record value to publish at `dns_name`."""
        return _txt_record(self._key.public_key())


def generate_key(bits: int = 2048) -> tuple[str, str]:
    """A new RSA key: (private key PEM, the "v=DKIM1; k=rsa; p=..." TXT value for the DNS).

    A 2048-bit key's TXT value is longer than 255 characters, so DNS holds it as several strings
    of one record; most DNS hosting panels split it by themselves.
    """
    if bits < MIN_KEY_BITS:
        raise ValueError(f"a DKIM RSA key needs at least {MIN_KEY_BITS} bits")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii"), _txt_record(key.public_key())


def _txt_record(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


def sign(
    message: bytes,
    key: DkimKey,
    headers_to_sign: Sequence[str] = SIGNED_HEADERS,
    *,
    oversign: Collection[str] = OVERSIGNED_HEADERS,
    timestamp: int | None = None,
) -> bytes:
    """The message with a DKIM-Signature header prepended (rsa-sha256, relaxed/relaxed).

    h= names each header of `headers_to_sign` as often as the message has it, and each of
    `oversign` once more (also when absent, so that none can be added).

    The message must have CRLF line endings only, as `build_message` makes it and SMTP carries
    it: the transport turns a bare CR or LF into CRLF, which would change what the signature
    covers. The header block is checked for that (a bare line break there is header injection);
    the body is not, since counting its line endings costs about 60 us for 40 KB here, a tenth
    of a message's whole budget. A message that does not end with CRLF gets one, as SMTP would
    add it. Raises ValueError for a bare CR or LF in the header block, a line there that is not
    a header field, or a message without From.
    """
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    head, body = _split_message(message)
    fields = _relaxed_fields(head)
    if b"from" not in fields:
        raise ValueError("a DKIM signature must cover From, and the message has none")
    names = _names_to_sign(fields, _lowered(tuple(headers_to_sign), tuple(oversign)))
    body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode("ascii")
    unsigned = (
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={key.domain};\r\n"
        f" s={key.selector}; t={int(time.time()) if timestamp is None else timestamp};\r\n"
        f"{_h_tag(names)}\r\n bh={body_hash};\r\n b="
    ).encode("ascii")
    signed_data = b"".join(_selected_headers(fields, names)) + relaxed_header(
        *unsigned.split(b":", 1)
    ).removesuffix(b"\r\n")
    signature = key._key.sign(signed_data, padding.PKCS1v15(), hashes.SHA256())
    return unsigned + _fold_base64(base64.b64encode(signature)) + b"\r\n" + message


def _split_message(message: bytes) -> tuple[bytes, bytes]:
    """(header block with its final CRLF, body)."""
    if message.startswith(b"\r\n"):
        return b"", message[2:]
    end = message.find(b"\r\n\r\n")
    if end < 0:
        return message, b""
    return message[: end + 2], message[end + 4 :]


def _relaxed_fields(head: bytes) -> dict[bytes, list[bytes]]:
    """Each lowercased field name with its fields, relaxed-canonical (RFC 6376 section 3.4.2),
    in message order. The whole block is unfolded and its WSP runs compressed at once, which
    costs less than doing it field by field."""
    line_feeds = head.count(b"\n")
    if head.count(b"\r\n") != line_feeds or head.count(b"\r") != line_feeds:
        raise ValueError("the header block of a message to sign has a bare CR or LF")
    if head[:1] in (b" ", b"\t"):
        raise ValueError("a message's header block cannot start with a folded line")
    unfolded = head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    if b"\t" in unfolded:
        unfolded = unfolded.replace(b"\t", b" ")
    if b"  " in unfolded:
        unfolded = _SPACE_RUN.sub(b" ", unfolded)
    fields: dict[bytes, list[bytes]] = {}
    for line in unfolded.split(b"\r\n")[:-1]:
        name, colon, value = line.partition(b":")
        name = name.rstrip(b" ").lower()
        if not colon or not name:
            raise ValueError(f"not a header field: {line[:60]!r}")
        fields.setdefault(name, []).append(b"%s:%s\r\n" % (name, value.strip(b" ")))
    return fields


@lru_cache(maxsize=64)
def _lowered(
    headers_to_sign: tuple[str, ...], oversign: tuple[str, ...]
) -> tuple[tuple[bytes, bool], ...]:
    """Each header name to sign or oversign, once, lowercased, with whether it is oversigned."""
    extra = {name.lower() for name in oversign}
    names = dict.fromkeys(name.lower() for name in (*headers_to_sign, *oversign))
    return tuple((name.encode("ascii"), name in extra) for name in names)


def _names_to_sign(
    fields: dict[bytes, list[bytes]], wanted: tuple[tuple[bytes, bool], ...]
) -> tuple[bytes, ...]:
    names: list[bytes] = []
    for name, is_oversigned in wanted:
        count = len(fields.get(name, ())) + is_oversigned
        if count:
            names.extend([name] * count)
    return tuple(names)


def _selected_headers(fields: dict[bytes, list[bytes]], names: tuple[bytes, ...]) -> list[bytes]:
    """Canonical fields in h= order; a repeated name takes the next instance from the bottom
    (RFC 6376 section 5.4.2), and a name with none left contributes nothing."""
    taken: dict[bytes, int] = {}
    selected = []
    for name in names:
        instances = fields.get(name, ())
        count = taken.get(name, 0)
        if count < len(instances):
            selected.append(instances[-1 - count])
        taken[name] = count + 1
    return selected


@lru_cache(maxsize=256)
def _h_tag(names: tuple[bytes, ...]) -> str:
    """The h= tag, folded under 78 characters; the same for every message of a campaign."""
    lines = []
    line = " h="
    for index, name in enumerate(names):
        piece = name.decode("ascii") + (":" if index < len(names) - 1 else ";")
        if len(line) + len(piece) > 78:
            lines.append(line)
            line = " "
        line += piece
    lines.append(line)
    return "\r\n".join(lines)


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 section 3.4.2: lowercase name, unfolded value, WSP runs as one SP, trimmed."""
    value = value.replace(b"\r\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value)
    return name.rstrip(b" \t").lower() + b":" + value.strip(b" ") + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 section 3.4.4 for a CRLF body: WSP runs as one SP, none at line ends, no empty
    lines at the end, and a final CRLF unless the body is empty."""
    if b"\t" in body:
        body = body.replace(b"\t", b" ")
    if _SPACE_BEFORE_WSP_OR_EOL.search(body):
        body = _SPACE_RUN.sub(b" ", body).replace(b" \r\n", b"\r\n")
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    if end == 0:
        return b""
    if end == len(body) - 2:
        return body
    return body[:end] + b"\r\n"


def _fold_base64(value: bytes) -> bytes:
    """The b= value in lines of at most 77 characters, the first after " b=" on its line."""
    lines = [value[:74]]
    lines.extend(value[start : start + 76] for start in range(74, len(value), 76))
    return b"\r\n ".join(lines)
