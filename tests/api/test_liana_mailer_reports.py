"""v1 Reports and Statistics over HTTP, read from a delivery really sent.

One newsletter goes through the real pipeline (the delivery job into an aiosmtpd sink) to six
members of a list; then, over HTTP, two of them open it and click its links, one uses its
one-click unsubscribe, one leaves the list on their own; bounces come back for two; one was
refused by the SMTP server and one banned before their turn. A hidden delivery, an unsent
transactional one and another account's delivery sit beside it. Every number, list and CSV
below is what those events make.

The API server runs on a fixed clock (T_API: creation, opens, clicks, unsubscribes), the
send job on another (T_SENT) and bounces on a third, so every time in the answers is known.
"""

from __future__ import annotations

import base64
import email
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from kirje.api.liana_mailer.views import HELSINKI, local_time
from kirje.domain.deliveries import DeliveryKind, DeliveryState, Letter
from kirje.domain.messages import MessageContent
from kirje.jobs.runner import run_here
from kirje.mail.bounce_intake import BounceOutcome, Bounces
from kirje.services.system import System
from kirje.store import deliveries as delivery_store
from kirje.store.schema import deliveries, delivery_links, delivery_recipients
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient
from tests.mail.smtp_sink import SmtpSink
from tests.mail.test_bounces import dsn, mailbox_full

T_API = datetime.now(UTC).replace(microsecond=0)
T_SENT = T_API + timedelta(minutes=1)
T_BOUNCE = T_API + timedelta(minutes=2)
AGENT = "Kirje report test"
HTML = (
    "<html><body><p>Hei $firstname$!</p>"
    '<p><a href="https://shop.example/a">Kevään tarjoukset</a></p>'
    '<p><a href="https://shop.example/b">Kaikki tuotteet</a></p></body></html>'
)
PEOPLE = ("aino", "eino", "helmi", "ilmari", "kalle", "lauri")
REFUSAL = "550 5.1.1 No such user"
HARD_BOUNCE = "bounce: 550 5.1.1 <helmi@example.com>: Recipient address rejected: User unknown"
FEED = "Uutiskirjeet"


@dataclass(frozen=True)
class World:
    account_id: int
    client: LianaClient
    list_id: int
    draft_id: int
    news: int  # the newsletter, sent
    hidden: int  # hidden from reports, not sent
    receipt: int  # a transactional mail, not sent
    welcome: int  # a welcome mail Kirje sent by itself
    theirs: int  # another account's delivery
    their_draft: int
    ids: dict[str, int]  # contact ids by first name
    links: dict[str, int]  # link ids by URL
    not_sent_reply: str  # the ledger's reply for the banned member
    received_text: str  # aino's text part as it arrived


def at(moment: datetime) -> str:
    return local_time(moment)


@pytest.fixture(scope="module")
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture(scope="module")
def api(settings, system) -> LiveServer:
    server = LiveServer(settings, clock=lambda: T_API).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(settings, system: System, api: LiveServer, sink: SmtpSink) -> World:
    account = new_account(system)
    client = client_for(api, account)
    services = system.for_account(account.account_id)
    list_id = client.result("createMailingList", ["Uutiset", ""])
    ids = {}
    for name in PEOPLE:
        values = {"firstname": name.title()}
        joined = [None, f"{name}@example.com", None, values, True, None, None, [list_id]]
        ids[name] = client.result("createAndJoinRecipient", joined)
    draft = services.messages.create(
        MessageContent(
            subject="Kevään uutiset",
            html=HTML,
            name="Kevät 2026",
            from_email="news@shop.example",
        )
    ).id
    sent = client.call_v2(
        "deliveries/batch-send", {"letter": {"type": "draft", "id": draft}, "lists": [list_id]}
    )
    (news,) = sent["result"]["deliveries"]
    hidden = client.call_v2(
        "deliveries/batch-send",
        {"letter": {"type": "draft", "id": draft}, "recipients": [{"email": "lauri@example.com"}]},
    )["result"]["deliveries"][0]
    receipt = client.call_v2(
        "deliveries/event-send",
        {
            "letter": {"type": "draft", "id": draft, "subject": "Kuitti"},
            "recipients": [{"email": "toni@example.com"}],
        },
    )["result"]["delivery_id"]

    # Kalle is banned before the job reaches him; the sink refuses Ilmari.
    services.privacy.ban(ids["kalle"])
    sink.answer("ilmari@example.com", REFUSAL)
    changes = {
        "smtp_url": sink.url(starttls="false"),
        "public_url": "https://mail.example",
        "send_attempts": 1,
    }
    sender = System.open(settings.model_copy(update=changes), clock=lambda: T_SENT)
    try:
        run_here(sender, services.deliveries.get(news).job_id)
    finally:
        sender.close()

    mails = {name: received(sink, f"{name}@example.com") for name in ("aino", "eino")}
    with httpx.Client(base_url=api.url, headers={"User-Agent": AGENT}) as http:
        for name, opens, clicked in (
            ("aino", 2, ["https://shop.example/a"] * 2 + ["https://shop.example/b"]),
            ("eino", 1, ["https://shop.example/b"]),
        ):
            pixel, clicks = tracking_links(mails[name])
            for _ in range(opens):
                assert http.get(pixel).status_code == 200
            for url in clicked:
                assert http.get(clicks[url]).status_code == 302
        unsubscribe = on_server(mails["aino"]["List-Unsubscribe"].strip("<>"))
        assert http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    # Lauri leaves the list on his own, through the API.
    client.call("leaveMailingList", [list_id, ids["lauri"], "no time", False])

    bounces = Bounces(system.db, clock=lambda: T_BOUNCE)
    hard = bounces.take(dsn("helmi@example.com", news, ids["helmi"]))
    soft = bounces.take(mailbox_full("eino@example.com", news, ids["eino"]))
    assert (hard.outcome, soft.outcome) == (BounceOutcome.HARD, BounceOutcome.SOFT)

    with system.db.transaction() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == hidden).values(hidden=True))
        conn.execute(update(deliveries).where(deliveries.c.id == news).values(archives=[FEED]))
        welcome = delivery_store.insert_delivery(
            conn,
            account_id=account.account_id,
            now=T_API,
            message_id=draft,
            kind=DeliveryKind.WELCOME,
            state=DeliveryState.DONE,
            overrides={"subject": "Tervetuloa"},
            list_ids=[],
        )
        links = dict(
            conn.execute(
                select(delivery_links.c.url, delivery_links.c.id).where(
                    delivery_links.c.delivery_id == news
                )
            ).all()
        )
        not_sent_reply = conn.execute(
            select(delivery_recipients.c.reply).where(
                delivery_recipients.c.delivery_id == news,
                delivery_recipients.c.contact_id == ids["kalle"],
            )
        ).scalar_one()

    other = system.for_account(new_account(system).account_id)
    their_draft = other.messages.create(
        MessageContent(subject="Salainen", html="<p>x</p>", from_email="x@example.com")
    ).id
    other_list = other.lists.create("Heidän")
    other.lists.join(other_list, [other.contacts.create(email="them@example.com", sms=None)])
    theirs = other.deliveries.send(
        DeliveryKind.BATCH, Letter(their_draft), list_ids=[other_list]
    ).id
    return World(
        account_id=account.account_id,
        client=client,
        list_id=list_id,
        draft_id=draft,
        news=news,
        hidden=hidden,
        receipt=receipt,
        welcome=welcome,
        theirs=theirs,
        their_draft=their_draft,
        ids=ids,
        links=links,
        not_sent_reply=not_sent_reply,
        received_text=mails["aino"].get_body(("plain",)).get_content(),
    )


def received(sink: SmtpSink, address: str) -> email.message.EmailMessage:
    (found,) = [m for m in sink.messages if address in m.recipients]
    return email.message_from_bytes(found.content, policy=policy.default)


def on_server(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def tracking_links(mail) -> tuple[str, dict[str, str]]:
    """The open pixel's path and each click link's path by the URL it leads to."""
    html = mail.get_body(("html",)).get_content()
    found = [unescape(link) for link in re.findall(r'(?:href|src)="([^"]+)"', html)]
    pixel = next(on_server(link) for link in found if "/o/" in link)
    clicks = {
        parse_qs(urlsplit(link).query)["u"][0]: on_server(link) for link in found if "/c/" in link
    }
    return pixel, clicks


def failure(world: World, method: str, params: list) -> str:
    envelope = world.client.call(method, params)
    assert envelope["succeed"] is False, envelope
    return envelope["message"]


# The report


def news_report(world: World) -> dict:
    return {
        "id": world.news,
        "mail_id": world.draft_id,
        "owner": world.account_id,
        "members": 6,
        "delivered": 3,  # aino, eino, lauri (helmi bounced hard, ilmari refused, kalle banned)
        "bounced": 2,  # helmi (hard), eino (soft)
        "created": at(T_API),
        "scheduled": at(T_API),
        "subject": "Kevään uutiset",
        "clicks": 4,
        "clickers": 2,
        "opens": 3,
        "openers": 2,
        "noopeners": 1,  # lauri
        "list_id": world.list_id,
        "list_name": "Uutiset",
        "list_deleted": False,
        "list_hidden": False,
        "archive": FEED,
        "rss": True,
        "html": 6,
        "plain": 0,
        "campaign": "Kevät 2026",
        "smscount": 0,
        "excluded": 1,  # kalle
        "unsubscribed": 2,  # aino by the link, lauri by leaving the list
        "direct_unsubscriptions": 1,
        "direct_subscriptions": 0,
        "done": True,
        "smsreceived": 0,
        "type": "batch",
        "user_id": None,
        "user_display_name": None,
        "tags": [],
    }


def receipt_report(world: World) -> dict:
    return {
        **news_report(world),
        "id": world.receipt,
        "members": 1,
        "delivered": 0,
        "bounced": 0,
        "subject": "Kuitti",
        "clicks": 0,
        "clickers": 0,
        "opens": 0,
        "openers": 0,
        "noopeners": 0,
        "list_id": None,
        "list_name": None,
        "list_deleted": None,
        "list_hidden": None,
        "archive": None,
        "rss": False,
        "html": 1,
        "excluded": 0,
        "unsubscribed": 0,
        "direct_unsubscriptions": 0,
        "done": False,
        "type": "event",
    }


def test_the_delivery_report_counts_what_happened(world: World) -> None:
    assert world.client.result("getDeliveryReport", [world.news]) == news_report(world)


def test_the_range_lists_reports_newest_first_without_hidden_ones(world: World) -> None:
    listed = world.client.result("getDeliveriesRange", [])
    # The welcome mail was made last but at the same moment: ties go by id, newest first.
    assert [report["id"] for report in listed] == [world.welcome, world.receipt, world.news]
    assert listed[1:] == [receipt_report(world), news_report(world)]
    assert world.hidden not in [report["id"] for report in listed]


def test_a_hidden_delivery_is_still_reported_by_its_id(world: World) -> None:
    report = world.client.result("getDeliveryReport", [world.hidden])
    assert (report["id"], report["members"], report["delivered"]) == (world.hidden, 1, 0)
    found = world.client.result("getDeliveries", [[world.hidden]])
    assert [r["id"] for r in found] == [world.hidden]


def test_the_seeds_range_sample_and_other_ranges(world: World) -> None:
    today = T_API.astimezone(HELSINKI).date().isoformat()
    tomorrow = (T_API.astimezone(HELSINKI).date() + timedelta(days=1)).isoformat()
    ids = lambda params: [r["id"] for r in world.client.result("getDeliveriesRange", params)]  # noqa: E731
    everything = [world.news, world.receipt, world.welcome]
    assert ids([today, 100, "created ASC"]) == everything
    assert ids([tomorrow, 100, "created ASC"]) == []
    assert ids(["2000-01-01", today, "id ASC"]) == everything
    assert ids(["2000-01-01", "2000-12-31", "id ASC"]) == []
    assert ids([at(T_API), at(T_API), "id"]) == everything
    assert ids([at(T_API + timedelta(seconds=1)), None, "id"]) == []
    assert ids([1, 1, "id ASC"]) == [world.receipt]
    assert ids(["1", "2", "id ASC"]) == [world.receipt, world.welcome]
    assert ids([0, 0, "id DESC"]) == everything[::-1]
    assert ids([None, None, "members DESC"])[0] == world.news
    assert ids([None, None, "bounced desc"])[0] == world.news
    assert ids([None, None, "subject"]) == [world.news, world.receipt, world.welcome]
    assert ids([None, None, "list_id ASC"])[0] == world.news
    assert ids([None, None, "list_id DESC"])[0] == world.news
    assert ids([None, None, "campaign"]) == everything
    assert ids([None, None, "scheduled DESC"]) == everything[::-1]
    assert "sort 'colour'" in failure(world, "getDeliveriesRange", [0, 10, "colour"])
    assert "ASC or DESC" in failure(world, "getDeliveriesRange", [0, 10, "id UP"])
    assert "neither a date" in failure(world, "getDeliveriesRange", ["eilen", 10])
    assert "1-1000" in failure(world, "getDeliveriesRange", [0, 1001])


def test_the_range_as_csv(world: World) -> None:
    body = world.client.result("getDeliveriesRangeCSV", [0, 2, "id ASC"])
    header = (
        '"id";"mail_id";"owner";"members";"delivered";"bounced";"created";"scheduled";"subject";'
        '"clicks";"clickers";"opens";"openers";"noopeners";"list_id";"list_name";"list_deleted";'
        '"list_hidden";"archive";"rss";"html";"plain";"campaign";"smscount";"excluded";'
        '"unsubscribed";"direct_unsubscriptions";"direct_subscriptions";"done";"smsreceived";'
        '"type";"user_id";"user_display_name";"tags";'
    )
    news = (
        f'"{world.news}";"{world.draft_id}";"{world.account_id}";"6";"3";"2";"{at(T_API)}";'
        f'"{at(T_API)}";"Kevään uutiset";"4";"2";"3";"2";"1";"{world.list_id}";"Uutiset";"0";'
        f'"0";"{FEED}";"1";"6";"0";"Kevät 2026";"0";"1";"2";"1";"0";"1";"0";"batch";"";"";"";'
    )
    receipt = (
        f'"{world.receipt}";"{world.draft_id}";"{world.account_id}";"1";"0";"0";"{at(T_API)}";'
        f'"{at(T_API)}";"Kuitti";"0";"0";"0";"0";"0";"";"";"";"";"";"0";"1";"0";"Kevät 2026";'
        '"0";"0";"0";"0";"0";"0";"0";"event";"";"";"";'
    )
    assert body == "\n".join([header, news, receipt])
    assert world.client.result("getDeliveriesRangeCSV", ["2000-01-01", "2000-01-02"]) == header


def test_deliveries_by_id_in_the_order_asked(world: World) -> None:
    found = world.client.result("getDeliveries", [[world.receipt, world.news]])
    assert found == [receipt_report(world), news_report(world)]
    assert "required" in failure(world, "getDeliveries", [])


def test_statuses(world: World) -> None:
    assert world.client.result("getDeliveryStatuses", [[world.news, world.receipt]]) == [
        {
            "id": world.news,
            "status": "done",
            "members": 6,
            "delivered": 3,
            "failed": 2,
            "excluded": 1,
            "waiting": 0,
            "started": at(T_SENT),
            "finished": at(T_SENT),
        },
        {
            "id": world.receipt,
            "status": "queued",
            "members": 1,
            "delivered": 0,
            "failed": 0,
            "excluded": 0,
            "waiting": 1,
            "started": None,
            "finished": None,
        },
    ]


def test_archived_and_automatic_deliveries(world: World) -> None:
    archived = world.client.result("getArchivedDeliveries", [FEED, 100, 0])
    assert archived == [news_report(world)]
    assert world.client.result("getArchivedDeliveries", [FEED, 100]) == archived
    assert world.client.result("getArchivedDeliveries", ["Muu", 100, 2]) == []
    automatic = world.client.result("getAutomationDeliveries")
    assert [(r["id"], r["type"], r["subject"]) for r in automatic] == [
        (world.welcome, "welcome", "Tervetuloa")
    ]


def test_another_accounts_delivery_is_refused(world: World) -> None:
    theirs = world.theirs
    assert failure(world, "getDeliveryReport", [theirs]) == f"delivery {theirs} not found"
    assert failure(world, "getDeliveries", [[world.news, theirs]]) == (
        f"delivery {theirs} not found"
    )
    assert failure(world, "getDeliveryStatuses", [[theirs]]) == f"delivery {theirs} not found"
    for method in (
        "getDeliveryMembersConditionally",
        "getDeliveryMembersConditionallyCSV",
        "getDeliveryMembersConditionallyWithTime",
    ):
        for condition in ("openers", "delivered", "tafsent"):
            message = failure(world, method, [theirs, condition])
            assert message == f"delivery {theirs} not found", (method, condition)
    assert failure(world, "getOpeningTrackInfo", [theirs]) == f"delivery {theirs} not found"
    assert failure(world, "getDeliverySize", [theirs]) == f"delivery {theirs} not found"
    their_draft = world.their_draft
    assert failure(world, "getMailTemplate", [their_draft]) == f"draft {their_draft} not found"


# Members by condition


def members(world: World, condition: str, extra=None) -> list[tuple[str, object]]:
    found = world.client.result(
        "getDeliveryMembersConditionally", [world.news, condition, {}, extra]
    )
    return [(member["email"].split("@")[0], member["extra"]) for member in found]


def test_every_condition_lists_its_members(world: World) -> None:
    refused = REFUSAL
    assert members(world, "openers") == [("aino", 2), ("eino", 1)]
    assert members(world, "noopeners") == [("lauri", "")]
    assert members(world, "clickers") == [("aino", 3), ("eino", 1)]
    assert members(world, "bounced") == [("eino", "soft"), ("helmi", "hard")]
    assert members(world, "unsubscribed") == [("aino", ""), ("lauri", "")]
    assert members(world, "direct_unsubscriptions") == [("aino", "")]
    assert members(world, "delivered") == [("aino", ""), ("eino", ""), ("lauri", "")]
    assert members(world, "success") == [("aino", ""), ("lauri", "")]
    assert members(world, "bad") == [("helmi", HARD_BOUNCE), ("ilmari", refused)]
    assert members(world, "excluded") == [("kalle", world.not_sent_reply)]
    assert members(world, "undelivered") == [
        ("helmi", HARD_BOUNCE),
        ("ilmari", refused),
        ("kalle", world.not_sent_reply),
    ]
    for nothing in ("smsreceived", "direct_subscriptions", "tafclickers", "tafsent"):
        assert members(world, nothing) == []
    for nothing in ("tafsubscriptions", "taflinkclickers"):
        assert members(world, nothing) == []


def test_a_member_object(world: World) -> None:
    (aino, _) = world.client.result(
        "getDeliveryMembersConditionally", [world.news, "openers", {"email": "Osoite"}]
    )
    assert aino == {
        "id": world.ids["aino"],
        "email": "aino@example.com",
        "sms": None,
        "format": "html",
        "extra": 2,
        # Every property of the account (firstname and lastname come with it).
        "properties": {"firstname": "Aino", "lastname": None},
    }


def test_clickers_of_one_link(world: World) -> None:
    first, second = world.links["https://shop.example/a"], world.links["https://shop.example/b"]
    assert members(world, "clickers", first) == [("aino", 2)]
    assert members(world, "clickers", str(second)) == [("aino", 1), ("eino", 1)]
    assert members(world, "clickers", f"{first},{second}") == [("aino", 3), ("eino", 1)]
    assert failure(
        world, "getDeliveryMembersConditionally", [world.news, "clickers", {}, 999999]
    ) == (f"not links of delivery {world.news}: 999999")
    assert "link ids" in failure(
        world, "getDeliveryMembersConditionally", [world.news, "clickers", {}, "a,b"]
    )


def test_unknown_or_missing_conditions_are_refused(world: World) -> None:
    assert "required" in failure(world, "getDeliveryMembersConditionally", [world.news])
    assert "unknown 'readers'" in failure(
        world, "getDeliveryMembersConditionallyCSV", [world.news, "readers"]
    )


def test_members_as_csv(world: World) -> None:
    body = world.client.result("getDeliveryMembersConditionallyCSV", [world.news, "clickers"])
    assert body == (
        '"email";"sms";"format";"extra";"firstname";"lastname"\n'
        '"aino@example.com";"";"html";"3";"Aino";""\n'
        '"eino@example.com";"";"html";"1";"Eino";""'
    )
    translated = world.client.result(
        "getDeliveryMembersConditionallyCSV",
        [world.news, "bad", {"email": "Sähköposti", "extra": "Syy", "firstname": "Etunimi"}],
    )
    assert translated == (
        '"Sähköposti";"sms";"format";"Syy";"Etunimi";"lastname"\n'
        f'"helmi@example.com";"";"html";"{HARD_BOUNCE}";"Helmi";""\n'
        f'"ilmari@example.com";"";"html";"{REFUSAL}";"Ilmari";""'
    )
    empty = world.client.result("getDeliveryMembersConditionallyCSV", [world.news, "tafsent"])
    assert empty == '"email";"sms";"format";"extra";"firstname";"lastname"'


def test_members_with_time(world: World) -> None:
    first, second = world.links["https://shop.example/a"], world.links["https://shop.example/b"]
    header = '"email";"sms";"date";"format";"extra1";"extra2"'

    def timed(condition: str, extra=None) -> str:
        return world.client.result(
            "getDeliveryMembersConditionallyWithTime", [world.news, condition, extra]
        )

    clicked = at(T_API)
    assert timed("clickers", f"{first},{second}") == "\n".join(
        [
            header,
            f'"aino@example.com";"";"{clicked}";"html";"{first}";"https://shop.example/a"',
            f'"aino@example.com";"";"{clicked}";"html";"{second}";"https://shop.example/b"',
            f'"eino@example.com";"";"{clicked}";"html";"{second}";"https://shop.example/b"',
        ]
    )
    assert timed("clickers", str(second)) == "\n".join(
        [
            header,
            f'"aino@example.com";"";"{clicked}";"html";"{second}";"https://shop.example/b"',
            f'"eino@example.com";"";"{clicked}";"html";"{second}";"https://shop.example/b"',
        ]
    )
    assert timed("openers") == "\n".join(
        [
            header,
            f'"aino@example.com";"";"{at(T_API)}";"html";"2";""',
            f'"eino@example.com";"";"{at(T_API)}";"html";"1";""',
        ]
    )
    assert timed("bounced") == "\n".join(
        [
            header,
            f'"eino@example.com";"";"{at(T_BOUNCE)}";"html";"soft";""',
            f'"helmi@example.com";"";"{at(T_BOUNCE)}";"html";"hard";"{HARD_BOUNCE}"',
        ]
    )
    assert timed("delivered") == "\n".join(
        [header]
        + [f'"{name}@example.com";"";"{at(T_SENT)}";"html";"sent";""' for name in ("aino", "eino")]
        + [f'"lauri@example.com";"";"{at(T_SENT)}";"html";"sent";""']
    )
    assert timed("bad") == "\n".join(
        [
            header,
            f'"helmi@example.com";"";"{at(T_SENT)}";"html";"failed";"{HARD_BOUNCE}"',
            f'"ilmari@example.com";"";"";"html";"failed";"{REFUSAL}"',
        ]
    )
    assert timed("unsubscribed") == "\n".join(
        [
            header,
            f'"aino@example.com";"";"{at(T_API)}";"html";"";""',
            f'"lauri@example.com";"";"{at(T_API)}";"html";"";""',
        ]
    )
    assert timed("smsreceived") == header


# Links and opens


def test_tracking_link_info(world: World) -> None:
    first = world.links["https://shop.example/a"]
    clicks = world.client.result("getTrackingLinkInfo", [first, 0])
    click = {
        "link_id": first,
        "member_id": world.ids["aino"],
        "member_email": "aino@example.com",
        "clicked_at": at(T_API),
        "useragent": AGENT,
    }
    assert clicks == [click, click]
    assert world.client.result("getTrackingLinkInfo", [first]) == clicks
    second = world.links["https://shop.example/b"]
    assert world.client.result("getTrackingLinkInfo", [second, 1]) == [
        {
            "link_id": second,
            "delivery_id": world.news,
            "url": "https://shop.example/b",
            "clicks": 2,
            "clickers": 2,
        }
    ]
    assert failure(world, "getTrackingLinkInfo", [999999]) == "link 999999 not found"


def test_opening_track_info(world: World) -> None:
    assert world.client.result("getOpeningTrackInfo", [world.news]) == [
        {
            "member_id": world.ids["aino"],
            "member_email": "aino@example.com",
            "opens": 2,
            "first_opened": at(T_API),
            "last_opened": at(T_API),
        },
        {
            "member_id": world.ids["eino"],
            "member_email": "eino@example.com",
            "opens": 1,
            "first_opened": at(T_API),
            "last_opened": at(T_API),
        },
    ]
    assert world.client.result("getOpeningTrackInfo", [world.news, 0]) == [
        {
            "member_id": world.ids["lauri"],
            "member_email": "lauri@example.com",
            "opens": 0,
            "first_opened": None,
            "last_opened": None,
        }
    ]


# Messages


def test_the_mail_template_is_the_draft(world: World) -> None:
    template = world.client.result("getMailTemplate", [world.draft_id, False])
    assert (template["id"], template["name"]) == (world.draft_id, "Kevät 2026")
    assert (template["subject"], template["html"]) == ("Kevään uutiset", HTML)
    assert (template["from_email"], template["reply_to"]) == ("news@shop.example", None)
    # The text part the send job made from the HTML, its placeholder still in place.
    assert "$firstname$" in template["plain"]
    assert template["plain"].replace("$firstname$", "Aino") == world.received_text.replace(
        "\r\n", "\n"
    ).rstrip("\n")
    encoded = world.client.result("getMailTemplate", [world.draft_id, True])
    for part in ("subject", "html", "plain"):
        assert base64.b64decode(encoded[part]).decode() == template[part]


def test_the_delivery_size_is_the_message_before_tracking(world: World, sink: SmtpSink) -> None:
    size = world.client.result("getDeliverySize", [world.news, 1])
    assert world.client.result("getDeliverySize", [world.news]) == size
    # What arrived carries the tracking links, List-Unsubscribe and a longer address on top.
    (lauri,) = [m for m in sink.messages if "lauri@example.com" in m.recipients]
    assert isinstance(size, int)
    assert len(lauri.content) - 1500 < size < len(lauri.content)


# Statistics


def test_statistics(world: World) -> None:
    assert world.client.result("getStatistics") == {
        # The six members and the transactional mail's recipient.
        "recipients": 7,
        "lists": 1,
        "deliveries": 4,
        "sent": 4,  # ilmari was refused, kalle never tried
        "opens": 3,
        "clicks": 4,
        "bounces": 2,
        "unsubscribes": 1,
    }


def test_deliverability_ratings(world: World) -> None:
    ratings = world.client.result("getDeliverabilityRatings", [3, 0])
    assert ratings == [
        {
            "delivery_id": world.welcome,
            "subject": "Tervetuloa",
            "created": at(T_API),
            "sent": 0,
            "bounce_rate": 0.0,
            "complaint_rate": 0.0,
            "unsubscribe_rate": 0.0,
            "rating": None,
        },
        {
            "delivery_id": world.receipt,
            "subject": "Kuitti",
            "created": at(T_API),
            "sent": 0,
            "bounce_rate": 0.0,
            "complaint_rate": 0.0,
            "unsubscribe_rate": 0.0,
            "rating": None,
        },
        {
            "delivery_id": world.news,
            "subject": "Kevään uutiset",
            "created": at(T_API),
            # Handed over for good: 3 delivered, helmi bounced hard, ilmari refused.
            "sent": 5,
            # helmi, ilmari and eino's soft bounce: 3 of 5, far past 10 %: the whole 40.
            "bounce_rate": 0.6,
            "complaint_rate": 0.0,
            # aino: 1 of 5, past 2 %: the whole 20.
            "unsubscribe_rate": 0.2,
            "rating": 40,
        },
    ]
    assert world.client.result("getDeliverabilityRatings") == ratings[:1]
    assert world.client.result("getDeliverabilityRatings", [1, 2]) == ratings[2:]
    assert "1-100" in failure(world, "getDeliverabilityRatings", [101])
