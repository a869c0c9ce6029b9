"""v1 getSentMailCount, getClickers, getRecipientHistory and getReceivedSMS over HTTP, read
from mail really sent.

Two newsletters go through the real pipeline (the delivery job into an aiosmtpd sink): the
spring one to the five members of one list (the sink refuses Ilmari), the summer one to the
one member of another. Then, over HTTP, recipients open the mail and click its links, one
hard bounce comes back, one recipient is deleted and one erased. Another account sends and
clicks too, to show nothing of it leaks.

The API server and the send job run on clocks the world moves by hand, so every time in the
answers is known (all within the signature window around the real time).
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy

import httpx
import pytest

from kirje.domain.deliveries import DeliveryKind, Letter
from kirje.domain.events import EventType
from kirje.domain.messages import MessageContent
from kirje.jobs.runner import run_here
from kirje.mail.bounce_intake import BounceOutcome, Bounces
from kirje.services.system import System
from kirje.store import events as event_store
from tests.api.test_liana_mailer_reports import at, tracking_links
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient
from tests.mail.smtp_sink import SmtpSink
from tests.mail.test_bounces import dsn

# Whole seconds, and every moment within the signature window around the real time.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=6)
T_SPRING_SENT = T0 + timedelta(minutes=1)
T_AINO_OPENS = T0 + timedelta(minutes=2)
T_AINO_CLICKS = T0 + timedelta(minutes=3)
T_EINO_CLICKS = T0 + timedelta(minutes=4)
T_SUMMER_SENT = T0 + timedelta(minutes=5)
T_AINO_CLICKS_SUMMER = T0 + timedelta(minutes=6)
T_BOUNCE = T0 + timedelta(minutes=7)
AGENT = "Kirje history test"
HTML = (
    "<html><body><p>Hei $firstname$!</p>"
    '<p><a href="https://shop.example/a">Kevään tarjoukset</a></p>'
    '<p><a href="https://shop.example/b">Kaikki tuotteet</a></p></body></html>'
)
SPRING_LIST = ("aino", "eino", "helmi", "ilmari", "kalle")
REFUSAL = "550 5.1.1 No such user"
RECEIVED_SMS = "source;msg;time;dest;keyword"
A, B = "https://shop.example/a", "https://shop.example/b"


class Clock:
    """A clock the world sets by hand."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@dataclass(frozen=True)
class World:
    client: LianaClient
    spring_list: int
    summer_list: int
    spring_draft: int
    summer_draft: int
    spring: int  # the spring newsletter, sent to five (one refused)
    summer: int  # the summer newsletter, sent to aino
    receipt: int  # a transactional mail to aino, not sent
    theirs: int  # another account's delivery, sent and clicked
    their_contact: int
    ids: dict[str, int]  # contact ids by first name
    links: dict[str, int]  # the spring newsletter's link ids by URL
    summer_link: int


api_clock = Clock(T0)
send_clock = Clock(T_SPRING_SENT)


@pytest.fixture(scope="module")
def sink(system: System):
    """One sink per backend: each backend's world finds only its own mail."""
    with SmtpSink() as running:
        yield running


@pytest.fixture(scope="module")
def api(settings, system) -> LiveServer:
    server = LiveServer(settings, clock=api_clock).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(settings, system: System, api: LiveServer, sink: SmtpSink) -> World:
    api_clock.moment = T0
    account = new_account(system)
    client = client_for(api, account)
    services = system.for_account(account.account_id)
    spring_list = client.result("createMailingList", ["Kevät", ""])
    summer_list = client.result("createMailingList", ["Kesä", ""])
    ids = {}
    for name in SPRING_LIST:
        joined = [None, f"{name}@example.com", None, {"firstname": name.title()}, True]
        ids[name] = client.result("createAndJoinRecipient", [*joined, None, None, [spring_list]])
    client.result("joinMailingList", [summer_list, [ids["aino"]]])
    spring_draft = services.messages.create(
        MessageContent(subject="Kevään uutiset", html=HTML, from_email="news@shop.example")
    ).id
    summer_draft = services.messages.create(
        MessageContent(subject="Luonnos", html=HTML, from_email="news@shop.example")
    ).id
    spring = batch_send(client, {"type": "draft", "id": spring_draft}, spring_list)
    receipt = client.call_v2(
        "deliveries/event-send",
        {
            "letter": {"type": "draft", "id": spring_draft, "subject": "Kuitti"},
            "recipients": [{"email": "aino@example.com"}],
        },
    )["result"]["delivery_id"]

    sink.answer("ilmari@example.com", REFUSAL)
    changes = {
        "smtp_url": sink.url(starttls="false"),
        "public_url": "https://mail.example",
        "send_attempts": 1,
    }
    sender = System.open(settings.model_copy(update=changes), clock=send_clock)
    try:
        send_clock.moment = T_SPRING_SENT
        run_here(sender, services.deliveries.get(spring).job_id)
        spring_mail_to = lambda name: (sink, f"{name}@example.com", "Kevään uutiset")  # noqa: E731
        opened_and_clicked(api, *spring_mail_to("aino"), opens=2, moment=T_AINO_OPENS)
        opened_and_clicked(api, *spring_mail_to("aino"), clicks=(A,), moment=T_AINO_CLICKS)
        opened_and_clicked(api, *spring_mail_to("eino"), clicks=(B,), moment=T_EINO_CLICKS)
        # Kalle opens and clicks too, and is erased afterwards.
        opened_and_clicked(api, *spring_mail_to("kalle"), opens=1, clicks=(A,))

        summer_letter = {"type": "draft", "id": summer_draft, "subject": "Kesän uutiset"}
        summer = batch_send(client, summer_letter, summer_list)
        send_clock.moment = T_SUMMER_SENT
        run_here(sender, services.deliveries.get(summer).job_id)
        summer_mail_to_aino = (sink, "aino@example.com", "Kesän uutiset")
        opened_and_clicked(api, *summer_mail_to_aino, clicks=(B,), moment=T_AINO_CLICKS_SUMMER)

        other_account = new_account(system)
        other = system.for_account(other_account.account_id)
        their_draft = other.messages.create(
            MessageContent(subject="Salainen", html=HTML, from_email="x@example.com")
        ).id
        their_list = other.lists.create("Heidän")
        their_contact = other.contacts.create(email="them@example.com", sms=None)
        other.lists.join(their_list, [their_contact])
        theirs = other.deliveries.send(
            DeliveryKind.BATCH, Letter(their_draft), list_ids=[their_list]
        ).id
        run_here(sender, other.deliveries.get(theirs).job_id)
        opened_and_clicked(api, sink, "them@example.com", "Salainen", opens=1, clicks=(A,))
    finally:
        sender.close()

    bounces = Bounces(system.db, clock=lambda: T_BOUNCE)
    assert bounces.take(dsn("helmi@example.com", spring, ids["helmi"])).outcome is (
        BounceOutcome.HARD
    )
    client.result("deleteRecipient", [ids["helmi"]])
    services.privacy.forget(ids["kalle"])
    spring_links = {link.url: link.id for link in services.delivery_reports.links(spring)}
    summer_links = {link.url: link.id for link in services.delivery_reports.links(summer)}
    return World(
        client=client,
        spring_list=spring_list,
        summer_list=summer_list,
        spring_draft=spring_draft,
        summer_draft=summer_draft,
        spring=spring,
        summer=summer,
        receipt=receipt,
        theirs=theirs,
        their_contact=their_contact,
        ids=ids,
        links=spring_links,
        summer_link=summer_links["https://shop.example/b"],
    )


def batch_send(client: LianaClient, letter: dict, list_id: int) -> int:
    sent = client.call_v2("deliveries/batch-send", {"letter": letter, "lists": [list_id]})
    (delivery_id,) = sent["result"]["deliveries"]
    return delivery_id


def opened_and_clicked(
    api: LiveServer,
    sink: SmtpSink,
    address: str,
    subject: str,
    *,
    opens: int = 0,
    clicks: tuple[str, ...] = (),
    moment: datetime | None = None,
) -> None:
    """Opens the mail with this subject to the address and follows its links to the URLs,
    over HTTP, the API clock at the moment when one is given."""
    if moment is not None:
        api_clock.moment = moment
    pixel, links = tracking_links(mail_of(sink, address, subject))
    with httpx.Client(base_url=api.url, headers={"User-Agent": AGENT}) as http:
        for _ in range(opens):
            assert http.get(pixel).status_code == 200
        for url in clicks:
            assert http.get(links[url]).status_code == 302


def mail_of(sink: SmtpSink, address: str, subject: str) -> email.message.EmailMessage:
    mails = [
        email.message_from_bytes(m.content, policy=policy.default)
        for m in sink.messages
        if address in m.recipients
    ]
    (found,) = [mail for mail in mails if mail["Subject"] == subject]
    return found


def failure(world: World, method: str, params: list) -> dict:
    envelope = world.client.call(method, params)
    assert envelope["succeed"] is False, envelope
    return envelope


# getSentMailCount


def sent(world: World, params=None) -> int:
    return world.client.result("getSentMailCount", [] if params is None else [params])


def test_the_sent_mail_count_counts_every_message_accepted(world: World) -> None:
    # Spring: aino, eino, helmi (hard-bounced later) and kalle; ilmari was refused. Summer:
    # aino. The receipt is not sent; the other account's mail is theirs.
    assert world.client.call("getSentMailCount", [{}]) == {"succeed": True, "result": 5}
    assert sent(world) == 5
    assert world.client.result("getSentMailCount", [None]) == 5
    assert world.client.result("getSentMailCount", [[]]) == 5


def test_the_sent_mail_count_of_a_delivery_or_a_list(world: World) -> None:
    assert sent(world, {"delivery_id": world.spring}) == 4
    assert sent(world, {"delivery_id": world.summer}) == 1
    assert sent(world, {"delivery_id": world.receipt}) == 0
    assert sent(world, {"list_id": world.spring_list}) == 4
    assert sent(world, {"list_id": world.summer_list}) == 1
    assert sent(world, {"list_id": world.summer_list, "delivery_id": world.spring}) == 0


def test_the_sent_mail_count_between_two_moments(world: World) -> None:
    assert sent(world, {"from": at(T_SPRING_SENT)}) == 5
    assert sent(world, {"from": at(T_SPRING_SENT + timedelta(seconds=1))}) == 1
    assert sent(world, {"from": at(T_SUMMER_SENT)}) == 1
    # `to` is exclusive.
    assert sent(world, {"to": at(T_SUMMER_SENT)}) == 4
    assert sent(world, {"to": at(T_SPRING_SENT)}) == 0
    assert sent(world, {"from": at(T_SPRING_SENT), "to": at(T_SUMMER_SENT)}) == 4
    # A time with an offset is taken as it is.
    utc = T_SUMMER_SENT.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert sent(world, {"from": utc, "list_id": world.spring_list}) == 0


def test_the_sent_mail_count_refuses_what_it_cannot_read(world: World) -> None:
    assert failure(world, "getSentMailCount", [{"colour": "red"}]) == {
        "succeed": False,
        "message": "params (keys: from, to, delivery_id, list_id): "
        "Object contains unknown field `colour`",
        "code": "invalid",
    }
    assert failure(world, "getSentMailCount", [{"from": "eilen"}])["message"] == (
        "from 'eilen' is not a time (e.g. 2019-12-20 14:00:00)"
    )
    theirs = world.theirs
    assert failure(world, "getSentMailCount", [{"delivery_id": theirs}]) == {
        "succeed": False,
        "message": f"delivery {theirs} not found",
        "code": "not_found",
    }
    assert failure(world, "getSentMailCount", [{"list_id": 999999999}])["message"] == (
        "mailing list 999999999 not found"
    )


# getClickers


def click(world: World, name: str, delivery_id: int, url: str, moment: datetime) -> dict:
    link_id = world.summer_link if delivery_id == world.summer else world.links[url]
    return {
        "member_id": world.ids[name],
        "member_email": f"{name}@example.com",
        "delivery_id": delivery_id,
        "link_id": link_id,
        "url": url,
        "clicked_at": at(moment),
        "useragent": AGENT,
    }


def test_clickers_since_a_moment_oldest_first(world: World) -> None:
    every = [
        click(world, "aino", world.spring, "https://shop.example/a", T_AINO_CLICKS),
        click(world, "eino", world.spring, "https://shop.example/b", T_EINO_CLICKS),
        click(world, "aino", world.summer, "https://shop.example/b", T_AINO_CLICKS_SUMMER),
    ]
    # Kalle's click is left out: he was erased. The other account's click is theirs.
    assert world.client.call("getClickers", [at(T0)]) == {
        "succeed": True,
        "result": {"total": 3, "offset": 0, "clickers": every},
    }
    assert world.client.result("getClickers", [at(T_EINO_CLICKS)]) == {
        "total": 2,
        "offset": 0,
        "clickers": every[1:],
    }
    assert world.client.result("getClickers", [at(T_EINO_CLICKS + timedelta(seconds=1))]) == {
        "total": 1,
        "offset": 0,
        "clickers": every[2:],
    }


def test_clickers_page_on_by_offset(world: World) -> None:
    page = world.client.result("getClickers", [at(T0), 2])
    assert page == {
        "total": 3,
        "offset": 2,
        "clickers": [
            click(world, "aino", world.summer, "https://shop.example/b", T_AINO_CLICKS_SUMMER)
        ],
    }
    assert world.client.result("getClickers", [at(T0), 3]) == {
        "total": 3,
        "offset": 3,
        "clickers": [],
    }


def test_clickers_refuse_a_missing_or_bad_start(world: World) -> None:
    assert failure(world, "getClickers", []) == {
        "succeed": False,
        "message": "parameter 1 (from) is required: a time like 2019-12-20 14:00:00",
        "code": "invalid",
    }
    assert failure(world, "getClickers", ["eilen"])["message"] == (
        "from 'eilen' is not a time (e.g. 2019-12-20 14:00:00)"
    )
    assert failure(world, "getClickers", [at(T0), -1])["message"] == ("offset must not be negative")


def test_clickers_come_a_thousand_at_a_time(system: System, api: LiveServer) -> None:
    account = new_account(system)
    services = system.for_account(account.account_id)
    contact = services.contacts.create(email="many@example.com", sms=None)
    draft = services.messages.create(
        MessageContent(subject="Monta", html=HTML, from_email="news@shop.example")
    ).id
    list_id = services.lists.create("Monta")
    services.lists.join(list_id, [contact])
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft), list_ids=[list_id]).id
    # 1001 clicks written as the tracking endpoint writes them, a second apart.
    with system.db.transaction() as conn:
        event_store.append_events(
            conn,
            [
                event_store.event_row(
                    account.account_id,
                    contact,
                    EventType.MAIL_LINK,
                    T0 + timedelta(seconds=second),
                    data={"delivery": delivery, "link": 0, "url": "https://shop.example/a"},
                    delivery_id=delivery,
                )
                for second in range(1001)
            ],
        )
    client = client_for(api, account)
    first = client.result("getClickers", [at(T0)])
    assert (first["total"], first["offset"], len(first["clickers"])) == (1001, 0, 1000)
    assert first["clickers"][0] == {
        "member_id": contact,
        "member_email": "many@example.com",
        "delivery_id": delivery,
        # The delivery was not sent, so its links were never recorded.
        "link_id": None,
        "url": "https://shop.example/a",
        "clicked_at": at(T0),
        "useragent": None,
    }
    rest = client.result("getClickers", [at(T0), 1000])
    assert (rest["total"], rest["offset"]) == (1001, 1000)
    assert [c["clicked_at"] for c in rest["clickers"]] == [at(T0 + timedelta(seconds=1000))]


# getRecipientHistory


def summer_mail(world: World) -> dict:
    return {
        "delivery_id": world.summer,
        "mail_id": world.summer_draft,
        "subject": "Kesän uutiset",
        "sent": at(T_SUMMER_SENT),
        "opened": None,
        "opens": 0,
        "clicks": 1,
        "bounced": False,
    }


def spring_mail(world: World, **changes) -> dict:
    return {
        "delivery_id": world.spring,
        "mail_id": world.spring_draft,
        "subject": "Kevään uutiset",
        "sent": at(T_SPRING_SENT),
        "opened": None,
        "opens": 0,
        "clicks": 0,
        "bounced": False,
        **changes,
    }


def test_a_recipients_history_newest_first(world: World) -> None:
    aino = world.ids["aino"]
    assert world.client.call("getRecipientHistory", [aino, 0]) == {
        "succeed": True,
        "result": [
            summer_mail(world),
            spring_mail(world, opened=at(T_AINO_OPENS), opens=2, clicks=1),
        ],
    }
    # The receipt to aino is not sent yet, so not in her history.
    assert world.client.result("getRecipientHistory", [aino]) == world.client.result(
        "getRecipientHistory", [aino, 0]
    )
    assert world.client.result("getRecipientHistory", [aino, 1]) == [summer_mail(world)]


def test_the_history_of_other_recipients(world: World) -> None:
    history = lambda name: world.client.result("getRecipientHistory", [world.ids[name]])  # noqa: E731
    assert history("eino") == [spring_mail(world, clicks=1)]
    # Helmi's mail was accepted and then bounced; she has been deleted since.
    assert history("helmi") == [spring_mail(world, bounced=True)]
    # The server refused ilmari's mail: he received nothing.
    assert history("ilmari") == []


def test_the_history_of_someone_not_ours_is_refused(world: World) -> None:
    for contact_id in (world.their_contact, world.ids["kalle"], 999999999):
        assert failure(world, "getRecipientHistory", [contact_id, 0]) == {
            "succeed": False,
            "message": f"recipient {contact_id} not found",
            "code": "not_found",
        }
    assert failure(world, "getRecipientHistory", [world.ids["aino"], -1])["message"] == (
        "parameter 2 (limit) must be 0 (all) or more"
    )
    assert "parameter 1 (id) is required" in failure(world, "getRecipientHistory", [])["message"]


# getReceivedSMS


def test_received_sms_is_the_header_alone(world: World) -> None:
    assert world.client.call("getReceivedSMS", []) == {"succeed": True, "result": RECEIVED_SMS}
