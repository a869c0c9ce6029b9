"""Messages: the drafts deliveries send (subject, sender, HTML, text, preheader)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kirje.domain.contacts import normalize_email
from kirje.domain.errors import Invalid

MAX_SUBJECT_LENGTH = 998  # RFC 5322's line limit: a subject longer than this is an error
MAX_HTML_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Message:
    id: int
    account_id: int
    name: str
    subject: str
    from_name: str
    from_email: str | None
    reply_to: str | None
    html: str
    text: str | None
    preheader: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageContent:
    """What a draft is made of, as given: checked by `checked()` before it is stored."""

    subject: str
    html: str
    name: str = ""
    from_name: str = ""
    from_email: str | None = None
    reply_to: str | None = None
    text: str | None = None
    preheader: str = ""

    def checked(self) -> MessageContent:
        if not self.subject.strip():
            raise Invalid("subject must not be empty")
        if len(self.subject) > MAX_SUBJECT_LENGTH:
            raise Invalid(f"subject is longer than {MAX_SUBJECT_LENGTH} characters")
        if any(c in self.subject + self.from_name for c in "\r\n"):
            raise Invalid("subject and from name must be one line")
        if not self.html.strip():
            raise Invalid("html must not be empty")
        if len(self.html.encode()) > MAX_HTML_BYTES:
            raise Invalid(f"html is larger than {MAX_HTML_BYTES} bytes")
        return MessageContent(
            subject=self.subject.strip(),
            html=self.html,
            name=self.name.strip(),
            from_name=self.from_name.strip(),
            from_email=_address(self.from_email, "from"),
            reply_to=_address(self.reply_to, "reply_to"),
            text=self.text,
            preheader=self.preheader.strip(),
        )


def _address(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize_email(value)
    except Invalid as error:
        raise Invalid(f"{field}: {error.message}") from None
