"""Sending a delivery through a real SMTP server (aiosmtpd): each person once, personalised,
DKIM-signed, every outcome in the ledger; and into the local outbox when no SMTP is set."""

from __future__ import annotations

import email
from email import policy

import dkim
import pytest
from sqlalchemy import select

from kirje.domain.deliveries import DeliveryKind, GivenRecipient, Letter
from kirje.domain.messages import MessageContent
from kirje.jobs.runner import run_here
from kirje.mail.dkim import generate_key
from kirje.mail.transports import list_outbox
from kirje.services.system import System
from kirje.store import dkim_keys as dkim_store
from kirje.store.schema import delivery_recipients, events
from tests.mail.smtp_sink import SmtpSink

HTML = "<html><body><p>Hei $firstname$!</p><p>Tilaus $order_num$</p></body></html>"


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


def sending_system(settings, sink: SmtpSink | None) -> System:
    url = sink.url(starttls="false", concurrency=3) if sink else None
    changes = {"smtp_url": url, "send_first_retry_seconds": 0.2, "send_attempts": 3}
    return System.open(settings.model_copy(update=changes))


def with_dkim(system: System, account_id: int, domain: str) -> str:
    private_pem, txt = generate_key()
    with system.db.transaction() as conn:
        sealed = system.accounts.secret_box.seal(private_pem)
        dkim_store.replace_key(conn, account_id, domain, "kirje", sealed, system.clock())
    return txt


def ledger(system: System, delivery_id: int) -> dict[str, str]:
    with system.db.reading() as conn:
        rows = conn.execute(
            select(delivery_recipients.c.email, delivery_recipients.c.state).where(
                delivery_recipients.c.delivery_id == delivery_id
            )
        )
        return dict(rows.all())


def test_a_newsletter_reaches_each_member_once_signed_and_personalised(
    settings, account, sink
) -> None:
    system = sending_system(settings, sink)
    services = system.for_account(account.account_id)
    news, offers = services.lists.create("Uutiset"), services.lists.create("Tarjoukset")
    people = {}
    for name, lists in (("aino", [news, offers]), ("eino", [news]), ("helmi", [offers])):
        people[name] = services.contacts.create(
            email=f"{name}@example.com", sms=None, properties={"firstname": name.title()}
        )
        for list_id in lists:
            services.lists.join(list_id, [people[name]])
    banned = services.contacts.create(email="ban@example.com", sms=None)
    services.lists.join(news, [banned])
    services.privacy.ban(banned)
    txt = with_dkim(system, account.account_id, "shop.example")
    draft = services.messages.create(
        MessageContent(subject="Hei $firstname$", html=HTML, from_email="news@shop.example")
    )
    delivery = services.deliveries.send(
        DeliveryKind.BATCH,
        Letter(draft.id),
        list_ids=[news, offers],
        recipients=[GivenRecipient("eino@example.com", {"order_num": "1234"})],
    )
    run_here(system, delivery.job_id)

    received = {m.recipients: m for m in sink.messages}
    assert sorted(received) == [
        ("aino@example.com",),
        ("eino@example.com",),
        ("helmi@example.com",),
    ]
    eino = received[("eino@example.com",)]
    assert eino.sender == f"bounces+d{delivery.id}.c{people['eino']}@shop.example"
    parsed = email.message_from_bytes(eino.content, policy=policy.default)
    assert parsed["Subject"] == "Hei Eino"
    assert "Tilaus 1234" in parsed.get_body(("html",)).get_content()
    assert "Hei Eino!" in parsed.get_body(("plain",)).get_content()
    for message in received.values():
        assert dkim.verify(message.content, dnsfunc=lambda name, timeout=5: txt.encode())
    assert ledger(system, delivery.id) == {
        "aino@example.com": "sent",
        "eino@example.com": "sent",
        "helmi@example.com": "sent",
    }
    with system.db.reading() as conn:
        sent_events = conn.execute(
            select(events.c.contact_id).where(
                events.c.account_id == account.account_id, events.c.type == "mailsent"
            )
        ).scalars()
        assert sorted(sent_events) == sorted(people.values())
    assert services.deliveries.get(delivery.id).state == "done"
    system.close()


def test_refusals_are_recorded_retried_or_failed(settings, account, sink) -> None:
    system = sending_system(settings, sink)
    services = system.for_account(account.account_id)
    draft = services.messages.create(
        MessageContent(subject="Kuitti", html="<p>Kiitos</p>", from_email="shop@shop.example")
    )
    sink.answer("gone@example.com", "550 5.1.1 No such user")
    sink.answer("busy@example.com", "451 4.3.0 Try later", times=1)
    sink.answer("full@example.com", "452 4.2.2 Mailbox full")
    delivery = services.deliveries.send(
        DeliveryKind.EVENT,
        Letter(draft.id, recipients_reset=True),
        recipients=[
            GivenRecipient(a)
            for a in ("ok@example.com", "gone@example.com", "busy@example.com", "full@example.com")
        ],
    )
    run_here(system, delivery.job_id)
    states = ledger(system, delivery.id)
    assert states["ok@example.com"] == "sent"
    assert states["gone@example.com"] == "failed"
    assert states["busy@example.com"] == "sent"  # on its second attempt
    assert states["full@example.com"] == "failed"  # refused for now three times: given up
    with system.db.reading() as conn:
        replies = dict(
            conn.execute(
                select(delivery_recipients.c.email, delivery_recipients.c.reply).where(
                    delivery_recipients.c.delivery_id == delivery.id
                )
            ).all()
        )
    assert "550" in replies["gone@example.com"] and "452" in replies["full@example.com"]
    assert replies["busy@example.com"] is None
    assert [m.recipients for m in sink.messages].count(("busy@example.com",)) == 1
    system.close()


def test_without_smtp_the_messages_land_in_the_outbox(settings, account) -> None:
    system = sending_system(settings, None)
    services = system.for_account(account.account_id)
    draft = services.messages.create(
        MessageContent(
            subject="Tervetuloa", html="<p>Hei $firstname$</p>", from_email="a@shop.example"
        )
    )
    delivery = services.deliveries.send(
        DeliveryKind.EVENT,
        Letter(draft.id, recipients_reset=True),
        recipients=[GivenRecipient("outbox@example.com", {"firstname": "Onni"})],
    )
    run_here(system, delivery.job_id)
    entries = [
        e
        for e in list_outbox(settings.data_dir / "outbox", limit=50)
        if "outbox@example.com" in e.envelope.recipients
    ]
    assert len(entries) == 1 and entries[0].subject == "Tervetuloa"
    system.close()


def test_a_contact_banned_after_the_audience_was_expanded_is_not_mailed(
    settings, account, sink
) -> None:
    system = sending_system(settings, sink)
    services = system.for_account(account.account_id)
    draft = services.messages.create(
        MessageContent(subject="Uutiset", html="<p>Hei</p>", from_email="news@shop.example")
    )
    news = services.lists.create("Uutiset")
    stays, leaves = (
        services.contacts.create(email=f"{name}@example.com", sms=None)
        for name in ("stays", "leaves")
    )
    services.lists.join(news, [stays, leaves])
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft.id), list_ids=[news])
    services.privacy.ban(leaves)
    run_here(system, delivery.job_id)
    assert ledger(system, delivery.id) == {
        "stays@example.com": "sent",
        "leaves@example.com": "failed",
    }
    assert [m.recipients for m in sink.messages if m.recipients[0].endswith("s@example.com")] == [
        ("stays@example.com",)
    ]
    system.close()


# Enough that the second share process is up before the first has sent them all.
SHARED_RECIPIENTS = 150


def test_a_large_delivery_is_sent_by_share_processes_signed_and_each_mailed_once(
    settings, account, sink
) -> None:
    # Share processes are for deliveries of thousands; the threshold is lowered so that a
    # few dozen take the same path.
    shared = settings.model_copy(update={"send_processes": 2, "send_processes_from": 0})
    system = sending_system(shared, sink)
    services = system.for_account(account.account_id)
    list_id = services.lists.create("Kaikki")
    members = [
        services.contacts.create(
            email=f"p{n}@example.com", sms=None, properties={"firstname": f"Nimi{n}"}
        )
        for n in range(SHARED_RECIPIENTS)
    ]
    services.lists.join(list_id, members)
    txt = with_dkim(system, account.account_id, "shop.example")
    draft = services.messages.create(
        MessageContent(subject="Hei $firstname$", html=HTML, from_email="news@shop.example")
    )
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft.id), list_ids=[list_id])
    run_here(system, delivery.job_id)

    received = sorted(recipient for m in sink.messages for recipient in m.recipients)
    assert received == sorted(f"p{n}@example.com" for n in range(SHARED_RECIPIENTS))
    for message in sink.messages:
        assert dkim.verify(message.content, dnsfunc=lambda name, timeout=5: txt.encode())
        parsed = email.message_from_bytes(message.content, policy=policy.default)
        number = message.recipients[0].removeprefix("p").removesuffix("@example.com")
        assert parsed["Subject"] == f"Hei Nimi{number}"
    assert set(ledger(system, delivery.id).values()) == {"sent"}
    # Both share processes sent (each under its own tag), none of the rows in the job's own.
    with system.db.reading() as conn:
        holders = set(
            conn.execute(
                select(delivery_recipients.c.claimed_by).where(
                    delivery_recipients.c.delivery_id == delivery.id
                )
            ).scalars()
        )
    assert {holder.rpartition("/")[2] for holder in holders} == {"1", "2"}
    system.close()


def test_each_message_sent_reaches_the_automation_trigger_point(settings, account, sink) -> None:
    system = sending_system(settings, sink)
    arrived = []
    system.triggers.register(
        lambda account_id, events_: arrived.extend(
            (account_id, e.contact_id, e.verb, e.items) for e in events_
        )
    )
    services = system.for_account(account.account_id)
    draft = services.messages.create(
        MessageContent(subject="Kuitti", html="<p>Kiitos</p>", from_email="shop@shop.example")
    )
    sink.answer("gone@example.com", "550 5.1.1 No such user")
    delivery = services.deliveries.send(
        DeliveryKind.EVENT,
        Letter(draft.id),
        recipients=[GivenRecipient("aino@example.com"), GivenRecipient("gone@example.com")],
    )
    run_here(system, delivery.job_id)

    aino = services.contacts.get_by_email("aino@example.com").contact.id
    assert arrived == [(account.account_id, aino, "mailsent", {"delivery": delivery.id})]
    system.close()
