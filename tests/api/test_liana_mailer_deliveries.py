"""v2 deliveries over HTTP, as the seed's PHP examples call them: the delivery and its ledger
are recorded before the answer (sending itself is the worker's: see the end-to-end tests)."""

from __future__ import annotations

from sqlalchemy import select

from kirje.domain.messages import MessageContent
from kirje.store.schema import deliveries, delivery_recipients
from tests.liana_clients import LianaClient

ORDER_HTML = (
    "<p>Thank you for your order $firstname$ $lastname$. Order number $order_num$ has been"
    " received.</p>"
)


def _draft(services) -> int:
    content = MessageContent(
        subject="Tilaus", html="<p>Hei $firstname$</p>", from_email="s@example.com"
    )
    return services.messages.create(content).id


def _ledger(services, delivery_id: int) -> dict:
    with services.scope.db.reading() as conn:
        rows = conn.execute(
            select(delivery_recipients).where(delivery_recipients.c.delivery_id == delivery_id)
        )
        return {row.email: row.properties for row in rows}


def test_the_seeds_batch_send_to_a_list_with_given_recipients(
    client: LianaClient, services
) -> None:
    draft = _draft(services)
    list_id = client.result("createMailingList", ["Uutiskirje", "", False])
    member = client.result(
        "createAndJoinRecipient",
        [None, "recipient1@example.com", None, {}, True, None, None, [list_id]],
    )
    assert isinstance(member, int)
    answer = client.call_v2(
        "deliveries/batch-send",
        {
            "letter": {"type": "draft", "id": draft},
            "lists": [list_id],
            "recipients": [
                {"email": "recipient1@example.com", "firstname": "John"},
                {"email": "recipient2@example.com", "firstname": "Jane"},
            ],
        },
    )
    assert answer["succeed"] is True and answer["result"]["mails"] == [draft]
    (delivery_id,) = answer["result"]["deliveries"]
    assert _ledger(services, delivery_id) == {
        "recipient1@example.com": {"firstname": "John"},
        "recipient2@example.com": {"firstname": "Jane"},
    }


def test_the_seeds_event_send_with_overrides(client: LianaClient, services) -> None:
    draft = _draft(services)
    answer = client.call_v2(
        "deliveries/event-send",
        {
            "letter": {
                "type": "draft",
                "id": draft,
                "recipients_reset": True,
                "subject": "Order received",
                "html": ORDER_HTML,
            },
            "recipients": [
                {
                    "email": "recipient@mail.com",
                    "firstname": "John",
                    "lastname": "Doe",
                    "order_num": 1234,
                }
            ],
        },
    )
    assert answer["succeed"] is True, answer
    result = answer["result"]
    assert (result["mail_id"], result["recipients"], len(result["tracking_id"])) == (draft, 1, 16)
    assert _ledger(services, result["delivery_id"]) == {
        "recipient@mail.com": {"firstname": "John", "lastname": "Doe", "order_num": "1234"}
    }
    with services.scope.db.reading() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.id == result["delivery_id"])).one()
    assert (row.kind, row.recipients_reset, row.resends_unknown) == ("event", True, True)
    assert row.overrides == {
        "subject": "Order received",
        "html": ORDER_HTML,
        "tracking_id": result["tracking_id"],
    }


def test_bad_deliveries_are_refused_with_a_message(client: LianaClient, services) -> None:
    draft = _draft(services)
    for body, word in (
        ({"letter": {"type": "draft", "id": 999999}, "lists": [1]}, "draft"),
        ({"letter": {"type": "draft", "id": draft}}, "lists"),
        ({"letter": {"type": "template", "id": draft}, "lists": [1]}, "type"),
        ({"letter": {"type": "draft", "id": draft}, "recipients": [{"firstname": "x"}]}, "email"),
    ):
        answer = client.call_v2("deliveries/batch-send", body)
        assert answer["succeed"] is False and word in answer["message"], (body, answer)
