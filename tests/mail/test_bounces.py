"""Reading bounces: who failed, for good or for now, and which of our mails it answers.

The sample messages are written here after what Postfix, Exim and qmail send; `dsn()` is also
what the service, maildir and listener tests send.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kirje.mail.bounces import DIAGNOSTIC_LENGTH, Bounce, Failure, parse_bounce

DOMAIN = "news.example.com"
UNKNOWN_USER = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def verp(delivery_id: int, contact_id: int) -> str:
    return f"bounces+d{delivery_id}.c{contact_id}@{DOMAIN}"


def dsn(
    address: str,
    delivery_id: int,
    contact_id: int,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = UNKNOWN_USER,
    delivered_to: bool = True,
) -> bytes:
    """An RFC 3464 report as Postfix writes one, into a mailbox (Delivered-To) or not."""
    sender = verp(delivery_id, contact_id)
    mailbox = f"Delivered-To: {sender}\nX-Original-To: {sender}\nTo: {sender}\n"
    text = f"""Return-Path: <>
{mailbox if delivered_to else ""}From: MAILER-DAEMON@mx.{DOMAIN} (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"
Message-Id: <20240301101500.7A2C1@mx.{DOMAIN}>

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.{DOMAIN}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{address}>: host mx.example.org[192.0.2.10] said: {diagnostic.format(address=address)}

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.{DOMAIN}
X-Postfix-Queue-ID: 7A2C1
Arrival-Date: Fri,  1 Mar 2024 10:14:58 +0200 (EET)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; {diagnostic.format(address=address)}

--B1
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{sender}>
From: Uutiset <news@{DOMAIN}>
To: {address}
Subject: Uutiskirje
Message-ID: <d{delivery_id}.c{contact_id}.0a1b2c3d4e5f@{DOMAIN}>

--B1--
"""
    return text.replace("\n", "\r\n").encode()


def mailbox_full(address: str, delivery_id: int, contact_id: int) -> bytes:
    """A delay warning: the mailbox is full, the MTA keeps trying."""
    return dsn(
        address,
        delivery_id,
        contact_id,
        action="delayed",
        status="4.2.2",
        diagnostic="452 4.2.2 <{address}>: Mailbox full",
    )


QMAIL = b"""Return-Path: <>
Delivered-To: bounces+d3.c4@news.example.com
From: MAILER-DAEMON@mx.example.net
To: bounces+d3.c4@news.example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<toivo@example.net>:
192.0.2.20 does not like recipient.
Remote host said: 550 5.1.1 No such user
Giving up on 192.0.2.20.

--- Below this line is a copy of the message.

Return-Path: <bounces+d3.c4@news.example.com>
To: toivo@example.net
Subject: Uutiskirje

Hei Toivo!
"""

EXIM = b"""Return-path: <>
Envelope-to: bounces+d5.c6@news.example.com
From: Mail Delivery System <Mailer-Daemon@mx.example.fi>
To: bounces+d5.c6@news.example.com
X-Failed-Recipients: kalle@example.fi
Auto-Submitted: auto-replied
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  kalle@example.fi
    host mx.example.fi [192.0.2.30]
    SMTP error from remote mail server after RCPT TO:<kalle@example.fi>:
    550 5.1.1 <kalle@example.fi>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

Return-path: <bounces+d5.c6@news.example.com>
To: kalle@example.fi
Subject: Uutiskirje
"""

# Postfix before DSNs: a notification signed "The Postfix program", the message returned
# whole, and the envelope lost (the bounce went to a shared mailbox).
OLD_POSTFIX = b"""From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: postmaster@news.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="X"

--X
Content-Description: Notification
Content-Type: text/plain

This is the Postfix program at host mx.example.org.

I'm sorry to have to inform you that the message returned
below could not be delivered to one or more destinations.

\t\t\tThe Postfix program

<eino@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown

--X
Content-Description: Undelivered Message
Content-Type: message/rfc822

Return-Path: <bounces+d7.c9@news.example.com>
Message-ID: <d7.c9.abcdef012345@news.example.com>
To: eino@example.org
Subject: Uutiskirje

Hei Eino!
--X--
"""

OUT_OF_OFFICE = b"""From: Aino <aino@example.com>
To: bounces+d12.c34@news.example.com
Subject: Automatic reply: Uutiskirje
Auto-Submitted: auto-replied
In-Reply-To: <d12.c34.0a1b2c3d4e5f@news.example.com>
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday 4 March and have no access to email.
For urgent matters please contact eino@example.com.
"""


def test_a_dsn_for_an_unknown_user_is_hard_and_names_our_mail() -> None:
    assert parse_bounce(dsn("aino@example.com", 12, 34)) == Bounce(
        failures=(
            Failure(
                "aino@example.com",
                is_hard=True,
                status="5.1.1",
                diagnostic="550 5.1.1 <aino@example.com>: Recipient address rejected: User unknown",
            ),
        ),
        delivery_id=12,
        contact_id=34,
    )


def test_a_full_mailbox_is_soft() -> None:
    bounce = parse_bounce(mailbox_full("aino@example.com", 12, 34))
    assert bounce is not None
    assert bounce.failures == (
        Failure("aino@example.com", False, "4.2.2", "452 4.2.2 <aino@example.com>: Mailbox full"),
    )


@pytest.mark.parametrize(
    ("status", "is_hard"),
    [
        ("5.1.1", True),
        ("5.1.10", True),
        # Given up on after retrying a temporary condition: the address may well be fine.
        ("4.4.7", False),
        # Mailbox full is transient by RFC 3463, whatever class the server answered with.
        ("5.2.2", False),
    ],
)
def test_a_failed_action_is_as_hard_as_its_status_says(status: str, is_hard: bool) -> None:
    bounce = parse_bounce(dsn("aino@example.com", 1, 2, status=status, diagnostic=status))
    assert bounce is not None
    assert [(f.status, f.is_hard) for f in bounce.failures] == [(status, is_hard)]


@pytest.mark.parametrize(
    ("raw", "address", "ids", "diagnostic"),
    [
        (
            QMAIL,
            "toivo@example.net",
            (3, 4),
            "<toivo@example.net>: 192.0.2.20 does not like recipient. Remote host said: "
            "550 5.1.1 No such user Giving up on 192.0.2.20.",
        ),
        (
            EXIM,
            "kalle@example.fi",
            (5, 6),
            "kalle@example.fi host mx.example.fi [192.0.2.30] SMTP error from remote mail "
            "server after RCPT TO:<kalle@example.fi>: 550 5.1.1 <kalle@example.fi>: "
            "Recipient address rejected: User unknown",
        ),
        (
            OLD_POSTFIX,
            "eino@example.org",
            (7, 9),
            "<eino@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown",
        ),
    ],
    ids=["qmail", "exim", "old-postfix"],
)
def test_non_standard_bounces_are_read_with_their_reply(
    raw: bytes, address: str, ids: tuple[int, int], diagnostic: str
) -> None:
    bounce = parse_bounce(raw.replace(b"\n", b"\r\n"))
    assert bounce is not None
    assert (bounce.delivery_id, bounce.contact_id) == ids
    assert bounce.failures == (Failure(address, True, "5.1.1", diagnostic),)


def test_an_out_of_office_reply_is_not_a_bounce() -> None:
    assert parse_bounce(OUT_OF_OFFICE) is None


def test_a_delivery_receipt_is_not_a_bounce() -> None:
    assert parse_bounce(dsn("aino@example.com", 1, 2, action="delivered", status="2.0.0")) is None


def test_the_envelope_recipient_names_the_mail_before_any_header() -> None:
    bounce = parse_bounce(dsn("aino@example.com", 12, 34), [verp(56, 78)])
    assert bounce is not None
    assert (bounce.delivery_id, bounce.contact_id) == (56, 78)


def test_without_the_envelope_the_returned_headers_name_the_mail() -> None:
    raw = dsn("aino@example.com", 12, 34, delivered_to=False)
    bounce = parse_bounce(raw)
    assert bounce is not None
    assert (bounce.delivery_id, bounce.contact_id) == (12, 34)
    # With the Return-Path gone too, our Message-ID still says which mail it was.
    without_return_path = raw.replace(f"Return-Path: <{verp(12, 34)}>\r\n".encode(), b"")
    bounce = parse_bounce(without_return_path)
    assert bounce is not None
    assert (bounce.delivery_id, bounce.contact_id) == (12, 34)


def test_a_bounce_naming_no_mail_of_ours_has_no_ids() -> None:
    raw = dsn("aino@example.com", 12, 34, delivered_to=False)
    raw = raw.replace(verp(12, 34).encode(), b"someone@elsewhere.example")
    raw = raw.replace(b"<d12.c34.", b"<x12.c34.")
    bounce = parse_bounce(raw)
    assert bounce is not None and bounce.failures
    assert (bounce.delivery_id, bounce.contact_id) == (None, None)


def test_the_diagnostic_is_kept_short() -> None:
    long_reply = "550 5.1.1 <{address}>: " + "this account has been disabled " * 40
    bounce = parse_bounce(dsn("aino@example.com", 1, 2, diagnostic=long_reply))
    assert bounce is not None
    diagnostic = bounce.failures[0].diagnostic
    assert len(diagnostic) == DIAGNOSTIC_LENGTH
    assert diagnostic.startswith("550 5.1.1 <aino@example.com>: this account has been disabled")


@given(st.integers(1, 2**62), st.integers(1, 2**62), st.booleans())
def test_the_verp_ids_come_back_whatever_their_size(
    delivery_id: int, contact_id: int, delivered_to: bool
) -> None:
    bounce = parse_bounce(dsn("a@example.com", delivery_id, contact_id, delivered_to=delivered_to))
    assert bounce is not None
    assert (bounce.delivery_id, bounce.contact_id) == (delivery_id, contact_id)


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_bounce_or_none_never_an_error(raw: bytes) -> None:
    bounce = parse_bounce(raw)
    assert bounce is None or isinstance(bounce, Bounce)
