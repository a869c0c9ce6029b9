"""Kirje's native API: the local outbox (no SMTP server configured), each account seeing the
messages of its own deliveries, over HTTP with Basic auth.

The deliveries are sent by the real job, run in this process (kirje.jobs.runner.run_here),
into the outbox of the test server's data directory."""

from __future__ import annotations

import email
from datetime import datetime
from email import policy

import httpx
import pytest

from kirje.domain.deliveries import DeliveryKind, GivenRecipient, Letter
from kirje.domain.messages import MessageContent
from kirje.jobs.runner import run_here
from tests.conftest import LiveServer, new_account

PATH = "/api/kirje/v1/outbox"


def client(server: LiveServer, account) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(str(account.user_id), account.secret))


def send(system, account, addresses: list[str]) -> None:
    services = system.for_account(account.account_id)
    content = MessageContent(
        subject="Tilaus $order$",
        html="<p>Kiitos tilauksesta $order$!</p>",
        from_name="Kauppa",
        from_email="shop@shop.example",
    )
    draft = services.messages.create(content).id
    recipients = [GivenRecipient(a, {"order": str(n)}) for n, a in enumerate(addresses, 1)]
    delivery = services.deliveries.send(DeliveryKind.EVENT, Letter(draft), recipients=recipients)
    run_here(system, delivery.job_id)


@pytest.fixture
def shop(system):
    account = new_account(system)
    send(system, account, ["a1@example.com", "a2@example.com", "a3@example.com"])
    return account


@pytest.fixture
def other(system):
    account = new_account(system)
    send(system, account, ["b1@example.com"])
    return account


def test_the_listing_is_the_accounts_messages_newest_first(live_server, shop, other) -> None:
    with client(live_server, shop) as http:
        answer = http.get(PATH)
        assert answer.status_code == 200, answer.text
        items = answer.json()
        assert sorted(item["to"] for item in items) == [
            "a1@example.com",
            "a2@example.com",
            "a3@example.com",
        ]
        # A file's name starts with the time it was written: newest first is names descending.
        assert [item["id"] for item in items] == sorted((i["id"] for i in items), reverse=True)
        for item in items:
            assert item["from"] == "Kauppa <shop@shop.example>"
            raw = http.get(f"{PATH}/{item['id']}").content
            parsed = email.message_from_bytes(raw, policy=policy.default)
            assert item["subject"] == parsed["Subject"] and item["subject"].startswith("Tilaus ")
            assert datetime.fromisoformat(item["date"]) == parsed["Date"].datetime
            assert item["size"] == len(raw)
        first, rest = http.get(PATH, params={"limit": 2}), http.get(PATH, params={"offset": 2})
        assert first.json() + rest.json() == items and len(first.json()) == 2
        assert http.get(PATH, params={"offset": 3}).json() == []
        assert http.get(PATH, params={"limit": 0}).status_code == 400
    with client(live_server, other) as http:
        assert [item["to"] for item in http.get(PATH).json()] == ["b1@example.com"]


def test_a_message_is_given_raw_to_its_account_only(live_server, shop, other) -> None:
    with client(live_server, shop) as http:
        item = http.get(PATH, params={"limit": 1}).json()[0]
        answer = http.get(f"{PATH}/{item['id']}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "message/rfc822"
    parsed = email.message_from_bytes(answer.content, policy=policy.default)
    assert parsed["To"] == item["to"]
    assert "X-Kirje-Envelope" not in answer.text  # the outbox's own lines are not the message
    assert parsed.get_body(("html",)).get_content().startswith("<p>Kiitos tilauksesta ")

    with client(live_server, other) as stranger:
        for outbox_id in (item["id"], "1700000000000000000.P1Q1Rabcd.nowhere", "-bad"):
            refused = stranger.get(f"{PATH}/{outbox_id}")
            assert refused.status_code == 404 and "error" in refused.json(), outbox_id
    assert httpx.get(f"{live_server.url}{PATH}").status_code == 401
    assert httpx.get(f"{live_server.url}{PATH}/{item['id']}").status_code == 401


def test_the_openapi_schema_describes_the_outbox(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.url}/schema/openapi.json").json()
    assert {PATH, PATH + "/{outbox_id}"} <= set(schema["paths"])
    listed = schema["paths"][PATH]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"limit", "offset"}
    raw = schema["paths"][PATH + "/{outbox_id}"]["get"]["responses"]["200"]
    assert "message/rfc822" in raw["content"]
