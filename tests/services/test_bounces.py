"""Taking bounces in: recorded once, hard ones suppress the contact, forged ones change nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from kirje.domain.deliveries import DeliveryKind, Letter
from kirje.domain.events import EventType
from kirje.domain.messages import MessageContent
from kirje.mail.bounce_intake import BounceOutcome, Bounces
from kirje.store import events as event_store
from kirje.store.schema import delivery_recipients
from tests.conftest import new_account
from tests.mail.test_bounces import dsn, mailbox_full


@dataclass(frozen=True)
class Mailed:
    """A delivery to a list of two, not sent yet: its ledger rows are what bounces match."""

    delivery_id: int
    list_id: int
    draft_id: int
    aino: int
    eino: int


@pytest.fixture
def bounces(system) -> Bounces:
    return Bounces(system.db)


@pytest.fixture
def mailed(services) -> Mailed:
    content = MessageContent(
        subject="Uutiskirje", html="<p>Hei!</p>", from_email="news@example.com"
    )
    draft_id = services.messages.create(content).id
    news = services.lists.create("Uutiset")
    aino = services.contacts.create(email="aino@example.com", sms=None)
    eino = services.contacts.create(email="eino@example.com", sms=None)
    services.lists.join(news, [aino, eino])
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    return Mailed(delivery.id, news, draft_id, aino, eino)


def ledger(services, delivery_id: int) -> dict[str, tuple[str, str | None]]:
    with services.scope.db.reading() as conn:
        rows = conn.execute(
            select(delivery_recipients).where(delivery_recipients.c.delivery_id == delivery_id)
        )
        return {row.email: (row.state, row.reply) for row in rows}


def bounce_events(services, contact_id: int) -> list[dict]:
    with services.scope.db.reading() as conn:
        events = event_store.contact_events(conn, services.scope.account_id, contact_id)
    return [event.data for event in events if event.type == EventType.MAIL_BOUNCE]


def is_bounced(services, contact_id: int) -> bool:
    return services.contacts.get(contact_id).contact.bounced_at is not None


def everything(services, mailed: Mailed) -> tuple:
    """What a bounce may change: the ledger, the contacts' bounce marks and bounce events."""
    people = (mailed.aino, mailed.eino)
    return (
        ledger(services, mailed.delivery_id),
        [is_bounced(services, c) for c in people],
        [bounce_events(services, c) for c in people],
    )


def test_a_hard_bounce_suppresses_the_contact(services, bounces, mailed) -> None:
    taken = bounces.take(dsn("aino@example.com", mailed.delivery_id, mailed.aino))
    assert (taken.outcome, taken.delivery_id, taken.contact_id) == (
        BounceOutcome.HARD,
        mailed.delivery_id,
        mailed.aino,
    )
    reply = "bounce: 550 5.1.1 <aino@example.com>: Recipient address rejected: User unknown"
    assert ledger(services, mailed.delivery_id) == {
        "aino@example.com": ("failed", reply),
        "eino@example.com": ("pending", None),
    }
    assert is_bounced(services, mailed.aino) and not is_bounced(services, mailed.eino)
    assert bounce_events(services, mailed.aino) == [
        {
            "delivery": mailed.delivery_id,
            "kind": "hard",
            "status": "5.1.1",
            "diagnostic": reply.removeprefix("bounce: "),
        }
    ]
    later = services.deliveries.send(
        DeliveryKind.BATCH, Letter(mailed.draft_id), list_ids=[mailed.list_id]
    )
    assert list(ledger(services, later.id)) == ["eino@example.com"]


def test_a_soft_bounce_is_only_recorded(services, bounces, mailed) -> None:
    taken = bounces.take(mailbox_full("aino@example.com", mailed.delivery_id, mailed.aino))
    assert taken.outcome is BounceOutcome.SOFT
    assert ledger(services, mailed.delivery_id)["aino@example.com"] == ("pending", None)
    assert not is_bounced(services, mailed.aino)
    assert bounce_events(services, mailed.aino) == [
        {
            "delivery": mailed.delivery_id,
            "kind": "soft",
            "status": "4.2.2",
            "diagnostic": "452 4.2.2 <aino@example.com>: Mailbox full",
        }
    ]
    later = services.deliveries.send(
        DeliveryKind.BATCH, Letter(mailed.draft_id), list_ids=[mailed.list_id]
    )
    assert sorted(ledger(services, later.id)) == ["aino@example.com", "eino@example.com"]


def test_the_same_bounce_twice_is_recorded_once(services, bounces, mailed) -> None:
    hard = dsn("aino@example.com", mailed.delivery_id, mailed.aino)
    soft = mailbox_full("eino@example.com", mailed.delivery_id, mailed.eino)
    assert [bounces.take(hard).outcome, bounces.take(soft).outcome] == ["hard", "soft"]
    recorded = everything(services, mailed)
    assert [bounces.take(hard).outcome, bounces.take(soft).outcome] == ["duplicate"] * 2
    assert everything(services, mailed) == recorded
    assert [len(events) for events in recorded[2]] == [1, 1]


def test_each_bounce_recorded_reaches_the_automation_trigger_point(
    system, services, mailed
) -> None:
    arrived = []
    system.triggers.register(
        lambda account_id, events_: arrived.extend(
            (account_id, e.contact_id, e.verb, e.items["kind"]) for e in events_
        )
    )
    bounces = Bounces(system.db, triggers=system.triggers)
    hard = dsn("aino@example.com", mailed.delivery_id, mailed.aino)
    assert [bounces.take(hard).outcome, bounces.take(hard).outcome] == ["hard", "duplicate"]
    assert arrived == [(services.scope.account_id, mailed.aino, "mailbounce", "hard")]


def test_a_soft_bounce_and_then_a_hard_one_are_both_recorded(services, bounces, mailed) -> None:
    bounces.take(mailbox_full("aino@example.com", mailed.delivery_id, mailed.aino))
    bounces.take(dsn("aino@example.com", mailed.delivery_id, mailed.aino))
    assert [e["kind"] for e in bounce_events(services, mailed.aino)] == ["soft", "hard"]
    assert is_bounced(services, mailed.aino)


def test_forged_bounces_change_nothing(system, services, bounces, mailed) -> None:
    before = everything(services, mailed)
    other = system.for_account(new_account(system).account_id)
    stranger = other.contacts.create(email="aino@example.com", sms=None)
    forged = [
        # Eino's row, but the bounce says Aino's address failed.
        dsn("aino@example.com", mailed.delivery_id, mailed.eino),
        # Aino's row, another address.
        dsn("someone@example.com", mailed.delivery_id, mailed.aino),
        # A contact this delivery never mailed, with the address it has.
        dsn("aino@example.com", mailed.delivery_id, stranger),
        # No such delivery.
        dsn("aino@example.com", mailed.delivery_id + 1000, mailed.aino),
    ]
    assert [bounces.take(raw).outcome for raw in forged] == [BounceOutcome.UNMATCHED] * 4
    assert everything(services, mailed) == before
    assert not other.contacts.get(stranger).contact.bounced_at


def test_messages_that_are_no_bounces_of_ours_are_told_apart(bounces, mailed) -> None:
    receipt = dsn("aino@example.com", mailed.delivery_id, mailed.aino, action="delivered")
    assert bounces.take(receipt).outcome is BounceOutcome.NOT_A_BOUNCE
    no_verp = dsn("aino@example.com", 1, 2, delivered_to=False).replace(b"bounces+d1.c2", b"x")
    assert bounces.take(no_verp.replace(b"<d1.c2.", b"<x.")).outcome is BounceOutcome.UNMATCHED
