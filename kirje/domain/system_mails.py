"""System mails: the welcome and confirmation mails a contact is sent, and the built-in messages
Kirje offers for them when the account has not chosen its own.

The placeholder `$confirmation_link$` (the seed names none) is the contact's confirmation
link; a message of the account's own names it where the link should go.
"""

from __future__ import annotations

from kirje.domain.deliveries import DeliveryKind
from kirje.domain.messages import MessageContent

CONFIRMATION_LINK = "confirmation_link"

SYSTEM_KINDS = (DeliveryKind.WELCOME, DeliveryKind.CONFIRMATION)

# The confirmation link opts out of click tracking (data-kirje-notrack): a tracked click would
# keep the link, a secret that confirms, in the click event's data.
_CONFIRMATION_HTML = """<!doctype html>
<html lang="fi"><head><meta charset="utf-8"></head>
<body>
<p>Hei,</p>
<p>vahvista, että haluat viestejämme osoitteeseen $email$:</p>
<p><a href="$confirmation_link$" data-kirje-notrack>Vahvista tilaus</a></p>
<p>Jos et tilannut viestejämme, voit jättää tämän viestin huomiotta.</p>
<hr>
<p lang="en">Hello,</p>
<p lang="en">please confirm that you want our messages at $email$:</p>
<p lang="en"><a href="$confirmation_link$" data-kirje-notrack>Confirm subscription</a></p>
<p lang="en">If you did not subscribe, you can ignore this message.</p>
</body></html>
"""

_WELCOME_HTML = """<!doctype html>
<html lang="fi"><head><meta charset="utf-8"></head>
<body>
<p>Hei,</p>
<p>tervetuloa tilaajaksemme! Viestimme tulevat osoitteeseen $email$.</p>
<hr>
<p lang="en">Hello,</p>
<p lang="en">welcome, and thank you for subscribing! Our messages will come to $email$.</p>
</body></html>
"""

BUILT_IN_MESSAGES: dict[DeliveryKind, MessageContent] = {
    DeliveryKind.CONFIRMATION: MessageContent(
        name="Kirje: vahvistusviesti / confirmation (built in)",
        subject="Vahvista tilauksesi / Please confirm your subscription",
        html=_CONFIRMATION_HTML,
    ),
    DeliveryKind.WELCOME: MessageContent(
        name="Kirje: tervetuloviesti / welcome (built in)",
        subject="Tervetuloa / Welcome",
        html=_WELCOME_HTML,
    ),
}


def built_in_message_for(kind: DeliveryKind, is_confirmed: bool) -> DeliveryKind:
    """Which built-in message a system mail uses: an unconfirmed contact's welcome is the
    confirmation message, since the seed puts the confirmation link on the welcome mail."""
    if kind is DeliveryKind.WELCOME and is_confirmed:
        return DeliveryKind.WELCOME
    return DeliveryKind.CONFIRMATION


def carries_confirmation_link(kind: DeliveryKind, is_confirmed: bool) -> bool:
    """A confirmation mail always; a welcome mail while the contact is unconfirmed."""
    return kind is DeliveryKind.CONFIRMATION or not is_confirmed
