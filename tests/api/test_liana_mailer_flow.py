"""The subscription flow the LianaMailer WordPress plugins run, over HTTP, as they sign it."""

from __future__ import annotations

import pytest

from kirje.services.system import System
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient


def _prepare_account(client: LianaClient) -> tuple[str, int, int]:
    """What an administrator sets up first: a list on the site, a consent with a text."""
    site = client.result("getCustomer")["default_site"]
    list_id = client.result("createMailingList", ["Newsletter", "Monthly news", True, None, site])
    consent_id = client.result("createConsentType", ["Marketing", True])
    revision = client.result(
        "editConsentTranslation", [consent_id, "fi", "Markkinointi", "Saa lähettää uutiskirjeitä"]
    )
    assert revision == 1
    return site, list_id, consent_id


@pytest.mark.parametrize("style", ["php", "python"])
def test_wordpress_subscription_flow(live_server: LiveServer, system: System, style: str) -> None:
    client = client_for(live_server, new_account(system), style=style)
    site, list_id, consent_id = _prepare_account(client)

    # Settings page: the connection check posts the bare string "hello".
    assert client.raw("echoMessage", '"hello"').json() == {"succeed": True, "result": "hello"}
    customer = client.result("getCustomer", [])
    assert customer["registration_needs_confirmation"] is False
    properties = client.result("getCustomerProperties", [])
    handles = {p["name"]: p["handle"] for p in properties}
    assert set(handles) >= {"firstname", "lastname"}
    assert all(isinstance(p["required"], bool) and p["type"] == "text" for p in properties)

    sites = client.result(
        "sites",
        [
            {
                "properties": True,
                "lists": True,
                "layout": False,
                "marketing": False,
                "parents": False,
                "children": False,
                "authorization": False,
            },
            {"all_lists": True},
        ],
    )
    (our_site,) = [s for s in sites if s["domain"] == site]
    assert our_site["lists"] == [
        {"id": list_id, "name": "Newsletter", "description": "Monthly news"}
    ]
    assert {p["handle"] for p in our_site["properties"]} == set(handles.values())
    assert not our_site["redirect"] and not our_site["replaced_by"]
    (site_consent,) = client.result("getConsentTypesBySite", [site])
    assert site_consent == {
        "consent_id": consent_id,
        "consent_revision": 1,
        "language": "FI",
        "name": "Markkinointi",
        "description": "Saa lähettää uutiskirjeitä",
        "type_name": "Marketing",
        "is_revokable": True,
    }

    # Form submit: the address is unknown at first.
    email = f"Matti.Meikalainen+{style}@Example.COM"
    unknown = client.call("getRecipientByEmail", [email, True])
    assert unknown["succeed"] is False and "not found" in unknown["message"]

    page = "https://example.com/tilaa/"
    recipient_id = client.result(
        "createAndJoinRecipient",
        [
            None,
            email,
            None,
            {"firstname": "Matti", "Last name": "Meikäläinen"},
            False,
            "Via WordPress from IP 203.0.113.5",
            page,
            [str(list_id)],  # Contact Form 7 sends the list id as a string
        ],
    )
    assert isinstance(recipient_id, int)

    known = client.result("getRecipientByEmail", [email, True])
    assert known["recipient"]["id"] == recipient_id
    assert known["recipient"]["enabled"] is True

    # Reactivation is what the plugins call for a recipient whose enabled is false.
    assert client.result("deleteRecipient", [recipient_id, "test", "Other", "Moved", "api"]) == 1
    deleted = client.result("getRecipientByEmail", [email, True])
    assert deleted["recipient"]["enabled"] is False
    assert client.call("getRecipientByEmail", [email])["succeed"] is False
    reactivated = client.result(
        "reactivateRecipient",
        [email, "User", "Via WordPress from IP 203.0.113.5", False, None, page],
    )
    assert reactivated == recipient_id

    assert (
        client.result(
            "addMemberConsent",
            [recipient_id, consent_id, site_consent["consent_revision"], "FI", "api", page],
        )
        == consent_id
    )
    assert client.result("sendWelcomeMail", [recipient_id, site]) == 1

    final = client.result("getRecipientByEmail", [email, True])
    assert final["recipient"]["email"] == "matti.meikalainen+" + style + "@example.com"
    assert final["recipient"]["enabled"] is True
    assert final["properties"] == {"firstname": "Matti", "lastname": "Meikäläinen"}
    assert [m[0] for m in final["membership"]] == [list_id]
    (consent,) = final["consents"]
    assert consent["consent_id"] == consent_id and consent["consent_revision"] == 1
    assert consent["revoked"] is False and consent["source"] == "api"
    assert client.result("getRecipient", [recipient_id]) == final
    # The listing reads details another way (per page, not one statement): same answer.
    assert client.result("getMailingListMembers", [list_id]) == [final]
    assert client.result("getRecipientList", [[recipient_id]]) == [final]
    assert client.result("getMailingListMemberCount", [list_id]) == 1


def test_the_flow_leaves_its_events_and_queued_welcome(
    live_server: LiveServer, system: System
) -> None:
    account = new_account(system)
    client = client_for(live_server, account)
    site, list_id, consent_id = _prepare_account(client)
    recipient_id = client.result(
        "createAndJoinRecipient", [None, "a@example.com", None, [], True, "r", "o", [list_id]]
    )
    client.result("addMemberConsent", [recipient_id, consent_id, 1, "FI", "api"])
    client.result("revokeConsent", [recipient_id, consent_id, 1, "FI"])
    client.result("sendWelcomeMail", [recipient_id, site])
    client.result("sendWelcomeMail", [recipient_id, site, 0])  # force=0: already welcomed

    from kirje.store import events, queued_mails

    with system.db.reading() as conn:
        types = [e.type for e in events.contact_events(conn, account.account_id, recipient_id)]
        mails = queued_mails.mails_for(conn, account.account_id, recipient_id)
    assert types == [
        "created",
        "confirmed",
        "list-join",
        "consent-given",
        "consent-revoked",
        "welcome-queued",
    ]
    assert [(m.kind, m.state) for m in mails] == [("welcome", "queued")]
    revoked = client.result("getRecipient", [recipient_id])["consents"][0]
    assert revoked["revoked"] is True
