"""LianaMailer v3 over HTTP, signed as the clients sign it: the events feed (the seed's PHP
paging loop, its samples, Helsinki time windows, properties[], list_data, types) and the
openers and clickers of a delivery that was really sent and whose links were followed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape as html_unescape
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from kirje.domain.events import EventType
from kirje.domain.messages import MessageContent
from kirje.store import events as event_store
from kirje.store.schema import delivery_links, events
from tests.api.sending_stack import sending_stack
from tests.api.test_sending_end_to_end import make_draft, received_by
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient
from tests.mail.smtp_sink import SmtpSink

HELSINKI = ZoneInfo("Europe/Helsinki")
SEED_SECRET = "0123456789abcdef0123456789abcdef"
SEED_DATE = "2020-01-15T12:00:00+03:00"
SEED_PATH = "events?type=mailopen&at_start=2020-01-10T12:00:00&at_end=2020-01-10T15:00:00"
SEED_SIGNATURE = "22404d156bd828b157c3e6e11f5b83943b00bc7b0029eceab304dae227ef7f03"


def php_encode(value: Any) -> str:
    """PHP urlencode: letters, digits and -_. stay, a space is +, the rest %XX."""
    if isinstance(value, bool):
        value = int(value)
    return quote_plus(str(value), safe="").replace("~", "%7E")


def http_build_query(params: dict[str, Any]) -> str:
    """PHP http_build_query: arrays as key[n]=value, brackets encoded like everything else."""
    parts = []
    for key, value in params.items():
        if isinstance(value, list):
            parts += [f"{php_encode(f'{key}[{n}]')}={php_encode(v)}" for n, v in enumerate(value)]
        else:
            parts.append(f"{php_encode(key)}={php_encode(value)}")
    return "&".join(parts)


def v3_get(client: LianaClient, resource: str, **spoil: Any) -> httpx.Response:
    """GET /api/v3/<resource> with the target signed exactly as written; empty body."""
    return client.raw(resource, "", http_method="GET", version=3, **spoil)


def v3_items(client: LianaClient, resource: str) -> list[dict]:
    response = v3_get(client, resource)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["items"], body
    return body["items"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def append(system, account_id: int, rows: list[dict]) -> list[int]:
    with system.db.transaction() as conn:
        return event_store.append_returning_ids(conn, rows)


def opened(account_id: int, contact_id: int, at: datetime, agent: str, **extra: Any) -> dict:
    return event_store.event_row(
        account_id,
        contact_id,
        EventType.MAIL_OPEN.value,
        at,
        data={"delivery": 77, "user_agent": agent},
        delivery_id=77,
        **extra,
    )


def new_contact(services, email: str | None = None, **properties: str) -> int:
    address = email or f"c-{uuid.uuid4().hex[:8]}@example.com"
    return services.contacts.create(email=address, sms=None, properties=properties)


def recipient(contact_id: int, email: str, properties: dict | None = None) -> dict:
    return {"id": contact_id, "email": email, "sms": None, "properties": properties}


# The seed's examples


def test_a2_the_seeds_signing_example_answers_items(settings, system) -> None:
    """Seed 001's v3 request byte for byte, to a server whose clock reads its date."""
    account = system.accounts.create("Seed v3", realm="EUR", secret=SEED_SECRET)
    aino = new_contact(system.for_account(account.account_id), "aino@example.com")
    inside = utc(2020, 1, 10, 11, 30)  # 13:30 in Helsinki (UTC+2 in January)
    append(
        system,
        account.account_id,
        [
            opened(account.account_id, aino, inside, "inside"),
            opened(account.account_id, aino, utc(2020, 1, 10, 13, 0), "15:00 is the end"),
            opened(account.account_id, aino, utc(2020, 1, 10, 9, 59, 59), "before 12:00"),
        ],
    )
    server = LiveServer(settings, clock=lambda: utc(2020, 1, 15, 9, 1)).start()
    try:
        response = v3_get(client_for(server, account), SEED_PATH, date=SEED_DATE)
    finally:
        server.stop()
    assert response.request.url.raw_path == b"/api/v3/" + SEED_PATH.encode()
    assert response.request.headers["Authorization"] == f"EUR {account.user_id}:{SEED_SIGNATURE}"
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "at": "2020-01-10T13:30:00+02:00",
                "type": "mailopen",
                "data": {"delivery-id": 77, "useragent": "inside"},
                "recipient": recipient(aino, "aino@example.com"),
                "list": None,
            }
        ]
    }


def test_a8_the_seeds_php_loop_sees_every_event_once_newest_first(
    client: LianaClient, account, services, system
) -> None:
    """The seed's "Fetch events" example: http_build_query (colons as %3A), pages of 100,
    offset += 100 until a short page, sort=-at."""
    account_id = account.account_id
    reader = new_contact(services)
    start = utc(2020, 1, 30, 10)  # 2020-01-30T12:00:00 in Helsinki
    # 250 opens over the day, five at each moment (a send stamps a batch with one time), and
    # written out of time order so that ids and times disagree.
    moments = [start + timedelta(minutes=25 * (i // 5)) for i in range(250)]
    wanted = [opened(account_id, reader, at, f"agent-{i}") for i, at in enumerate(moments)]
    wanted = wanted[1::2] + wanted[::2]
    ids = append(system, account_id, wanted)
    other = new_account(system)
    append(
        system,
        account_id,
        [
            opened(account_id, reader, start - timedelta(seconds=1), "too early"),
            opened(account_id, reader, utc(2020, 1, 31, 10), "at_end is not included"),
            event_store.event_row(account_id, reader, "maillink", start, data={"link": 0}),
            opened(account_id, reader, start, "a channel's verb", channel_id=5),
        ],
    )
    append(system, other.account_id, [opened(other.account_id, reader, start, "other account")])

    page_size, page_num, results, targets = 100, 0, [], []
    while True:
        offset = page_size * page_num
        page_num += 1
        params = {
            "type": "mailopen",
            "at_start": "2020-01-30T12:00:00",
            "at_end": "2020-01-31T12:00:00",
            "limit": page_size,
            "offset": offset,
            "sort": "-at",
        }
        resource = "events?" + http_build_query(params)
        targets.append(resource)
        items = v3_items(client, resource)
        results += items
        if len(items) != page_size:
            break

    assert targets[0] == (
        "events?type=mailopen&at_start=2020-01-30T12%3A00%3A00&at_end=2020-01-31T12%3A00%3A00"
        "&limit=100&offset=0&sort=-at"
    )
    assert page_num == 3 and len(results) == 250
    by_id = sorted(zip(ids, wanted, strict=True), key=lambda pair: (pair[1]["at"], pair[0]))
    newest_first = [row["data"]["user_agent"] for _, row in reversed(by_id)]
    assert [item["data"]["useragent"] for item in results] == newest_first
    assert results[0]["at"] == "2020-01-31T08:25:00+02:00"
    assert results[-1]["at"] == "2020-01-30T12:00:00+02:00"


def test_a15_the_seeds_sample_gives_at_most_ten(client: LianaClient, account, services, system):
    reader = new_contact(services)
    first = utc(2020, 1, 1, 10)  # 12:00 in Helsinki
    append(
        system,
        account.account_id,
        [opened(account.account_id, reader, first + timedelta(hours=i), f"{i}") for i in range(12)],
    )
    items = v3_items(client, "events?type=mailopen&limit=10&at_start=2020-01-01T12:00:00")
    # Oldest first when no sort is given.
    assert [item["data"]["useragent"] for item in items] == [str(i) for i in range(10)]


def test_a13_a14_openers_and_clickers_of_a_delivery_without_responses(
    client: LianaClient, services
) -> None:
    content = MessageContent(subject="Hei", html="<p>Hei</p>", from_email="news@example.com")
    draft = services.messages.create(content).id
    answer = client.call_v2(
        "deliveries/batch-send",
        {"letter": {"type": "draft", "id": draft}, "recipients": [{"email": "a@example.com"}]},
    )
    (delivery_id,) = answer["result"]["deliveries"]
    assert v3_get(client, f"deliveries/{delivery_id}/openers").json() == {"items": []}
    assert v3_get(client, f"deliveries/{delivery_id}/clickers").json() == {"items": []}


# Time zones


@pytest.mark.parametrize(
    ("moment", "local", "shown"),
    [
        (utc(2020, 1, 30, 10), "2020-01-30T12:00:00", "2020-01-30T12:00:00+02:00"),
        (utc(2020, 7, 15, 9), "2020-07-15T12:00:00", "2020-07-15T12:00:00+03:00"),
    ],
    ids=["winter", "summer"],
)
def test_at_start_and_at_end_are_helsinki_time(
    client: LianaClient, account, services, system, moment, local, shown
) -> None:
    reader = new_contact(services)
    append(system, account.account_id, [opened(account.account_id, reader, moment, "it")])
    next_second = (datetime.fromisoformat(local) + timedelta(seconds=1)).isoformat()

    def found(at_start: str, at_end: str) -> list[str]:
        query = http_build_query({"type": "mailopen", "at_start": at_start, "at_end": at_end})
        return [item["at"] for item in v3_items(client, f"events?{query}")]

    assert found(local, next_second) == [shown]
    assert found(next_second, next_second[:4] + "-12-31T00:00:00") == []
    # at_end is exclusive: back-to-back windows see an event once.
    assert found(local[:10] + "T00:00:00", local) == []
    # An explicit offset is honoured instead of Helsinki's.
    instant = moment.isoformat()
    assert found(instant, (moment + timedelta(seconds=1)).isoformat()) == [shown]
    assert found(instant.replace("+00:00", "Z"), local[:4] + "-12-31T00:00:00") == [shown]


def test_an_offset_sent_with_an_unencoded_plus_is_read(client, account, services, system):
    reader = new_contact(services)
    append(system, account.account_id, [opened(account.account_id, reader, utc(2020, 7, 1), "x")])
    items = v3_items(
        client, "events?at_start=2020-07-01T03:00:00+03:00&at_end=2020-07-01T03:00:01+03:00"
    )
    assert [item["at"] for item in items] == ["2020-07-01T03:00:00+03:00"]


# properties, list_data, types


def test_properties_name_the_recipients_values(client: LianaClient, account, services, system):
    services.properties.create("city")  # firstname is there from the start
    services.properties.create("phone")
    aino = new_contact(services, "aino@example.com", firstname="Aino", city="Oulu")
    append(system, account.account_id, [opened(account.account_id, aino, utc(2021, 3, 1), "x")])
    php = http_build_query({"type": "mailopen", "properties": ["firstname", "city", "phone"]})
    assert "properties%5B0%5D=firstname&properties%5B1%5D=city" in php
    (item,) = v3_items(client, f"events?{php}")
    assert item["recipient"] == recipient(
        aino, "aino@example.com", {"firstname": "Aino", "city": "Oulu", "phone": None}
    )
    (item,) = v3_items(client, "events?type=mailopen&properties[]=city&properties[]=firstname")
    assert item["recipient"]["properties"] == {"city": "Oulu", "firstname": "Aino"}
    (item,) = v3_items(client, "events?type=mailopen")
    assert item["recipient"]["properties"] is None
    unknown = v3_get(client, "events?properties[0]=shoe_size")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "succeed": False,
        "message": "unknown properties: shoe_size",
        "code": "invalid",
    }


def test_list_data_adds_the_list_of_list_events(client: LianaClient, account, services, system):
    aino = new_contact(services, "aino@example.com")
    news = services.lists.create("Uutiset")
    services.lists.join(news, [aino])
    with system.db.reading() as conn:
        joined_at = conn.execute(
            select(events.c.at).where(
                events.c.account_id == account.account_id, events.c.type == "list-join"
            )
        ).scalar_one()
    expected = {
        "at": joined_at.astimezone(HELSINKI).isoformat(timespec="seconds"),
        "type": "list-join",
        "data": {"list-id": news, "admin": True},
        "recipient": recipient(aino, "aino@example.com"),
        "list": {"id": news, "name": "Uutiset"},
    }
    assert v3_items(client, "events?type=list-join&list_data=true") == [expected]
    assert v3_items(client, "events?type=list-join&list_data=1") == [expected]
    assert v3_items(client, "events?type=list-join") == [{**expected, "list": None}]


def test_type_picks_one_seed_type_and_kirjes_own_types_stay_out(
    client: LianaClient, account, services, system
) -> None:
    aino = new_contact(services, "aino@example.com")  # a created event
    services.lists.join(services.lists.create("Uutiset"), [aino])  # a list-join event
    account_id = account.account_id
    append(
        system,
        account_id,
        [
            opened(account_id, aino, utc(2022, 5, 1), "x"),
            event_store.event_row(account_id, aino, "unsubscribed", utc(2022, 5, 2)),
            event_store.event_row(account_id, aino, "consent-given", utc(2022, 5, 2)),
            event_store.event_row(account_id, aino, "mailopen", utc(2022, 5, 2), channel_id=3),
        ],
    )
    every = v3_items(client, "events?limit=1000")
    assert sorted(item["type"] for item in every) == ["created", "list-join", "mailopen"]
    assert [item["type"] for item in v3_items(client, "events?type=created")] == ["created"]
    assert v3_items(client, "events?type=mailbounce") == []


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "events?type=unsubscribed",
            "type: 'unsubscribed' is not one of confirmed, created, data-change, deleted, "
            "list-join, list-quit, mailbounce, maillink, mailopen, mailsent, reactivated",
        ),
        ("events?type=mailopen&type=maillink", "type: give one value, not 2"),
        ("events?limit=1001", "limit must be between 1 and 1000"),
        ("events?limit=0", "limit must be between 1 and 1000"),
        ("events?offset=-1", "offset must be 0 or more"),
        ("events?limit=ten", "limit: 'ten' is not an integer"),
        ("events?sort=type", "sort: 'type' is not one of at (with - or +)"),
        ("events?at_begin=2020-01-01T00:00:00", "unknown parameters: at_begin"),
        ("events?list_data=maybe", "list_data: 'maybe' is not a boolean (true/false, 1/0)"),
        (
            "events?at_start=30.1.2020",
            "at_start '30.1.2020' is not a time (e.g. 2019-12-20 14:00:00)",
        ),
    ],
)
def test_bad_parameters_are_refused_with_400(client: LianaClient, resource, message) -> None:
    response = v3_get(client, resource)
    assert response.status_code == 400
    assert response.json() == {"succeed": False, "message": message, "code": "invalid"}


def test_the_feed_is_the_callers_own(client: LianaClient, live_server, system) -> None:
    other = new_account(system)
    reader = new_contact(system.for_account(other.account_id))
    append(system, other.account_id, [opened(other.account_id, reader, utc(2020, 2, 1), "x")])
    assert v3_items(client, "events?type=mailopen") == []
    assert len(v3_items(client_for(live_server, other), "events?type=mailopen")) == 1


# Errors and routing


def test_a_bad_signature_is_401(client: LianaClient) -> None:
    for resource in ("events?type=mailopen", "deliveries/123/openers", "deliveries/1/clickers"):
        response = v3_get(client, resource, secret="0" * 32)
        assert response.status_code == 401
        assert response.json() == {
            "succeed": False,
            "message": "Unauthorized: signature does not match",
            "code": "unauthorized",
        }


def test_a_query_changed_after_signing_is_401(client: LianaClient) -> None:
    date = client.date()
    good = v3_get(client, "events?type=mailopen", date=date)
    headers = dict(good.request.headers)
    changed = client.http.get("/api/v3/events?type=maillink", headers=headers)
    assert changed.status_code == 401
    # The colon encoded differently is another target: the raw query is what is signed.
    encoded = client.http.get("/api/v3/events?type%3Dmailopen", headers=headers)
    assert encoded.status_code == 401


def test_unknown_resources_and_verbs(client: LianaClient) -> None:
    missing = v3_get(client, "recipients/5")
    assert missing.status_code == 404
    assert missing.json() == {
        "succeed": False,
        "message": "unknown resource /api/v3/recipients/5",
        "code": "unknown_resource",
    }
    posted = client.raw("events", "{}", version=3)
    assert posted.status_code == 405
    assert posted.json()["code"] == "method_not_allowed"


def test_v2_still_answers_in_its_envelope(client: LianaClient) -> None:
    envelope = client.call_v2("deliveries/95/cancel", {})
    assert envelope["succeed"] is False and envelope["code"] == "not_available"


# Openers and clickers of a delivery sent for real


sink, send_settings, server, worker = sending_stack("v3-responders")


class SentLetter:
    """A batch-send to three readers, delivered into the sink; each reader's pixel and link."""

    def __init__(self, server: LiveServer, sink: SmtpSink, account) -> None:
        self.client = client_for(server, account)
        tag = uuid.uuid4().hex[:8]
        self.emails = {name: f"{name}-{tag}@example.com" for name in ("aino", "eino", "tyyne")}
        list_id = self.client.result("createMailingList", ["Uutiskirje", ""])
        self.ids = {
            name: self.client.result(
                "createAndJoinRecipient",
                [None, email, None, {"firstname": name.title()}, True, None, None, [list_id]],
            )
            for name, email in self.emails.items()
        }
        html = '<p>Hei $firstname$, <a href="https://shop.example/offers?id=7">tarjoukset</a></p>'
        draft = make_draft(server, account, html=html)
        answer = self.client.call_v2(
            "deliveries/batch-send", {"letter": {"type": "draft", "id": draft}, "lists": [list_id]}
        )
        (self.delivery_id,) = answer["result"]["deliveries"]
        self.pixels, self.clicks = {}, {}
        for name, email in self.emails.items():
            (mail,) = received_by(sink, email)
            links = re.findall(r'(?:href|src)="([^"]+)"', mail.get_body(("html",)).get_content())
            self.pixels[name] = html_unescape(next(link for link in links if "/o/" in link))
            self.clicks[name] = html_unescape(next(link for link in links if "/c/" in link))

    def open(self, name: str, agent: str) -> None:
        response = httpx.get(self.pixels[name], headers={"User-Agent": agent})
        assert response.status_code == 200

    def click(self, name: str) -> None:
        response = httpx.get(self.clicks[name], follow_redirects=False)
        assert response.status_code == 302

    def responses(self, system, kind: str) -> list[tuple[int, datetime, dict]]:
        with system.db.reading() as conn:
            rows = conn.execute(
                select(events.c.contact_id, events.c.at, events.c.data)
                .where(events.c.delivery_id == self.delivery_id, events.c.type == kind)
                .order_by(events.c.id)
            )
            return [(row.contact_id, row.at, row.data) for row in rows]


def shown(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).isoformat(timespec="seconds")


def test_openers_and_clickers_after_a_real_delivery(server, worker, sink, system) -> None:
    account = new_account(system)
    letter = SentLetter(server, sink, account)
    client, delivery = letter.client, letter.delivery_id
    letter.open("aino", "first")
    letter.open("eino", "eino's")
    letter.open("aino", "again")
    letter.click("aino")
    letter.click("aino")

    opens = letter.responses(system, "mailopen")
    assert [(contact, data["user_agent"]) for contact, _, data in opens] == [
        (letter.ids["aino"], "first"),
        (letter.ids["eino"], "eino's"),
        (letter.ids["aino"], "again"),
    ]
    aino_first_at, eino_at = opens[0][1], opens[1][1]

    def opener(name: str, at: datetime, agent: str) -> dict:
        contact = letter.ids[name]
        return {
            "id": contact,
            "href": f"/api/v3/recipients/{contact}",
            "event": {
                "at": shown(at),
                "type": "mailopen",
                "data": {"delivery-id": delivery, "useragent": agent},
            },
            "properties": None,
        }

    # One item per recipient, with their first open; newest first by default.
    assert v3_items(client, f"deliveries/{delivery}/openers") == [
        opener("eino", eino_at, "eino's"),
        opener("aino", aino_first_at, "first"),
    ]
    by_id = v3_items(client, f"deliveries/{delivery}/openers?sort=id")
    assert [item["id"] for item in by_id] == sorted([letter.ids["aino"], letter.ids["eino"]])
    by_id_down = v3_items(client, f"deliveries/{delivery}/openers?sort=-id")
    assert [item["id"] for item in by_id_down] == [item["id"] for item in reversed(by_id)]
    oldest = v3_items(client, f"deliveries/{delivery}/openers?sort=%2Bevent.at&limit=1&offset=1")
    assert [item["id"] for item in oldest] == [letter.ids["eino"]]

    # Only the opens at or after event_at_start (Helsinki time) count.
    after_first = (aino_first_at + timedelta(microseconds=1)).astimezone(HELSINKI)
    since = http_build_query({"event_at_start": after_first.replace(tzinfo=None).isoformat()})
    later = v3_items(client, f"deliveries/{delivery}/openers?{since}&sort=id")
    aino_again_at = opens[2][1]
    assert {item["id"]: item["event"]["data"]["useragent"] for item in later} == {
        letter.ids["aino"]: "again",
        letter.ids["eino"]: "eino's",
    }
    assert shown(aino_again_at) in [item["event"]["at"] for item in later]

    query = http_build_query({"fields": "id,email", "properties": ["firstname"]})
    assert v3_items(client, f"deliveries/{delivery}/openers?{query}&sort=id") == [
        {"id": letter.ids[name], "email": letter.emails[name], "properties": {"firstname": first}}
        for name, first in sorted(
            [("aino", "Aino"), ("eino", "Eino")], key=lambda pair: letter.ids[pair[0]]
        )
    ]

    clicks = letter.responses(system, "maillink")
    assert len(clicks) == 2
    with system.db.reading() as conn:
        link_id = conn.execute(
            select(delivery_links.c.id).where(
                delivery_links.c.delivery_id == delivery, delivery_links.c.position == 0
            )
        ).scalar_one()
    assert v3_items(client, f"deliveries/{delivery}/clickers") == [
        {
            "id": letter.ids["aino"],
            "href": f"/api/v3/recipients/{letter.ids['aino']}",
            "event": {
                "at": shown(clicks[0][1]),
                "type": "maillink",
                "data": {
                    "delivery-id": delivery,
                    "link-id": link_id,
                    "url": "https://shop.example/offers?id=7",
                    "useragent": clicks[0][2]["user_agent"],
                },
            },
            "properties": None,
        }
    ]

    # The events feed shows the same opens and clicks, newest first on request.
    feed = v3_items(client, "events?type=maillink&sort=-at")
    assert [item["data"]["link-id"] for item in feed] == [link_id, link_id]

    # Another account's delivery, and one that does not exist, are not found.
    stranger = client_for(server, new_account(system))
    for resource in (f"deliveries/{delivery}/openers", f"deliveries/{delivery}/clickers"):
        refused = v3_get(stranger, resource)
        assert refused.status_code == 404
        assert refused.json() == {
            "succeed": False,
            "message": f"delivery {delivery} not found",
            "code": "not_found",
        }
    assert v3_get(client, "deliveries/999999999/openers").status_code == 404
    bad_field = v3_get(client, f"deliveries/{delivery}/openers?fields=id,shoe")
    assert bad_field.status_code == 400
