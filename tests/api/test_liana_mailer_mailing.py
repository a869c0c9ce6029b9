"""v1 Mailing over HTTP with the signed client: deliveries scheduled through v2, listed,
cancelled, rescheduled, hidden, deleted and put on feeds; their links and what was tracked of
a mail after a real send (aiosmtpd) whose pixel and link are followed over HTTP.

Sending is the job's, run here in-process with a system whose clock the test sets (the API
server keeps the real clock: the signed requests carry the real time)."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from kirje.domain.messages import MessageContent
from kirje.jobs import recovery
from kirje.jobs.runner import run_here
from kirje.services.system import System
from kirje.store.schema import delivery_links, events
from tests.liana_clients import LianaClient
from tests.mail.smtp_sink import SmtpSink

HELSINKI = ZoneInfo("Europe/Helsinki")
AGENT = "Mozilla/5.0 (Kirje mailing test)"
LINK_TRACKING_HEADER = (
    "link_id;clicked_at;useragent;acceptlanguage;remote_addr;hostname;continent_code;"
    "org_name;country_code;country_code3;country_name;region;city;postal_code;latitude;"
    "longitude;dma_code;area_code;member_id;member_email"
)
HTML = (
    '<p>Hei $firstname$! <a href="https://shop.example/kevat">Kevät</a>'
    ' <a href="https://shop.example/tarjous?id=7">Tarjous</a></p>'
)


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at


def helsinki(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sending(settings, system, live_server, sink, clock):
    """What a job worker runs on: the same database, mail into the sink, links to the server."""
    changes = {"smtp_url": sink.url(starttls="false"), "public_url": live_server.url}
    opened = System.open(settings.model_copy(update=changes), clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def draft_id(services) -> int:
    content = MessageContent(
        name="Kevään uutiskirje", subject="Kevät", html=HTML, from_email="news@shop.example"
    )
    return services.messages.create(content).id


def new_list(client: LianaClient, name: str, *emails: str) -> tuple[int, dict[str, int]]:
    list_id = client.result("createMailingList", [name, ""])
    members = {
        address: client.result(
            "createAndJoinRecipient",
            [None, address, None, {}, True, None, None, [list_id]],
        )
        for address in emails
    }
    return list_id, members


def batch_send(client: LianaClient, draft_id: int, list_id: int, **more) -> int:
    answer = client.call_v2(
        "deliveries/batch-send",
        {"letter": {"type": "draft", "id": draft_id}, "lists": [list_id], **more},
    )
    assert answer["succeed"] is True, answer
    (delivery_id,) = answer["result"]["deliveries"]
    return delivery_id


def send_now(client, services, sending, draft_id: int, list_id: int) -> int:
    delivery_id = batch_send(client, draft_id, list_id)
    run_here(sending, services.deliveries.get(delivery_id).job_id)
    return delivery_id


def mailed(sink: SmtpSink) -> list[str]:
    return sorted(address for message in sink.messages for address in message.recipients)


def view(services, delivery_id: int, **fields) -> dict:
    """The delivery object with its times as stored, and the fields the test states."""
    delivery = services.deliveries.get(delivery_id)
    return {
        "id": delivery_id,
        "mail_id": delivery.message_id,
        "mail_name": "Kevään uutiskirje",
        "subject": "Kevät",
        "type": "batch",
        "list_id": delivery.list_ids[0],
        "list_ids": delivery.list_ids,
        "created": helsinki(delivery.created_at),
        "scheduled": helsinki(delivery.scheduled_at),
        "started": helsinki(delivery.started_at),
        "finished": helsinki(delivery.finished_at),
        "failed": 0,
        "unknown": 0,
        "cancelled": 0,
        "hidden": False,
        "related_to": None,
        "archive": [],
        **fields,
    }


def test_a_batch_send_scheduled_for_later_is_listed_then_started_and_sent(
    client: LianaClient, services, sending, sink, clock, draft_id
) -> None:
    list_id, _ = new_list(client, "Uutiset", "aino@example.com")
    at = clock.at + timedelta(hours=1)
    # Helsinki time without an offset, as LianaMailer clients write times.
    delivery_id = batch_send(client, draft_id, list_id, scheduled=helsinki(at))
    scheduled = view(services, delivery_id, status="scheduled", members=0, delivered=0, pending=0)
    assert scheduled["scheduled"] == helsinki(at) and scheduled["started"] is None
    assert client.result("getScheduledDeliveries") == [scheduled]
    assert client.result("getDelivery", [delivery_id]) == [scheduled]
    assert client.result("getDelivery") == [scheduled]

    clock.at = at - timedelta(seconds=1)
    assert delivery_id not in recovery.sweep(sending, sending.job_queue).started
    clock.at = at
    assert delivery_id in recovery.sweep(sending, sending.job_queue).started
    run_here(sending, services.deliveries.get(delivery_id).job_id)
    assert mailed(sink) == ["aino@example.com"]
    done = view(services, delivery_id, status="done", members=1, delivered=1, pending=0)
    assert done["started"] == helsinki(at) and done["finished"] == helsinki(at)
    assert client.result("getDelivery", [delivery_id]) == [done]
    assert client.result("getScheduledDeliveries") == []


def test_a_scheduled_time_that_is_not_a_time_is_refused(client: LianaClient, draft_id) -> None:
    list_id, _ = new_list(client, "Uutiset")
    answer = client.call_v2(
        "deliveries/batch-send",
        {"letter": {"type": "draft", "id": draft_id}, "lists": [list_id], "scheduled": "huomenna"},
    )
    assert answer == {
        "succeed": False,
        "message": "scheduled 'huomenna' is not a time (e.g. 2019-12-20 14:00:00)",
        "code": "invalid",
    }


def test_cancel_delete_and_the_errors_of_a_finished_delivery(
    client: LianaClient, services, sending, sink, clock, draft_id
) -> None:
    list_id, _ = new_list(client, "Uutiset", "aino@example.com")
    later = batch_send(client, draft_id, list_id, scheduled=helsinki(clock.at + timedelta(days=1)))
    assert client.result("cancelDelivery", [later]) == 1
    assert client.result("cancelDelivery", [later]) == 1
    cancelled = services.deliveries.get(later)
    assert client.result("getDelivery", [later]) == [
        view(services, later, status="cancelled", members=0, delivered=0, pending=0)
    ]
    assert cancelled.finished_at is not None
    assert client.result("getScheduledDeliveries") == []

    sent = send_now(client, services, sending, draft_id, list_id)
    assert mailed(sink) == ["aino@example.com"]
    assert client.call("cancelDelivery", [sent]) == {
        "succeed": False,
        "message": f"delivery {sent} is done: only a scheduled, queued or sending delivery"
        " can be cancelled",
        "code": "conflict",
    }
    assert client.call("cancelRelatedDelivery", [sent])["code"] == "conflict"
    # What the seed says to try when cancelling fails.
    assert client.result("deleteDelivery", [sent]) == 1
    assert client.call("getDelivery", [sent]) == {
        "succeed": False,
        "message": f"delivery {sent} not found",
        "code": "not_found",
    }
    assert [d["id"] for d in client.result("getDelivery")] == [later]
    assert client.call("cancelDelivery", [999999999])["code"] == "not_found"


def test_a_reschedule_to_another_list_mails_that_list_and_relates_the_deliveries(
    client: LianaClient, services, sending, sink, clock, draft_id
) -> None:
    news, members = new_list(client, "Uutiset", "aino@example.com")
    offers, _ = new_list(client, "Tarjoukset", "eino@example.com")
    client.result("joinMailingList", [offers, [members["aino@example.com"]]])
    first = send_now(client, services, sending, draft_id, news)
    assert mailed(sink) == ["aino@example.com"]

    again = client.result("rescheduleDeliveryToMailingList", [first, offers])
    assert isinstance(again, int) and again != first
    run_here(sending, services.deliveries.get(again).job_id)
    # Aino had the message from the first delivery: only Eino gets it now.
    assert mailed(sink) == ["aino@example.com", "eino@example.com"]
    related = view(
        services,
        again,
        status="done",
        list_id=offers,
        members=1,
        delivered=1,
        pending=0,
        related_to=first,
    )
    assert client.result("getRelatedDeliveries", [first]) == [related]
    assert client.result("getRelatedDeliveries") == [related]
    assert client.result("getRelatedDeliveries", [again]) == []

    # A reschedule for later, to the original's lists; cancelled with its original.
    at = clock.at + timedelta(hours=3)
    later = client.result(
        "rescheduleDeliveryToMailingList", [first, None, {"scheduled": helsinki(at)}]
    )
    assert client.result("getScheduledDeliveries") == [
        view(
            services,
            later,
            status="scheduled",
            members=0,
            delivered=0,
            pending=0,
            related_to=first,
        )
    ]
    assert client.result("cancelRelatedDelivery", [first]) == 1
    assert services.deliveries.get(later).state == "cancelled"
    assert services.deliveries.get(first).state == "done"
    assert (
        client.call("rescheduleDeliveryToMailingList", [first, None, {"when": "now"}])["code"]
        == "invalid"
    )


def test_hidden_deliveries_and_their_feeds(client: LianaClient, services, clock, draft_id) -> None:
    list_id, _ = new_list(client, "Uutiset")
    delivery_id = batch_send(
        client, draft_id, list_id, scheduled=helsinki(clock.at + timedelta(days=2))
    )
    assert client.result("hideDelivery", [delivery_id]) == 1
    assert client.result("getDelivery", [delivery_id])[0]["hidden"] is True
    assert client.result("getSyndications", [delivery_id]) == []
    assert client.result("setArchivedState", [delivery_id, ["Uutiset", "Blogi"]]) == [
        "Uutiset",
        "Blogi",
    ]
    # The seed types the feeds "array of arrays": nested names count too; each feed once.
    assert client.result("setArchivedState", [delivery_id, [["Arkisto", "Blogi"]]]) == [
        "Uutiset",
        "Blogi",
        "Arkisto",
    ]
    assert client.result("getSyndications", [delivery_id]) == ["Uutiset", "Blogi", "Arkisto"]
    assert client.result("setSyndicatedState", [delivery_id, ["Blogi"], "Kevään tarjoukset"]) == [
        "Blogi"
    ]
    assert client.result("getDelivery", [delivery_id])[0]["archive"] == ["Blogi"]
    assert services.deliveries.get(delivery_id).overrides == {"ingress": "Kevään tarjoukset"}
    assert client.result("setSyndicatedState", [delivery_id]) == []
    assert client.call("getSyndications", [])["code"] == "invalid"
    assert client.call("setArchivedState", [delivery_id, [" "]])["code"] == "invalid"


def test_link_data_after_a_real_send_whose_pixel_and_link_are_followed(
    client: LianaClient, services, sending, sink, draft_id, account
) -> None:
    list_id, members = new_list(client, "Uutiset", "aino@example.com")
    delivery_id = send_now(client, services, sending, draft_id, list_id)
    (received,) = sink.messages
    html = email.message_from_bytes(received.content, policy=policy.default).get_body(("html",))
    links = [unescape(link) for link in re.findall(r'(?:href|src)="([^"]+)"', html.get_content())]
    clicks = [link for link in links if "/c/" in link]
    pixel = next(link for link in links if "/o/" in link)
    assert len(clicks) == 2
    with httpx.Client(headers={"User-Agent": AGENT}) as browser:
        followed = browser.get(clicks[1], follow_redirects=False)
        assert followed.headers["location"] == "https://shop.example/tarjous?id=7"
        assert browser.get(pixel).status_code == 200

    with services.scope.db.reading() as conn:
        link_ids = list(
            conn.execute(
                select(delivery_links.c.id)
                .where(delivery_links.c.delivery_id == delivery_id)
                .order_by(delivery_links.c.position)
            ).scalars()
        )
        at = dict(
            conn.execute(
                select(events.c.type, events.c.at).where(
                    events.c.account_id == account.account_id,
                    events.c.type.in_(["maillink", "mailopen"]),
                )
            ).all()
        )
    expected_links = [
        {
            "id": link_ids[0],
            "url": "https://shop.example/kevat",
            "delivery_id": delivery_id,
            "mail_id": draft_id,
            "clicks": 0,
            "clickers": 0,
        },
        {
            "id": link_ids[1],
            "url": "https://shop.example/tarjous?id=7",
            "delivery_id": delivery_id,
            "mail_id": draft_id,
            "clicks": 1,
            "clickers": 1,
        },
    ]
    assert client.result("getLinkData", [delivery_id]) == expected_links
    assert client.result("getMailLinkData", [draft_id]) == expected_links
    assert client.result("getAllLinks") == expected_links
    assert client.result("getLinks") == expected_links
    aino = members["aino@example.com"]
    click_row = ";".join(
        [
            str(link_ids[1]),
            helsinki(at["maillink"]),
            AGENT,
            *([""] * 15),  # acceptlanguage ... area_code: not kept
            str(aino),
            "aino@example.com",
        ]
    )
    assert client.result("getMailLinkTrackingData", [draft_id]) == (
        f"{LINK_TRACKING_HEADER}\n{click_row}"
    )
    tomorrow = helsinki(at["maillink"] + timedelta(days=1))
    assert client.result("getMailLinkTrackingData", [draft_id, tomorrow]) == LINK_TRACKING_HEADER
    assert client.result("getMailOpenTrackingData", [draft_id, "2019-12-20 14:00:00"]) == [
        {
            "delivery_id": delivery_id,
            "opened_at": helsinki(at["mailopen"]),
            "useragent": AGENT,
            "member_id": aino,
            "member_email": "aino@example.com",
        }
    ]
    assert client.result("getMailOpenTrackingData", [draft_id, tomorrow]) == []


def test_mail_names_tracking_state_and_the_account_reads(
    client: LianaClient, services, draft_id
) -> None:
    assert client.result("getMailName", [draft_id]) == "Kevään uutiskirje"
    assert client.result("getMailTrackingState", [draft_id]) == {"opens": True, "links": True}
    assert client.call("getMailName", [999999999])["message"] == "draft 999999999 not found"
    assert client.result("isSendingBlocked") is False
    assert client.result("getTellAFriendData") == [{}, [], []]
    assert client.call("getTellAFriendData", [999999999])["code"] == "not_found"
    assert client.call("getLinkData", [999999999])["message"] == "delivery 999999999 not found"
    assert client.call("getMailLinkData", [999999999])["code"] == "not_found"


def test_subscription_data_are_the_lists_people_joined_themselves(
    client: LianaClient, services, account
) -> None:
    list_id = client.result("createMailingList", ["Uutiset", ""])
    before = datetime.now(UTC)
    own = client.result(
        "createAndJoinRecipient",
        [None, "aino@example.com", None, {}, True, None, "lomake", [list_id], False],
    )
    client.result(
        "createAndJoinRecipient", [None, "eino@example.com", None, {}, True, None, None, [list_id]]
    )
    with services.scope.db.reading() as conn:
        joined_at = conn.execute(
            select(events.c.at).where(
                events.c.account_id == account.account_id,
                events.c.contact_id == own,
                events.c.type == "list-join",
            )
        ).scalar_one()
    assert client.result("getSubscriptionData", [helsinki(before - timedelta(seconds=1))]) == [
        {
            "member_id": own,
            "email": "aino@example.com",
            "list_id": list_id,
            "time": helsinki(joined_at),
            "origin": "lomake",
        }
    ]
    assert client.result("getSubscriptionData") == client.result(
        "getSubscriptionData", [helsinki(before - timedelta(seconds=1))]
    )
    assert client.result("getSubscriptionData", [helsinki(before + timedelta(hours=1))]) == []
