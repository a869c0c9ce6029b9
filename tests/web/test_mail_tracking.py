"""The signed links in mail: the open pixel, tracked clicks and the one-click unsubscribe.

Deliveries are made through the real services so that their ledger rows exist; the links are
built as the send path builds them (System.tracking_links, through `render`) and followed
against the real server.
"""

from __future__ import annotations

import asyncio
import json
import re
from html import unescape
from urllib.parse import quote, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from kirje.domain.deliveries import Delivery, DeliveryKind, GivenRecipient, Letter
from kirje.domain.messages import MessageContent
from kirje.domain.tracking_links import Purpose, TrackingLinks, TrackingTokens, tracking_key
from kirje.mail.rendering import MessageTemplate, recipient_values, render
from kirje.services.system import System
from kirje.store.schema import delivery_recipients, events, list_members
from kirje.web.mail_tracking import PIXEL
from tests.conftest import LiveServer, new_account

HTML = (
    "<html><body><p>Hei $firstname$!</p>"
    '<p><a href="https://shop.example/kevät?tuote=7&amp;ref=uutiskirje+1#osta">Osta</a></p>'
    '<p><a href="$link$">Oma sivusi</a></p></body></html>'
)
TRACKED = ("mailopen", "maillink", "unsubscribed", "list-quit")
AGENT = "Mozilla/5.0 (Kirje test)"


@pytest.fixture
def http(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url, headers={"User-Agent": AGENT}) as client:
        yield client


@pytest.fixture
def links(system: System) -> TrackingLinks:
    return system.tracking_links


class Newsletter:
    """A delivery to two lists, one of its members, and a list the delivery does not go to."""

    def __init__(self, services) -> None:
        self.services = services
        self.news = services.lists.create("Uutiset")
        self.offers = services.lists.create("Tarjoukset")
        self.other = services.lists.create("Muut")
        self.aino = services.contacts.create(email="aino@example.com", sms=None)
        self.eino = services.contacts.create(email="eino@example.com", sms=None)
        services.lists.join(self.news, [self.aino, self.eino])
        services.lists.join(self.offers, [self.aino])
        services.lists.join(self.other, [self.aino])
        content = MessageContent(subject="Kevät", html=HTML, from_email="news@example.com")
        self.draft = services.messages.create(content).id
        self.delivery = self.send()

    def send(self) -> Delivery:
        return self.services.deliveries.send(
            DeliveryKind.BATCH, Letter(self.draft), list_ids=[self.news, self.offers]
        )

    @property
    def account_id(self) -> int:
        return self.services.account_id


@pytest.fixture
def letter(services) -> Newsletter:
    return Newsletter(services)


def on_server(url: str) -> str:
    """The path and query of a link built for the public URL, to send to the test server."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def tracked_events(system: System, account_id: int) -> list[tuple[int, str, int | None, dict]]:
    """(contact, type, list, data) of the account's tracking events, in order."""
    with system.db.reading() as conn:
        rows = conn.execute(
            select(events.c.contact_id, events.c.type, events.c.list_id, events.c.data)
            .where(events.c.account_id == account_id, events.c.type.in_(TRACKED))
            .order_by(events.c.id)
        )
        return [(row.contact_id, row.type, row.list_id, row.data) for row in rows]


def statuses(system: System, account_id: int, contact_id: int) -> dict[int, str]:
    with system.db.reading() as conn:
        rows = conn.execute(
            select(list_members.c.list_id, list_members.c.status).where(
                list_members.c.account_id == account_id, list_members.c.contact_id == contact_id
            )
        )
        return dict(rows.all())


def ledger_contacts(system: System, delivery_id: int) -> set[int]:
    with system.db.reading() as conn:
        rows = conn.execute(
            select(delivery_recipients.c.contact_id).where(
                delivery_recipients.c.delivery_id == delivery_id
            )
        )
        return set(rows.scalars())


def rendered_for(links: TrackingLinks, letter: Newsletter, contact_id: int, link: str) -> str:
    """The HTML of the letter for one recipient, its links rewritten as the send path does."""
    account, delivery = letter.account_id, letter.delivery.id
    template = MessageTemplate.compile("Kevät", HTML)
    values = recipient_values("aino@example.com", None, {"firstname": "Aino", "link": link})
    return render(
        template,
        values,
        raw_names=frozenset(),
        link_rewriter=lambda index, url: links.click(account, delivery, contact_id, index, url),
        open_pixel_url=links.open_pixel(account, delivery, contact_id),
    ).html


# Opens and clicks


def test_the_pixel_answers_a_gif_and_records_an_open(http, system, links, letter) -> None:
    html = rendered_for(links, letter, letter.aino, "https://example.com/")
    pixel = unescape(re.search(r'<img src="([^"]+)"', html)[1])
    assert pixel == links.open_pixel(letter.account_id, letter.delivery.id, letter.aino)
    response = http.get(on_server(pixel))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == PIXEL and len(response.content) == 43
    assert "no-store" in response.headers["cache-control"]
    opened = {"delivery": letter.delivery.id, "user_agent": AGENT}
    assert tracked_events(system, letter.account_id) == [(letter.aino, "mailopen", None, opened)]


def test_every_open_is_kept(http, system, links, letter) -> None:
    pixel = on_server(links.open_pixel(letter.account_id, letter.delivery.id, letter.eino))
    for agent in ("GoogleImageProxy", AGENT):
        assert http.get(pixel, headers={"User-Agent": agent}).status_code == 200
    assert [data["user_agent"] for _, _, _, data in tracked_events(system, letter.account_id)] == [
        "GoogleImageProxy",
        AGENT,
    ]


def test_no_acknowledged_hit_is_lost_when_many_arrive_together(
    live_server, system, links, letter
) -> None:
    pixel = on_server(links.open_pixel(letter.account_id, letter.delivery.id, letter.aino))

    async def open_many() -> list[int]:
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            answers = await asyncio.gather(*(client.get(pixel) for _ in range(60)))
        return [answer.status_code for answer in answers]

    assert asyncio.run(open_many()) == [200] * 60
    assert len(tracked_events(system, letter.account_id)) == 60


def test_each_link_redirects_to_its_url_and_records_the_click(http, system, links, letter) -> None:
    own_page = "https://example.com/sivu?id=aino&x=a+b%2Fc"
    html = rendered_for(links, letter, letter.aino, own_page)
    hrefs = [unescape(href) for href in re.findall(r'<a href="([^"]+)"', html)]
    assert len(hrefs) == 2
    product = "https://shop.example/kevät?tuote=7&ref=uutiskirje+1#osta"
    for href in hrefs:
        response = http.get(on_server(href))
        assert response.status_code == 302
        assert "no-store" in response.headers["cache-control"]
    # Header values are ASCII: the product URL's "ä" is sent percent-encoded.
    locations = [http.get(on_server(href)).headers["location"] for href in hrefs]
    assert locations == [product.replace("ä", "%C3%A4"), own_page]
    clicks = [
        (contact, data["link"], data["url"])
        for contact, kind, _, data in tracked_events(system, letter.account_id)
        if kind == "maillink"
    ]
    assert clicks == [(letter.aino, 0, product), (letter.aino, 1, own_page)] * 2
    assert MessageTemplate.compile("Kevät", HTML).links[0] == product


def test_opens_clicks_and_unsubscribes_reach_the_automation_trigger_point(
    live_server, http, links, letter
) -> None:
    arrived = []

    def hook(account_id, events_) -> None:
        arrived.extend((account_id, e.contact_id, e.verb, e.items.get("delivery")) for e in events_)

    triggers = live_server.app.state.system.triggers
    triggers.register(hook)
    try:
        account, delivery = letter.account_id, letter.delivery.id
        assert http.get(on_server(links.open_pixel(account, delivery, letter.aino))).is_success
        click = links.click(account, delivery, letter.aino, 0, "https://shop.example/")
        assert http.get(on_server(click)).status_code == 302
        unsubscribe = on_server(links.unsubscribe(account, delivery, letter.eino))
        assert http.post(unsubscribe).status_code == 200
    finally:
        triggers.unregister(hook)
    assert arrived == [
        (account, letter.aino, "mailopen", delivery),
        (account, letter.aino, "maillink", delivery),
        (account, letter.eino, "unsubscribed", delivery),
    ]


def test_a_tampered_link_gets_404_and_records_nothing(http, system, links, letter) -> None:
    account, delivery, aino = letter.account_id, letter.delivery.id, letter.aino
    click = on_server(links.click(account, delivery, aino, 0, "https://shop.example/"))
    click_token = click.split("/")[2].split("?")[0]
    open_token = on_server(links.open_pixel(account, delivery, aino)).split("/")[2][:-4]
    stranger = TrackingLinks("http://x", tracking_key(b"not the server key"))
    refused = [
        # another URL under a genuine token: never an open redirect
        f"/c/{click_token}?u={quote('https://evil.example/', safe='')}",
        f"/c/{click_token}",
        click.replace("shop.example", "shop.example.evil"),
        # a changed token
        f"/c/{_flipped(click_token)}?u=https%3A%2F%2Fshop.example%2F",
        f"/o/{_flipped(open_token)}.gif",
        # a token made for another purpose
        f"/c/{open_token}?u=https%3A%2F%2Fshop.example%2F",
        f"/u/{open_token}",
        f"/o/{click_token}.gif",
        # a token signed with another key, and no token at all
        on_server(stranger.open_pixel(account, delivery, aino)),
        on_server(stranger.unsubscribe(account, delivery, aino)),
        "/o/.gif",
        "/o/%00%00.gif",
        "/u/" + "A" * 500,
    ]
    for path in refused:
        response = http.get(path)
        assert (response.status_code, response.text) == (404, "Not found\n"), path
    unsubscribe = on_server(stranger.unsubscribe(account, delivery, aino))
    assert http.post(unsubscribe).status_code == 404
    assert tracked_events(system, account) == []
    assert statuses(system, account, aino)[letter.news] == "active"


def test_only_http_links_are_followed(http, system, links, letter) -> None:
    signed = links.click(letter.account_id, letter.delivery.id, letter.aino, 0, "javascript:x")
    assert http.get(on_server(signed)).status_code == 404
    assert tracked_events(system, letter.account_id) == []


# Unsubscribing


def test_the_unsubscribe_page_offers_a_button_and_changes_nothing(
    http, system, links, letter
) -> None:
    page = http.get(
        on_server(links.unsubscribe(letter.account_id, letter.delivery.id, letter.aino))
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Uutiset" in page.text and "Tarjoukset" in page.text and "Muut" not in page.text
    assert '<form method="post">' in page.text
    assert "List-Unsubscribe" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert statuses(system, letter.account_id, letter.aino) == {
        letter.news: "active",
        letter.offers: "active",
        letter.other: "active",
    }
    assert tracked_events(system, letter.account_id) == []


def test_one_click_unsubscribe_is_honoured_by_the_next_delivery(
    http, system, links, letter
) -> None:
    url = on_server(links.unsubscribe(letter.account_id, letter.delivery.id, letter.aino))
    one_click = {"List-Unsubscribe": "One-Click"}
    response = http.post(url, data=one_click)
    assert response.status_code == 200
    assert statuses(system, letter.account_id, letter.aino) == {
        letter.news: "unsubscribed",
        letter.offers: "unsubscribed",
        letter.other: "active",
    }
    delivery = letter.delivery.id
    left = {"delivery": delivery, "lists": sorted([letter.news, letter.offers])}
    assert sorted(tracked_events(system, letter.account_id), key=repr) == sorted(
        [
            (
                letter.aino,
                "list-quit",
                letter.news,
                {"admin": False, "origin": f"delivery:{delivery}"},
            ),
            (
                letter.aino,
                "list-quit",
                letter.offers,
                {"admin": False, "origin": f"delivery:{delivery}"},
            ),
            (letter.aino, "unsubscribed", None, left),
        ],
        key=repr,
    )
    # Twice is harmless: nothing changes, nothing more is recorded.
    assert http.post(url, data=one_click).status_code == 200
    assert http.post(url).status_code == 200
    assert len(tracked_events(system, letter.account_id)) == 3
    following = letter.send()
    assert ledger_contacts(system, following.id) == {letter.eino}


def test_a_delivery_without_lists_records_the_unsubscribe_only(
    http, system, links, services
) -> None:
    draft = services.messages.create(
        MessageContent(subject="Kuitti", html="<p>Kiitos</p>", from_email="shop@example.com")
    ).id
    receipt = services.deliveries.send(
        DeliveryKind.EVENT, Letter(draft), recipients=[GivenRecipient("toni@example.com")]
    )
    toni = services.contacts.get_by_email("toni@example.com").contact.id
    news = services.lists.create("Uutiset")
    services.lists.join(news, [toni])
    url = on_server(links.unsubscribe(services.account_id, receipt.id, toni))
    page = http.get(url)
    assert page.status_code == 200 and "Uutiset" not in page.text
    for _ in range(2):
        assert http.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert statuses(system, services.account_id, toni) == {news: "active"}
    assert tracked_events(system, services.account_id) == [
        (toni, "unsubscribed", None, {"delivery": receipt.id, "lists": []})
    ]


def test_unsubscribing_from_a_dynamic_list_keeps_the_person_out_of_it(
    http, system, links, services
) -> None:
    services.properties.create("city")
    tampere = json.dumps(
        {
            "conditions": [{"name": "city", "condition": "=", "value": "Tampere"}],
            "enabled": True,
        }
    )
    dynamic = services.lists.create("Tampereella", condition=tampere)
    aino, eino = (
        services.contacts.create(
            email=f"{name}@example.com", sms=None, properties={"city": "Tampere"}
        )
        for name in ("aino", "eino")
    )
    draft = services.messages.create(
        MessageContent(subject="Kevät", html=HTML, from_email="news@example.com")
    ).id
    first = services.deliveries.send(DeliveryKind.BATCH, Letter(draft), list_ids=[dynamic])
    assert ledger_contacts(system, first.id) == {aino, eino}

    url = on_server(links.unsubscribe(services.account_id, first.id, aino))
    assert http.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    assert statuses(system, services.account_id, aino) == {dynamic: "unsubscribed"}
    assert {d.contact.email for d in services.lists.members(dynamic)} == {"eino@example.com"}
    following = services.deliveries.send(
        DeliveryKind.BATCH, Letter(draft, recipients_reset=True), list_ids=[dynamic]
    )
    assert ledger_contacts(system, following.id) == {eino}
    assert [e[1:3] for e in tracked_events(system, services.account_id)] == [
        ("list-quit", dynamic),
        ("unsubscribed", None),
    ]


def test_a_newsletter_to_given_recipients_unsubscribes_from_every_list(
    http, system, links, services
) -> None:
    draft = services.messages.create(
        MessageContent(subject="Kevät", html=HTML, from_email="news@example.com")
    ).id
    news, offers = services.lists.create("Uutiset"), services.lists.create("Tarjoukset")
    toni = services.contacts.create(email="toni@example.com", sms=None)
    services.lists.join(news, [toni])
    services.lists.join(offers, [toni])
    newsletter = services.deliveries.send(
        DeliveryKind.BATCH, Letter(draft), recipients=[GivenRecipient("toni@example.com")]
    )
    url = on_server(links.unsubscribe(services.account_id, newsletter.id, toni))
    assert http.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert statuses(system, services.account_id, toni) == {
        news: "unsubscribed",
        offers: "unsubscribed",
    }


def test_another_accounts_links_never_touch_this_account(http, system, links, letter) -> None:
    theirs = Newsletter(system.for_account(new_account(system).account_id))
    account, delivery = theirs.account_id, theirs.delivery.id
    assert http.get(on_server(links.open_pixel(account, delivery, theirs.aino))).status_code == 200
    unsubscribe = on_server(links.unsubscribe(account, delivery, theirs.aino))
    assert http.post(unsubscribe).status_code == 200
    # Their delivery and contact under this account's id: no such delivery here.
    crossed = on_server(links.unsubscribe(letter.account_id, delivery, letter.aino))
    assert http.post(crossed).status_code == 404
    assert http.get(crossed).status_code == 404
    assert tracked_events(system, letter.account_id) == []
    assert set(statuses(system, letter.account_id, letter.aino).values()) == {"active"}
    assert statuses(system, account, theirs.aino)[theirs.news] == "unsubscribed"
    assert [kind for _, kind, _, _ in tracked_events(system, account)].count("mailopen") == 1


def test_a_forgotten_contact_is_not_unsubscribed_again(http, system, links, letter) -> None:
    letter.services.privacy.forget(letter.aino)
    url = on_server(links.unsubscribe(letter.account_id, letter.delivery.id, letter.aino))
    assert http.post(url).status_code == 200
    kinds = [kind for _, kind, _, _ in tracked_events(system, letter.account_id)]
    assert "unsubscribed" not in kinds


# Tokens


KEY = tracking_key(b"server key")
ids = st.integers(min_value=0, max_value=2**63 - 1)


@given(ids, ids, ids, st.integers(min_value=0, max_value=10_000), st.text(max_size=300))
def test_a_click_token_names_exactly_what_it_signed(account, delivery, contact, index, url):
    links = TrackingLinks("https://mail.example", KEY)
    token = urlsplit(links.click(account, delivery, contact, index, url)).path.split("/")[2]
    target = links.tokens.read_click(token, url)
    assert target is not None
    assert (target.account_id, target.delivery_id, target.contact_id) == (
        account,
        delivery,
        contact,
    )
    assert (target.link_index, target.url) == (index, url)
    assert links.tokens.read_click(token, url + "x") is None
    assert links.tokens.read_open(token) is None


@given(ids, ids, ids, st.data())
def test_no_changed_character_verifies(account, delivery, contact, data) -> None:
    tokens = TrackingTokens(KEY)
    token = tokens.sign(Purpose.UNSUBSCRIBE, (account, delivery, contact))
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.")
    )
    changed = token[:at] + replacement + token[at + 1 :]
    if changed != token:
        assert tokens.verify(Purpose.UNSUBSCRIBE, changed) is None
    assert tokens.read_unsubscribe(token).contact_id == contact


def test_a_token_has_one_spelling() -> None:
    tokens = TrackingTokens(KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for contact in (1, 200, 40_000):  # 19, 20 and 21 bytes: each remainder of Base64
        token = tokens.sign(Purpose.OPEN, (1, 1, contact))
        spellings = [token[:-1] + last for last in alphabet] + [token + "=", token + "A"]
        assert [t for t in spellings if tokens.read_open(t)] == [token]


def test_links_need_https_for_the_list_unsubscribe_header() -> None:
    assert TrackingLinks("http://127.0.0.1:8000", KEY).list_unsubscribe(1, 2, 3) is None
    header = TrackingLinks("https://mail.example/", KEY).list_unsubscribe(1, 2, 3)
    assert header is not None and header.startswith("https://mail.example/u/")


def _flipped(token: str) -> str:
    """The token with one character of its ids changed."""
    return ("B" if token[0] != "B" else "C") + token[1:]
