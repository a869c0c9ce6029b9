"""Reading bounce messages: which of our mails bounced (VERP), for whom, for good or for now.

Pure parsing, no I/O. flufl.bounce finds the failed addresses in RFC 3464 DSNs and in the
common non-standard formats (Postfix, Exim, qmail, ...); this module adds what it leaves out:
the status code and a short diagnostic per address, and the delivery and contact the bounce
is for, from the VERP address `bounces+d<delivery>.c<contact>@domain` we sent it with.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

log = logging.getLogger(__name__)

# kirje.mail.sending.Composer: the envelope sender and the Message-ID of every message.
VERP_ADDRESS = re.compile(r"bounces\+d(\d{1,19})\.c(\d{1,19})@", re.IGNORECASE)
OUR_MESSAGE_ID = re.compile(r"<d(\d{1,19})\.c(\d{1,19})\.[0-9a-f]+@", re.IGNORECASE)
# RFC 3463 class.subject.detail; not a piece of a longer dotted number (an IP address).
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# Where the receiving MTA writes the envelope recipient when it delivers into a mailbox.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# The failure's text as kept with the event and the ledger row.
DIAGNOSTIC_LENGTH = 200
# Lines of a plain-text bounce read after the line naming the address.
PARAGRAPH_LINES = 5


@dataclass(frozen=True)
class Failure:
    """One address a bounce reports as failed."""

    address: str  # lower case, as the report wrote it
    is_hard: bool  # permanent: the address is not to be mailed again
    status: str | None  # the RFC 3463 code, e.g. "5.1.1", when the report gives one
    diagnostic: str  # the remote server's words, short


@dataclass(frozen=True)
class Bounce:
    """A bounce: the failures it reports, and the mail it answers when the VERP says so."""

    failures: tuple[Failure, ...]
    delivery_id: int | None = None
    contact_id: int | None = None

    def failure_of(self, address: str) -> Failure | None:
        wanted = address.lower()
        return next((f for f in self.failures if f.address == wanted), None)


def parse_bounce(raw: bytes, envelope_recipients: Sequence[str] | None = None) -> Bounce | None:
    """The bounce in a message, or None when it reports no failure (an out-of-office reply, a
    delivery receipt, a message no detector understands).

    The VERP ids come from the envelope recipients when the message arrived over SMTP, else
    from what survived of the envelope: the headers the receiving MTA added, the DSN's fields,
    the returned message's headers. They are claims of the sender of the bounce, to be checked.
    """
    message = email.message_from_bytes(raw)
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector choking on a malformed message: nothing we can read
        log.warning("bounce detectors failed on a message", exc_info=True)
        return None
    # flufl.bounce reports addresses as bytes.
    hard_ones = {_text(a) for a in permanent}
    addresses = hard_ones | {_text(a) for a in temporary}
    if not addresses:
        return None
    reports = _dsn_reports(message)
    failures = tuple(
        _failure(message, address, address in hard_ones, reports.get(address))
        for address in sorted(addresses)
    )
    ids = _verp_ids(message, envelope_recipients or ())
    if ids is None:
        return Bounce(failures)
    return Bounce(failures, delivery_id=ids[0], contact_id=ids[1])


def _text(address: bytes) -> str:
    return address.decode("ascii", "replace").strip().strip("<>").lower()


def _failure(
    message: Message, address: str, is_permanent: bool, report: tuple[str | None, str] | None
) -> Failure:
    status, diagnostic = report if report is not None else _plain_text_report(message, address)
    if status is None:
        status = _status_in(diagnostic)
    return Failure(address, _is_hard(status, is_permanent), status, _short(diagnostic))


def _is_hard(status: str | None, is_permanent: bool) -> bool:
    """The status code decides when there is one, else the detector's verdict. A DSN's Action
    "failed" with 4.4.7 is a message given up on, not a dead address; and a full mailbox
    (X.2.2) is transient by RFC 3463 even when a server answers it with a 5."""
    if status is None or status[0] not in "45":
        return is_permanent
    return status[0] == "5" and status[2:] != "2.2"


# RFC 3464 delivery-status reports


def _dsn_reports(message: Message) -> dict[str, tuple[str | None, str]]:
    """{address: (status, diagnostic)} from every per-recipient block of the DSN parts, under
    both the original and the final recipient (flufl.bounce reports either)."""
    reports: dict[str, tuple[str | None, str]] = {}
    for block in _dsn_blocks(message):
        status = _status_in(block.get("Status", ""))
        diagnostic = _typed_value(block.get("Diagnostic-Code", "")) or block.get("Status", "")
        for field in ("Original-Recipient", "Final-Recipient"):
            address = _typed_value(block.get(field, "")).strip("<>").lower()
            if address:
                reports.setdefault(address, (status, str(diagnostic)))
    return reports


def _dsn_blocks(message: Message) -> Iterator[Message]:
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status" and part.is_multipart():
            yield from part.get_payload()


def _typed_value(value: str) -> str:
    """`rfc822; a@b` or `smtp; 550 ...` without its type."""
    _, _, rest = str(value).partition(";")
    return " ".join((rest or str(value)).split())


# Non-standard, plain-text bounces


def _plain_text_report(message: Message, address: str) -> tuple[str | None, str]:
    """The paragraph of the notification that names the address: most formats put the
    remote server's reply there (Postfix, qmail, Exim)."""
    for text in _notification_texts(message):
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if address in line.lower():
                paragraph = []
                for following in lines[index : index + PARAGRAPH_LINES]:
                    if not following.strip() and paragraph:
                        break
                    paragraph.append(following)
                joined = " ".join(" ".join(paragraph).split())
                return _status_in(joined), joined
    return None, ""


def _notification_texts(message: Message) -> Iterator[str]:
    """The text parts written by the reporting MTA, not those of a returned message."""
    if message.is_multipart():
        for part in message.get_payload():
            if part.get_content_maintype() == "message":
                continue
            yield from _notification_texts(part)
    elif message.get_content_type() == "text/plain":
        yield _decoded(message)


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _status_in(text: str) -> str | None:
    found = ENHANCED_STATUS.search(str(text))
    return None if found is None else ".".join(found.groups())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DIAGNOSTIC_LENGTH else text[: DIAGNOSTIC_LENGTH - 1] + "…"


# Which mail the bounce answers


def _verp_ids(message: Message, envelope_recipients: Sequence[str]) -> tuple[int, int] | None:
    """(delivery, contact) from the first place that names our VERP address, most trusted
    first; failing that, from our Message-ID on the returned message."""
    places = list(_places(message, envelope_recipients))
    for pattern in (VERP_ADDRESS, OUR_MESSAGE_ID):
        for place in places:
            found = pattern.search(place)
            if found is not None:
                return int(found.group(1)), int(found.group(2))
    return None


def _places(message: Message, envelope_recipients: Sequence[str]) -> Iterator[str]:
    yield from envelope_recipients
    for name in ENVELOPE_HEADERS:
        yield from (str(value) for value in message.get_all(name, []))
    # The DSN's fields: X-Postfix-Sender, Original-Envelope-Id, ...
    for block in _dsn_blocks(message):
        yield from (str(value) for value in block.values())
    for headers in _returned_headers(message):
        yield from (str(value) for value in headers.get_all("Return-Path", []))
        yield from (str(value) for value in headers.get_all("Message-ID", []))
    # Plain-text bounces quote the returned message inline.
    yield from _notification_texts(message)


def _returned_headers(message: Message) -> Iterator[Message]:
    """The headers of the returned message: a message/rfc822 part or text/rfc822-headers."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822" and part.is_multipart():
            yield from part.get_payload()
        elif content_type == "text/rfc822-headers":
            yield email.message_from_string(_decoded(part))
