"""The web view: the message a recipient got, shown at a signed URL of the public web side.

A delivery is made and sent through the real services and job (into the local outbox), its
web-view links built as System.tracking_links builds them, and followed against the server."""

from __future__ import annotations

import email
import re
from email import policy
from urllib.parse import urlsplit

import httpx
import pytest

from kirje.domain.deliveries import DeliveryKind, GivenRecipient, Letter
from kirje.domain.messages import MessageContent
from kirje.domain.tracking_links import Purpose
from kirje.jobs.runner import run_here
from kirje.mail.rendering import MessageTemplate
from kirje.mail.transports import read_outbox_message
from kirje.mail.web_view import WEB_VERSION_LINK, link_values
from kirje.services.system import System
from tests.conftest import LiveServer

HTML = (
    "<html><head><style>p.lead{color:#336}</style></head><body>"
    '<p class="lead">Hei $firstname$, tilauksesi $order$ on matkalla.</p>$banner$'
    '<p><a href="https://shop.example/?a=1&amp;b=2">Kauppa</a> '
    '<a href="$web_version_link$">Avaa selaimessa</a></p></body></html>'
)
BANNER = "NOHTMLENCODE:<b>Kevät</b>"


@pytest.fixture
def http(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url) as client:
        yield client


def on_server(url: str) -> str:
    return urlsplit(url).path


class Order:
    """An order confirmation sent to two given recipients, with a value each for this mail."""

    def __init__(self, system: System, services) -> None:
        self.system, self.services = system, services
        services.properties.create("banner", type="raw")
        self.aino = services.contacts.create(
            email="aino@example.com", sms=None, properties={"firstname": "Aino", "banner": BANNER}
        )
        self.eino = services.contacts.create(
            email="eino@example.com", sms=None, properties={"firstname": "Eino"}
        )
        content = MessageContent(subject="Tilaus", html=HTML, from_email="shop@shop.example")
        self.draft = services.messages.create(content).id
        self.delivery = services.deliveries.send(
            DeliveryKind.EVENT,
            Letter(self.draft, subject="Tilaus $order$"),
            recipients=[
                GivenRecipient("aino@example.com", {"order": "<1234>"}),
                GivenRecipient("eino@example.com", {"order": "99"}),
            ],
        )

    def link(self, contact_id: int) -> str:
        links = self.system.tracking_links
        return links.web_view(self.services.account_id, self.delivery.id, contact_id)


@pytest.fixture
def order(system, services) -> Order:
    return Order(system, services)


def test_the_page_is_the_recipients_message_with_their_values(order, http) -> None:
    page = http.get(on_server(order.link(order.aino)))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    html = page.text
    assert 'style="color: #336;">Hei Aino, tilauksesi &lt;1234&gt; on matkalla.</p>' in html
    assert "<b>Kevät</b>" in html  # the raw property's HTML block
    # Links go where the message says, and the page records no open.
    assert '<a href="https://shop.example/?a=1&amp;b=2">Kauppa</a>' in html
    assert f'<a href="{order.link(order.aino)}">Avaa selaimessa</a>' in html
    assert "/o/" not in html and "/c/" not in html

    eino = http.get(on_server(order.link(order.eino))).text
    assert "Hei Eino, tilauksesi 99 on matkalla." in eino and "Kevät" not in eino


def test_the_page_shows_what_the_mail_showed(order, http, system) -> None:
    run_here(system, order.delivery.job_id)
    sent = {}
    outbox = system.settings.data_dir / "outbox"
    for path in (outbox / "new").iterdir():
        message = email.message_from_bytes(
            read_outbox_message(outbox, path.name), policy=policy.default
        )
        if f"<d{order.delivery.id}.c{order.aino}." in message["Message-ID"]:
            sent = message
    mail_html = sent.get_body(("html",)).get_content()
    page = http.get(on_server(order.link(order.aino))).text
    lead = re.compile(r"<p [^>]*>Hei [^<]*</p>")
    assert lead.search(page)[0] == lead.search(mail_html)[0]
    assert "<b>Kevät</b>" in mail_html


def test_the_page_is_locked_down(order, http) -> None:
    headers = http.get(on_server(order.link(order.aino))).headers
    policy_ = headers["content-security-policy"]
    assert "default-src 'none'" in policy_ and "script-src" not in policy_
    assert "frame-ancestors 'none'" in policy_
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-robots-tag"] == "noindex, nofollow"


def test_a_letters_html_override_is_what_the_page_shows(system, services, http) -> None:
    contact = services.contacts.create(
        email="helmi@example.com", sms=None, properties={"firstname": "Helmi"}
    )
    content = MessageContent(subject="S", html="<p>Luonnos</p>", from_email="a@shop.example")
    draft = services.messages.create(content).id
    delivery = services.deliveries.send(
        DeliveryKind.EVENT,
        Letter(draft, html="<p>Kiitos $firstname$!</p>"),
        recipients=[GivenRecipient("helmi@example.com")],
    )
    link = system.tracking_links.web_view(services.account_id, delivery.id, contact)
    assert http.get(on_server(link)).text == "<p>Kiitos Helmi!</p>"


def test_any_other_token_is_not_found_without_detail(order, http, system, services) -> None:
    tokens = system.tracking_links.tokens
    account, delivery = services.account_id, order.delivery.id
    token = on_server(order.link(order.aino)).rpartition("/")[2]
    stranger = services.contacts.create(email="outsider@example.com", sms=None)
    refused = [
        "nonsense",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        # The same ids signed for another purpose: the unsubscribe link of that mail.
        tokens.sign(Purpose.UNSUBSCRIBE, (account, delivery, order.aino)),
        # A contact the delivery never went to, another account, a delivery that is not.
        tokens.sign(Purpose.WEB_VIEW, (account, delivery, stranger)),
        tokens.sign(Purpose.WEB_VIEW, (account + 1, delivery, order.aino)),
        tokens.sign(Purpose.WEB_VIEW, (account, delivery + 1000, order.aino)),
    ]
    for bad in refused:
        answer = http.get(f"/w/{bad}")
        assert (answer.status_code, answer.text) == (404, "Not found\n"), bad
    services.privacy.forget(order.aino)
    assert http.get(on_server(order.link(order.aino))).status_code == 404
    assert http.get(on_server(order.link(order.eino))).status_code == 200


def test_the_web_version_link_is_made_only_for_a_message_that_names_it(system) -> None:
    links = system.tracking_links
    named = MessageTemplate.compile("S", '<a href="$Web_Version_Link$">web</a>')
    assert link_values(named, links, 1, 2, 3) == {WEB_VERSION_LINK: links.web_view(1, 2, 3)}
    assert link_values(MessageTemplate.compile("S", "<p>$firstname$</p>"), links, 1, 2, 3) == {}
