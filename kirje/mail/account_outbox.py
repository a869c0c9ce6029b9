"""One account's part of the local outbox: the maildir the send job writes to when no SMTP server
is configured (kirje.mail.transports), listed newest first, and each message as it was sent.

A message is the account's when the delivery it names is the account's. The send job names the
delivery twice in every message (kirje.mail.sending): in the VERP envelope sender
`bounces+d{delivery}.c{contact}@...`, which the outbox keeps beside the message and the listing
reads, and in the Message-ID `<d{delivery}.c{contact}.{random}@...>`, which a message read by
its id carries. A message naming no delivery (written by something else) is nobody's.

The outbox is the embedded transport for trying Kirje out, so the listing scans it: newest
first, in chunks, one statement per chunk to learn which deliveries are the account's, until
the page is full. That suits thousands of messages; a real installation sends over SMTP.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kirje.domain.errors import Invalid, NotFound
from kirje.mail.bounces import OUR_MESSAGE_ID, VERP_ADDRESS
from kirje.mail.transports import OutboxEntry, list_outbox, read_outbox_message
from kirje.services.base import AccountScope
from kirje.store.deliveries import owned_delivery_ids

# The maildir's place in the data directory (kirje.mail.transports.transport_for).
OUTBOX_FOLDER = "outbox"
MAX_PAGE = 1000
# Messages read per step of a listing's scan.
SCAN_CHUNK = 200


@dataclass(frozen=True)
class OutboxMessage:
    id: str  # the maildir file name
    to: str  # the envelope recipients: whom the message went to
    from_: str | None  # the From header, as the recipient sees it
    subject: str | None
    date: datetime  # the Date header, else when the outbox took the message
    size: int  # of the message as sent


class AccountOutbox:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
        self.path: Path = scope.data_dir / OUTBOX_FOLDER

    def page(self, *, limit: int = 50, offset: int = 0) -> list[OutboxMessage]:
        """The account's messages in the outbox, newest first."""
        if not 0 < limit <= MAX_PAGE or offset < 0:
            raise Invalid(f"limit must be 1-{MAX_PAGE} and offset at least 0")
        found: dict[str, OutboxEntry] = {}
        scanned = 0
        while len(found) < offset + limit:
            chunk = list_outbox(self.path, limit=SCAN_CHUNK, offset=scanned)
            if not chunk:
                break
            scanned += SCAN_CHUNK
            # Messages written meanwhile shift the positions: a message seen twice counts once.
            found.update((entry.id, entry) for entry in self._own(chunk))
        entries = list(found.values())[offset : offset + limit]
        return [self._message(entry) for entry in entries]

    def message(self, outbox_id: str) -> bytes:
        """The message as sent; NotFound unless it is the account's."""
        try:
            data = read_outbox_message(self.path, outbox_id)
        except Invalid:
            raise NotFound(f"no message {outbox_id} in the outbox") from None
        delivery_id = _named(OUR_MESSAGE_ID, _header(data, "Message-ID"))
        if not self._owned({delivery_id}):
            raise NotFound(f"no message {outbox_id} in the outbox")
        return data

    def _own(self, entries: list[OutboxEntry]) -> list[OutboxEntry]:
        named = {entry.id: _named(VERP_ADDRESS, entry.envelope.sender) for entry in entries}
        owned = self._owned(set(named.values()))
        return [entry for entry in entries if named[entry.id] in owned]

    def _owned(self, delivery_ids: set[int | None]) -> set[int]:
        wanted = {delivery_id for delivery_id in delivery_ids if delivery_id is not None}
        if not wanted:
            return set()
        with self.scope.db.reading() as conn:
            return owned_delivery_ids(conn, self.scope.account_id, wanted)

    def _message(self, entry: OutboxEntry) -> OutboxMessage:
        try:
            sender = _header(read_outbox_message(self.path, entry.id), "From")
        except NotFound:  # taken out of the outbox since it was listed
            sender = None
        return OutboxMessage(
            id=entry.id,
            to=", ".join(entry.envelope.recipients),
            from_=sender,
            subject=entry.subject,
            date=entry.date or entry.stored_at,
            size=entry.size,
        )


def _named(pattern: re.Pattern[str], text: object) -> int | None:
    """The delivery id in a VERP address or one of our Message-IDs."""
    found = pattern.search(str(text)) if text is not None else None
    return int(found.group(1)) if found else None


def _header(data: bytes, name: str) -> str | None:
    """A header of the message, decoded; None when it is missing or cannot be read."""
    try:
        value = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)[name]
        return None if value is None else str(value)
    except (ValueError, IndexError, TypeError, AttributeError):
        return None
