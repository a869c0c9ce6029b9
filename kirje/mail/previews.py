"""What a draft becomes as mail, worked out without sending it: its text part and its size.

Both compile the message as the send job does (the letter's overrides over the draft, CSS
inlined, the text part made from the HTML when the draft has none), so a report shows what
recipients got rather than a second reading of the draft.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kirje.domain.messages import Message
from kirje.mail.mime import OutgoingMessage, build_message
from kirje.mail.rendering import MessageTemplate, render

# Stand-ins where a real send has one recipient's values: as long as a typical one.
SAMPLE_RECIPIENT = "recipient@example.com"
SAMPLE_SENDER = "sender@example.com"
SAMPLE_MOMENT = datetime(2020, 1, 1, tzinfo=UTC)


def compile_sent_message(message: Message, overrides: Mapping[str, Any]) -> MessageTemplate:
    """The message a delivery sends: an HTML override drops the draft's own text part (it
    would tell another story), so the text is made from the HTML."""
    return MessageTemplate.compile(
        overrides.get("subject", message.subject),
        overrides.get("html", message.html),
        None if "html" in overrides else message.text,
        message.preheader or None,
    )


def text_part(message: Message) -> str:
    """The draft's text part: its own, or the one made from its HTML, placeholders kept."""
    if message.text is not None:
        return message.text
    part = MessageTemplate.compile(message.subject, message.html).text_part
    return part.fill({name: f"${name}$" for name in part.names})


def size_in_bytes(
    message: Message,
    overrides: Mapping[str, Any],
    *,
    delivery_id: int,
    sender: str | None = None,
) -> int:
    """The size of one message of the delivery as handed to the SMTP server, for a recipient
    whose placeholders are all empty. Tracking links, List-Unsubscribe and a DKIM signature
    are not in it: they depend on the recipient and the server's settings, and add a few
    hundred bytes."""
    template = compile_sent_message(message, overrides)
    rendered = render(template, {}, raw_names=frozenset())
    from_address = message.from_email or sender or SAMPLE_SENDER
    domain = from_address.rpartition("@")[2]
    built = build_message(
        OutgoingMessage(
            from_address=from_address,
            from_name=message.from_name,
            to_address=SAMPLE_RECIPIENT,
            reply_to=message.reply_to,
            subject=rendered.subject,
            html=rendered.html_part,
            text=rendered.text,
            message_id=f"<d{delivery_id}.c0.000000000000@{domain}>",
            return_path=f"bounces+d{delivery_id}.c0@{domain}",
            feedback_id=f"{delivery_id}:{message.account_id}:kirje",
            date=SAMPLE_MOMENT,
        )
    )
    return len(built)
