"""Welcome and confirmation mails go out through the sending pipeline: asked for over the
LianaMailer API, sent by a real `kirje worker` into a real SMTP server, and the confirmation
link in the mail followed over HTTP.

The public URL is a proxy's address (https), as in production; the test follows a link's path
and query on the test server that stands behind it."""

from __future__ import annotations

import re
import uuid
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from kirje.domain.deliveries import DeliveryKind
from kirje.domain.system_mails import CONFIRMATION_LINK
from kirje.services.system_mails import BUILT_IN_KEY
from kirje.store import events as event_store
from kirje.store import queued_mails
from kirje.store.accounts import settings_of
from kirje.store.schema import deliveries, delivery_recipients
from tests.api.test_sending_end_to_end import make_draft, received_by
from tests.conftest import LiveServer, client_for, new_account
from tests.jobs.workers import quiet_worker, with_own_queue
from tests.mail.smtp_sink import SmtpSink

PUBLIC_URL = "https://post.kirje.test"
SENDER = [[{"name": "sender_email", "value": "news@shop.example"}]]


@pytest.fixture(scope="module")
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture(scope="module")
def mail_settings(settings):
    own = with_own_queue(settings, "system-mails")
    return own.model_copy(update={"public_url": PUBLIC_URL})


@pytest.fixture(scope="module")
def server(mail_settings, system):
    running = LiveServer(mail_settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def worker(mail_settings, sink, server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("system-mail-worker")
    env = {"KIRJE_SMTP_URL": sink.url(starttls="false"), "KIRJE_PUBLIC_URL": PUBLIC_URL}
    with quiet_worker(mail_settings, folder, **env) as running:
        yield running


@pytest.fixture
def http(server: LiveServer):
    with httpx.Client(base_url=server.url) as client:
        yield client


def address() -> str:
    return f"tilaaja-{uuid.uuid4().hex[:8]}@example.com"


def confirmation_link(mail) -> str:
    """The confirmation link of a received mail, as its HTML part gives it."""
    html = mail.get_body(("html",)).get_content()
    links = {unescape(href) for href in re.findall(r'href="([^"]+)"', html) if "/confirm/" in href}
    (link,) = links
    assert link.startswith(f"{PUBLIC_URL}/confirm/")
    assert link in mail.get_body(("plain",)).get_content()
    return link


def on_server(url: str) -> str:
    return urlsplit(url).path


def events_of(system, account_id: int, contact_id: int) -> list[tuple[str, dict]]:
    with system.db.reading() as conn:
        found = event_store.contact_events(conn, account_id, contact_id)
    return [(e.type, e.data) for e in found]


def system_mails_of(system, account_id: int, contact_id: int) -> list[tuple[str, str, str]]:
    """(kind of the request, its state, kind of its delivery) of the contact's system mails."""
    with system.db.reading() as conn:
        mails = queued_mails.mails_for(conn, account_id, contact_id)
        kinds = dict(
            conn.execute(
                select(deliveries.c.id, deliveries.c.kind).where(
                    deliveries.c.id.in_([m.delivery_id for m in mails])
                )
            ).all()
        )
    return [(m.kind, m.state, kinds.get(m.delivery_id)) for m in mails]


def test_a_pending_recipient_confirms_by_following_the_link_in_the_mail(
    server, worker, sink, http, system
) -> None:
    account = new_account(system)
    client = client_for(server, account)
    client.result("setMarketingSettings", SENDER)
    list_id = client.result("createMailingList", ["Uutiset", ""])
    email = address()
    contact_id = client.result(
        "createAndJoinRecipient",
        [None, email, None, {}, False, "form", "https://shop.example/tilaa", None],
    )
    code = client.result("getRecipientConfirmationCode", [contact_id])
    client.result("addConfirmationTask", [contact_id, code, "membership", {"list_id": list_id}])
    assert client.result("sendConfirmationEmail", [contact_id, {}]) == 1

    (mail,) = received_by(sink, email)
    assert mail["Subject"] == "Vahvista tilauksesi / Please confirm your subscription"
    assert mail["From"] == "news@shop.example"
    link = confirmation_link(mail)
    assert code not in link  # the code is signed, never shown

    offer = http.get(on_server(link))
    assert offer.status_code == 200 and '<form method="post">' in offer.text
    assert client.result("getRecipient", [contact_id])["recipient"]["confirmed"] is False

    done = http.post(on_server(link))
    assert done.status_code == 200 and "Tilaus vahvistettu" in done.text
    recipient = client.result("getRecipient", [contact_id])
    assert recipient["recipient"]["confirmed"] is True
    assert [m[0] for m in recipient["membership"]] == [list_id]
    assert client.result("getConfirmationTasks", [code]) == []
    # mailsent is left out: the worker writes it once the sink has answered, maybe after this.
    trail = events_of(system, account.account_id, contact_id)
    assert [(type_, data.get("reason")) for type_, data in trail if type_ != "mailsent"] == [
        ("created", "form"),
        ("confirmation-queued", None),
        ("confirmed", "confirmation link"),
        ("list-join", "confirmation link"),
    ]
    assert system_mails_of(system, account.account_id, contact_id) == [
        ("confirmation", "queued", "confirmation")
    ]


def test_the_plugin_flow_welcomes_an_unconfirmed_subscriber_with_the_confirmation_link(
    server, worker, sink, http, system
) -> None:
    """createAndJoinRecipient without autoconfirm, then sendWelcomeMail: with no welcome
    delivery of the site, the built-in message asks to confirm."""
    account = new_account(system)
    client = client_for(server, account)
    client.result("setMarketingSettings", SENDER)
    site = client.result("getCustomer")["default_site"]
    list_id = client.result("createMailingList", ["Uutiset", ""])
    email = address()
    contact_id = client.result(
        "createAndJoinRecipient",
        [None, email, None, {}, False, "Via WordPress", "https://shop.example/", [list_id]],
    )
    assert client.result("sendWelcomeMail", [contact_id, site]) == 1

    (mail,) = received_by(sink, email)
    assert mail["Subject"] == "Vahvista tilauksesi / Please confirm your subscription"
    assert email in mail.get_body(("html",)).get_content()
    assert http.post(on_server(confirmation_link(mail))).status_code == 200
    assert client.result("getRecipient", [contact_id])["recipient"]["confirmed"] is True
    assert system_mails_of(system, account.account_id, contact_id) == [
        ("welcome", "queued", "welcome")
    ]


def test_the_sites_welcome_delivery_is_sent_with_the_recipients_values(
    server, worker, sink, system
) -> None:
    account = new_account(system)
    client = client_for(server, account)
    site = client.result("getCustomer")["default_site"]
    html = "<p>Tervetuloa $firstname$! Etukoodisi on $coupon$.</p>"
    draft = make_draft(server, account, subject="Tervetuloa", html=html)
    editor = address()
    welcome = client.call_v2(
        "deliveries/event-send",
        {
            "letter": {"type": "draft", "id": draft, "subject": "Tervetuloa, $firstname$"},
            "recipients": [{"email": editor, "firstname": "Toimittaja", "coupon": "-"}],
        },
    )["result"]["delivery_id"]
    received_by(sink, editor)
    assert client.result("setSiteWelcomeDelivery", [site, welcome]) == 1
    email = address()
    contact_id = client.result(
        "createAndJoinRecipient", [None, email, None, {"firstname": "Eino"}, True]
    )

    assert client.result("sendWelcomeMail", [contact_id, site, 1, {"coupon": "KEVÄT"}]) == 1
    (mail,) = received_by(sink, email)
    assert mail["Subject"] == "Tervetuloa, Eino"
    assert "Tervetuloa Eino! Etukoodisi on KEVÄT." in mail.get_body(("html",)).get_content()
    assert "/confirm/" not in mail.get_body(("html",)).get_content()  # confirmed already
    # force=0: a recipient welcomed before is not welcomed again.
    assert client.result("sendWelcomeMail", [contact_id, site, 0]) == 1
    assert system_mails_of(system, account.account_id, contact_id) == [
        ("welcome", "queued", "welcome")
    ]


# Without a worker: what is queued, and the link followed against the shared test server.


def ledger_values(system, account_id: int, contact_id: int) -> list[dict]:
    """The values of the contact's system-mail ledger rows, oldest first."""
    with system.db.reading() as conn:
        mails = queued_mails.mails_for(conn, account_id, contact_id)
        rows = conn.execute(
            select(delivery_recipients.c.delivery_id, delivery_recipients.c.properties).where(
                delivery_recipients.c.delivery_id.in_([m.delivery_id for m in mails]),
                delivery_recipients.c.contact_id == contact_id,
            )
        ).all()
    return [properties for _, properties in sorted(rows)]


@pytest.fixture
def live_http(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url) as client:
        yield client


def test_a_confirmation_link_lives_as_long_as_the_code_it_signs(
    services, system, live_http
) -> None:
    contact_id = services.contacts.create(email=address(), sms=None)
    services.confirmations.queue_confirmation_mail(contact_id, properties={"x": 1})
    (values,) = ledger_values(system, services.account_id, contact_id)
    first = values[CONFIRMATION_LINK]
    assert live_http.get(on_server(first)).status_code == 200

    services.contacts.confirmation_code(contact_id, renew=True)  # setConfirmationCode
    refused = live_http.get(on_server(first))
    assert (refused.status_code, refused.text) == (404, "Not found\n")
    assert live_http.post(on_server(first)).status_code == 404

    services.confirmations.queue_confirmation_mail(contact_id)
    second = ledger_values(system, services.account_id, contact_id)[-1][CONFIRMATION_LINK]
    assert second != first
    token = on_server(second).rpartition("/")[2]
    for tampered in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:-3], "x" + token):
        assert live_http.post(f"/confirm/{tampered}").status_code == 404
    assert services.contacts.get(contact_id).contact.confirmed_at is None
    assert live_http.post(on_server(second)).status_code == 200
    assert services.contacts.get(contact_id).contact.confirmed_at is not None

    services.privacy.forget(contact_id)
    assert live_http.get(on_server(second)).status_code == 404


def test_the_ledger_carries_the_callers_values_and_the_link_they_cannot_replace(
    services, system
) -> None:
    contact_id = services.contacts.create(email=address(), sms=None)
    services.confirmations.queue_confirmation_mail(
        contact_id, properties={"coupon": 5, CONFIRMATION_LINK: "https://evil.example/"}
    )
    (values,) = ledger_values(system, services.account_id, contact_id)
    assert values["coupon"] == "5"
    assert values[CONFIRMATION_LINK].startswith(f"{system.settings.public_url}/confirm/")
    with system.db.reading() as conn:
        (mail,) = queued_mails.mails_for(conn, services.account_id, contact_id)
    # The request keeps what the caller gave, as given.
    assert mail.properties == {"coupon": 5, CONFIRMATION_LINK: "https://evil.example/"}


def test_the_built_in_messages_are_made_once_per_account_and_kind(services, system) -> None:
    site = services.sites.default().domain
    confirmed = services.contacts.create(email=address(), sms=None, autoconfirm=True)
    pending = services.contacts.create(email=address(), sms=None)
    services.contacts.queue_welcome_mail(confirmed, site, properties=None)
    services.contacts.queue_welcome_mail(pending, site, properties=None)
    services.confirmations.queue_confirmation_mail(pending)
    with system.db.reading() as conn:
        built_in = settings_of(conn, services.account_id)[BUILT_IN_KEY]
        sent = conn.execute(
            select(deliveries.c.kind, deliveries.c.message_id)
            .where(deliveries.c.account_id == services.account_id)
            .order_by(deliveries.c.id)
        ).all()
    assert sent == [
        (DeliveryKind.WELCOME, built_in["welcome"]),
        (DeliveryKind.WELCOME, built_in["confirmation"]),
        (DeliveryKind.CONFIRMATION, built_in["confirmation"]),
    ]
    assert services.messages.get(built_in["welcome"]).subject == "Tervetuloa / Welcome"
    other = system.for_account(new_account(system).account_id)
    other_contact = other.contacts.create(email=address(), sms=None)
    other.confirmations.queue_confirmation_mail(other_contact)
    with system.db.reading() as conn:
        theirs = settings_of(conn, other.account_id)[BUILT_IN_KEY]
    assert theirs["confirmation"] != built_in["confirmation"]


def test_a_welcome_delivery_that_is_gone_falls_back_to_the_built_in_message(
    services, system
) -> None:
    site = services.sites.default().domain
    services.sites.set_welcome_delivery(site, 999999)
    contact_id = services.contacts.create(email=address(), sms=None, autoconfirm=True)
    assert services.contacts.queue_welcome_mail(contact_id, site, properties=None) is True
    with system.db.reading() as conn:
        built_in = settings_of(conn, services.account_id)[BUILT_IN_KEY]
        (message_id,) = conn.execute(
            select(deliveries.c.message_id).where(deliveries.c.account_id == services.account_id)
        ).scalars()
    assert message_id == built_in["welcome"]
