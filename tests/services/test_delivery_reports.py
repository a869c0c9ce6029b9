"""Delivery reports from events written at known moments: first and last times, what counts as
an unsubscribe, several deliveries reported in one go, and the deliverability rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kirje.domain.deliveries import DeliveryKind, GivenRecipient, Letter, RecipientState
from kirje.domain.delivery_reports import (
    DeliveryTotals,
    RecipientGroup,
    ReportOrder,
    ReportRange,
    deliverability,
)
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.messages import MessageContent
from kirje.store import deliveries as delivery_store
from kirje.store import events as event_store

T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def draft_id(services) -> int:
    content = MessageContent(subject="Uutiset", html="<p>Hei</p>", from_email="n@example.com")
    return services.messages.create(content).id


def sent(services, delivery_id: int, contact_ids: list[int]) -> None:
    with services.scope.db.transaction() as conn:
        delivery_store.mark(conn, delivery_id, contact_ids, RecipientState.SENT, T0, sent_at=T0)


def happened(services, delivery_id: int, *events: tuple[int, EventType, int, dict]) -> None:
    """(contact, type, minutes after T0, data) of the delivery."""
    rows = [
        event_store.event_row(
            services.account_id,
            contact,
            kind,
            T0 + timedelta(minutes=minutes),
            data={"delivery": delivery_id, **data},
            delivery_id=delivery_id,
        )
        for contact, kind, minutes, data in events
    ]
    with services.scope.db.transaction() as conn:
        event_store.append_events(conn, rows)


def names(services, found) -> list[str]:
    return [services.contacts.get(m.contact_id).contact.email.split("@")[0] for m in found]


def test_times_are_the_first_and_last_events(services, draft_id) -> None:
    news = services.lists.create("Uutiset")
    aino = services.contacts.create(email="aino@example.com", sms=None)
    eino = services.contacts.create(email="eino@example.com", sms=None)
    services.lists.join(news, [aino, eino])
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    sent(services, delivery.id, [aino, eino])
    happened(
        services,
        delivery.id,
        (aino, EventType.MAIL_OPEN, 30, {}),
        (aino, EventType.MAIL_OPEN, 5, {}),
        (aino, EventType.MAIL_OPEN, 60, {}),
        (eino, EventType.MAIL_BOUNCE, 7, {"kind": "soft"}),
        (eino, EventType.MAIL_BOUNCE, 9, {"kind": "hard"}),
    )
    reports = services.delivery_reports
    (opener,) = reports.openers(delivery.id)
    assert (opener.opens, opener.first_open, opener.last_open) == (
        3,
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=60),
    )
    (member,) = reports.members(delivery.id, RecipientGroup.OPENED)
    assert (member.contact_id, member.first_at, member.times) == (
        aino,
        T0 + timedelta(minutes=5),
        3,
    )
    (bounced,) = reports.members(delivery.id, RecipientGroup.BOUNCED)
    assert (bounced.contact_id, bounced.bounce_kind, bounced.first_at) == (
        eino,
        "hard",
        T0 + timedelta(minutes=7),
    )
    assert names(services, reports.members(delivery.id, RecipientGroup.SUCCEEDED)) == ["aino"]
    assert reports.members(delivery.id, RecipientGroup.NOT_OPENED)[0].contact_id == eino


def test_unsubscribed_counts_own_leaves_of_the_deliverys_lists_since_it_was_made(
    services, draft_id
) -> None:
    news, offers = services.lists.create("Uutiset"), services.lists.create("Tarjoukset")
    people = {
        name: services.contacts.create(email=f"{name}@example.com", sms=None)
        for name in ("aino", "eino", "helmi", "ilmari", "kalle")
    }
    services.lists.join(news, list(people.values()))
    services.lists.join(offers, [people["eino"]])
    # Kalle left before the delivery; he is in it as a given recipient.
    services.contacts.leave_list(people["kalle"], news, by_contact=True)
    delivery = services.deliveries.send(
        DeliveryKind.BATCH,
        Letter(draft_id),
        list_ids=[news],
        recipients=[GivenRecipient("kalle@example.com")],
    )
    services.contacts.leave_list(people["aino"], news, by_contact=True)  # counted
    services.contacts.leave_list(people["eino"], offers, by_contact=True)  # not its list
    services.contacts.leave_list(people["helmi"], news, by_contact=False)  # an admin's doing
    happened(services, delivery.id, (people["ilmari"], EventType.UNSUBSCRIBED, 1, {}))
    reports = services.delivery_reports
    assert names(services, reports.members(delivery.id, RecipientGroup.UNSUBSCRIBED)) == [
        "aino",
        "ilmari",
    ]
    by_link = reports.members(delivery.id, RecipientGroup.UNSUBSCRIBED_BY_LINK)
    assert names(services, by_link) == ["ilmari"]
    totals = reports.report(delivery.id).totals
    assert (totals.members, totals.unsubscribed, totals.unsubscribed_by_link) == (5, 2, 1)


def test_many_deliveries_are_reported_apart_in_one_go(services, draft_id) -> None:
    aino = services.contacts.create(email="aino@example.com", sms=None)
    first, second = (
        services.deliveries.send(
            DeliveryKind.EVENT, Letter(draft_id), recipients=[GivenRecipient("aino@example.com")]
        )
        for _ in range(2)
    )
    sent(services, first.id, [aino])
    happened(services, first.id, (aino, EventType.MAIL_OPEN, 1, {}))
    happened(
        services,
        second.id,
        (aino, EventType.MAIL_LINK, 1, {"link": 0, "url": "https://example.com/"}),
    )
    reports = services.delivery_reports.reports([second.id, first.id])
    assert [(r.delivery.id, r.totals) for r in reports] == [
        (second.id, DeliveryTotals(members=1, waiting=1, clicks=1, clickers=1)),
        (
            first.id,
            DeliveryTotals(members=1, delivered=1, opens=1, openers=1, delivered_openers=1),
        ),
    ]
    listed = services.delivery_reports.listing(ReportRange(order=ReportOrder.ID))
    assert [r.delivery.id for r in listed] == [second.id, first.id]
    with pytest.raises(NotFound, match="deliveries 0, -1 not found"):
        services.delivery_reports.reports([first.id, 0, -1])
    with pytest.raises(Invalid):
        services.delivery_reports.listing(ReportRange(limit=0))


def test_deliverability_takes_each_rates_share() -> None:
    assert deliverability(DeliveryTotals()).rating is None
    clean = deliverability(DeliveryTotals(members=200, delivered=200))
    assert (clean.tried, clean.bounce_rate, clean.rating) == (200, 0.0, 100)
    # 2 % bounced: a fifth of the 40; 0.5 % unsubscribed: a quarter of the 20.
    rated = deliverability(
        DeliveryTotals(members=200, delivered=196, failed=4, unsubscribed_by_link=1)
    )
    assert (rated.bounce_rate, rated.unsubscribe_rate, rated.rating) == (0.02, 0.005, 87)
    # 0.25 % complaints: half of the 40.
    assert deliverability(DeliveryTotals(delivered=400), complaints=1).rating == 80
    worst = deliverability(DeliveryTotals(delivered=1, failed=9, unsubscribed_by_link=1), 5)
    assert worst.rating == 0
