"""The seed's sending examples as written, over HTTP, sent by a real `kirje worker` into a real
SMTP server: drafts made through the native API, batch-send to a list, event-send with the
letter's overrides and a raw HTML block."""

from __future__ import annotations

import email
import re
import time
import uuid
from email import policy
from html import unescape as html_unescape

import httpx
from sqlalchemy import select

from kirje.store.schema import events
from tests.api.sending_stack import sending_stack
from tests.conftest import LiveServer, client_for
from tests.mail.smtp_sink import SmtpSink

ORDER_HTML = (
    "<p>Thank you for your order $firstname$ $lastname$. Order number $order_num$ has been"
    " received:</p> $ordered_items_html$"
)
TABLE = (
    "<table border=1>\n  <tr>\n    <td>ordered item</td>\n    <td>amount</td>\n  </tr>\n"
    "  <tr>\n    <td>Foo bar</td>\n    <td>2</td>\n  </tr>\n</table>"
)


sink, send_settings, server, worker = sending_stack("sending")


def received_by(sink: SmtpSink, address: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        found = [m for m in sink.messages if address in m.recipients]
        if found:
            return [email.message_from_bytes(m.content, policy=policy.default) for m in found]
        assert time.monotonic() < deadline, f"nothing reached {address}"
        time.sleep(0.1)


def make_draft(server: LiveServer, account, **fields) -> int:
    auth = (str(account.user_id), account.secret)
    body = {
        "subject": "Uutiskirje",
        "html": "<p>Hei $firstname$</p>",
        "from_email": "news@shop.example",
        **fields,
    }
    created = httpx.post(f"{server.url}/api/kirje/v1/drafts", json=body, auth=auth)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_the_seeds_batch_send_reaches_the_list_once_each(server, worker, sink, account) -> None:
    client = client_for(server, account)
    list_id = client.result("createMailingList", ["Newsletter", ""])
    client.result(
        "createAndJoinRecipient",
        [None, "john@example.com", None, {"firstname": "John"}, True, None, None, [list_id]],
    )
    draft = make_draft(server, account)
    answer = client.call_v2(
        "deliveries/batch-send",
        {
            "letter": {"type": "draft", "id": draft},
            "lists": [list_id],
            "recipients": [
                {"email": "john@example.com", "firstname": "John"},
                {"email": "jane@example.com", "firstname": "Jane"},
            ],
        },
    )
    assert answer["succeed"] is True and answer["result"], answer
    (john,) = received_by(sink, "john@example.com")
    (jane,) = received_by(sink, "jane@example.com")
    assert "Hei John" in john.get_body(("html",)).get_content()
    assert "Hei Jane" in jane.get_body(("html",)).get_content()


def test_the_seeds_event_send_with_a_raw_html_block(server, worker, sink, account) -> None:
    client = client_for(server, account)
    client.result("createCustomerProperty", ["ordered_items_html", "FI", "raw"])
    draft = make_draft(server, account, subject="Tilaus")
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
                    "ordered_items_html": "NOHTMLENCODE:\n" + TABLE,
                }
            ],
        },
    )
    assert answer["succeed"] is True and answer["result"], answer
    (mail,) = received_by(sink, "recipient@mail.com")
    html = mail.get_body(("html",)).get_content().replace("\r\n", "\n")  # mail lines end in CRLF
    assert mail["Subject"] == "Order received"
    assert "Thank you for your order John Doe. Order number 1234 has been received:" in html
    assert TABLE in html


def test_the_pixel_and_a_click_are_followed_and_recorded(
    server, worker, sink, account, system
) -> None:
    client = client_for(server, account)
    reader = f"reader-{uuid.uuid4().hex[:8]}@example.com"
    html = '<p>Hei $firstname$, <a href="https://shop.example/offers?id=7">tarjoukset</a></p>'
    draft = make_draft(server, account, html=html)
    answer = client.call_v2(
        "deliveries/event-send",
        {
            "letter": {"type": "draft", "id": draft, "recipients_reset": True},
            "recipients": [{"email": reader, "firstname": "Aino"}],
        },
    )
    delivery_id = answer["result"]["delivery_id"]
    (mail,) = received_by(sink, reader)
    body = mail.get_body(("html",)).get_content()
    links = re.findall(r'(?:href|src)="([^"]+)"', body)
    pixel = next(link for link in links if "/o/" in link)
    click = next(link for link in links if "/c/" in link)
    assert pixel.startswith(server.url) and click.startswith(server.url)
    seen = httpx.get(html_unescape(pixel))
    assert (seen.status_code, seen.headers["content-type"]) == (200, "image/gif")
    followed = httpx.get(html_unescape(click), follow_redirects=False)
    assert followed.status_code in (302, 303)
    assert followed.headers["location"] == "https://shop.example/offers?id=7"
    elsewhere = re.sub(r"u=[^&]+", "u=https%3A%2F%2Fevil.example%2F", html_unescape(click))
    tampered = httpx.get(elsewhere, follow_redirects=False)
    assert tampered.status_code == 404
    services = system.for_account(account.account_id)
    with services.scope.db.reading() as conn:
        kinds = conn.execute(
            select(events.c.type, events.c.data).where(
                events.c.account_id == account.account_id,
                events.c.type.in_(["mailopen", "maillink"]),
            )
        ).all()
    assert sorted(kind for kind, _ in kinds) == ["maillink", "mailopen"]
    assert all(data["delivery"] == delivery_id for _, data in kinds)
