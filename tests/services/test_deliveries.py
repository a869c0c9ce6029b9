"""A delivery's audience: expanded once into the ledger, each person once, none kept out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kirje.domain.deliveries import DeliveryKind, DeliveryState, GivenRecipient, Letter
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.messages import MessageContent
from kirje.store.schema import delivery_recipients

LETTER_HTML = "<p>Hei $firstname$!</p>"


@pytest.fixture
def draft_id(services) -> int:
    content = MessageContent(subject="Uutiskirje", html=LETTER_HTML, from_email="news@example.com")
    return services.messages.create(content).id


def ledger(services, delivery_id: int) -> dict[str, tuple[str, dict | None]]:
    with services.scope.db.reading() as conn:
        rows = conn.execute(
            select(delivery_recipients).where(delivery_recipients.c.delivery_id == delivery_id)
        )
        return {row.email: (row.state, row.properties) for row in rows}


def person(services, email: str, *lists: int) -> int:
    contact_id = services.contacts.create(email=email, sms=None, properties={"firstname": email[0]})
    for list_id in lists:
        services.lists.join(list_id, [contact_id])
    return contact_id


def test_two_lists_mail_everyone_once_and_no_one_kept_out(services, draft_id) -> None:
    news, offers = services.lists.create("Uutiset"), services.lists.create("Tarjoukset")
    person(services, "aino@example.com", news, offers)
    person(services, "eino@example.com", news)
    banned = person(services, "ban@example.com", news)
    services.privacy.ban(banned)
    left = person(services, "left@example.com", offers)
    services.contacts.leave_list(left, offers, by_contact=True)
    forgotten = person(services, "gone@example.com", news)
    services.privacy.forget(forgotten)
    delivery = services.deliveries.send(
        DeliveryKind.BATCH, Letter(draft_id), list_ids=[news, offers]
    )
    assert delivery.state is DeliveryState.QUEUED and delivery.job_id is not None
    assert ledger(services, delivery.id) == {
        "aino@example.com": ("pending", None),
        "eino@example.com": ("pending", None),
    }


def test_given_recipients_carry_their_properties_and_are_made_contacts(services, draft_id) -> None:
    news = services.lists.create("Uutiset")
    person(services, "aino@example.com", news)
    delivery = services.deliveries.send(
        DeliveryKind.BATCH,
        Letter(draft_id),
        list_ids=[news],
        recipients=[
            GivenRecipient("Aino@Example.com", {"firstname": "Aino"}),
            GivenRecipient("new@example.com", {"firstname": "Uusi", "order_num": "1234"}),
        ],
    )
    assert ledger(services, delivery.id) == {
        "aino@example.com": ("pending", {"firstname": "Aino"}),
        "new@example.com": ("pending", {"firstname": "Uusi", "order_num": "1234"}),
    }
    assert services.contacts.get_by_email("new@example.com").contact.email == "new@example.com"


def test_an_erased_address_is_never_mailed_or_made_again(services, draft_id) -> None:
    gone = services.contacts.create(email="gone@example.com", sms=None)
    services.privacy.forget(gone)
    delivery = services.deliveries.send(
        DeliveryKind.EVENT,
        Letter(draft_id, recipients_reset=True),
        recipients=[GivenRecipient("gone@example.com"), GivenRecipient("ok@example.com")],
    )
    assert list(ledger(services, delivery.id)) == ["ok@example.com"]


def test_bad_requests_write_nothing(services, draft_id) -> None:
    with pytest.raises(NotFound):
        services.deliveries.send(DeliveryKind.BATCH, Letter(999999), list_ids=[1])
    with pytest.raises(NotFound):
        services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[999999])
    with pytest.raises(Invalid):
        services.deliveries.send(
            DeliveryKind.EVENT, Letter(draft_id), recipients=[GivenRecipient("nope")]
        )
    with pytest.raises(Invalid):
        services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id))
