"""LianaAutomation channels and event imports over HTTP, as a WooCommerce shop sends them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kirje.services.system import System
from kirje.store.schema import contact_identities, contacts, events
from tests.conftest import LiveServer, new_account
from tests.liana_clients import AutomationClient, Credentials

ORDER_ITEMS = {
    "status": "processing",
    "id": 1042,
    "total": "59.80",
    "currency": "EUR",
    "billing_email": "aino@example.com",
    "address": {"street": "Mannerheimintie 1", "city": "Helsinki", "zip": "00100"},
    "customer_note": "Leave at the door / porch",
}
ORDER_ROW_ITEMS = {"id": 7, "product": "Tea", "product_id": 31, "quantity": 2, "total": "19.90"}


def client(server: LiveServer, account) -> AutomationClient:
    return AutomationClient(server.url, Credentials(account.user_id, account.secret, account.realm))


@pytest.fixture
def automation(live_server: LiveServer, account) -> AutomationClient:
    return client(live_server, account)


def make_channel(automation: AutomationClient, name: str = "Shop") -> dict:
    return automation.call("channel/create", {"name": name, "color": "#37aef3", "notes": "web"})


def import_events(automation: AutomationClient, channel, data, **flags) -> dict:
    return automation.call("import", {"channel": str(channel), **flags, "data": data})


def stored(system: System, account, *conditions) -> list:
    with system.db.reading() as conn:
        return conn.execute(
            select(events)
            .where(events.c.account_id == account.account_id, *conditions)
            .order_by(events.c.id)
        ).all()


def contact_of(system: System, account, email: str):
    with system.db.reading() as conn:
        return conn.execute(
            select(contacts).where(
                contacts.c.account_id == account.account_id, contacts.c.email == email
            )
        ).one()


def test_the_channel_list_answers_a_null_body_with_integer_ids_and_a_tracking_url(
    automation,
) -> None:
    made = make_channel(automation)
    response = automation.raw("channel/list", "null")
    assert response.status_code == 200
    listed = response.json()
    assert isinstance(listed, list)
    (channel,) = [c for c in listed if c["id"] == made["id"]]
    assert isinstance(channel["id"], int)
    assert channel["gtm_url"].endswith("/gtm") and "/t/" in channel["gtm_url"]
    assert {k: channel[k] for k in ("name", "color", "notes", "type", "system_name", "events")} == {
        "name": "Shop",
        "color": "#37aef3",
        "notes": "web",
        "type": "empty",
        "system_name": "",
        "events": 0,
    }
    assert set(channel) >= {
        "front_url",
        "icon",
        "tracking_enabled",
        "tracking_js",
        "import_js",
        "verbs",
        "default_url",
    }


def test_a_woocommerce_order_is_stored_under_its_channel(
    system: System, account, automation
) -> None:
    channel = make_channel(automation)
    answer = import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"email": "Aino@Example.com", "token": "65f1c2a3b4c5d612345678"},
                "events": [
                    {"verb": "order", "items": ORDER_ITEMS},
                    {"verb": "orderrow", "items": ORDER_ROW_ITEMS},
                ],
            }
        ],
        no_duplicates=False,
    )
    assert answer["succeed"] is True and answer["handle"].isdigit()
    person = contact_of(system, account, "aino@example.com")
    rows = stored(system, account, events.c.channel_id == channel["id"])
    assert [(r.contact_id, r.type, r.data, r.job_id) for r in rows] == [
        (person.id, "order", ORDER_ITEMS, int(answer["handle"])),
        (person.id, "orderrow", ORDER_ROW_ITEMS, int(answer["handle"])),
    ]
    listed = automation.call("channel/list")
    (shown,) = [c for c in listed if c["id"] == channel["id"]]
    assert (shown["verbs"], shown["events"]) == ({"order": True, "orderrow": True}, 2)
    assert automation.call("import/status", {"handle": answer["handle"]}) == {"ready": True}


def test_a_channel_is_named_by_its_system_name_too(system, account, automation) -> None:
    shop = system.for_account(account.account_id).channels
    from kirje.domain.channels import ChannelChanges

    typed = shop.create(ChannelChanges(name="Magento"), type="ecs", system_name="ecs")
    answer = import_events(
        automation,
        "ecs",
        [
            {
                "identity": {"email": "eino@example.com"},
                "events": [{"verb": "contact", "items": {"city": "Oulu"}}],
            }
        ],
    )
    assert answer["succeed"] is True
    assert [r.type for r in stored(system, account, events.c.channel_id == typed.id)] == ["contact"]


def test_no_duplicates_keeps_one_of_identical_events(system, account, automation) -> None:
    channel = make_channel(automation)
    data = [
        {
            "identity": {"email": "helmi@example.com"},
            "events": [{"verb": "login", "items": {"url": "https://shop.example/"}}],
        }
    ]
    import_events(automation, channel["id"], data, no_duplicates=True)
    import_events(automation, channel["id"], data, no_duplicates=True)
    assert len(stored(system, account, events.c.channel_id == channel["id"])) == 1
    import_events(automation, channel["id"], data, no_duplicates=False)
    assert len(stored(system, account, events.c.channel_id == channel["id"])) == 2


def test_bad_imports_are_refused_whole_with_a_message(system, account, automation) -> None:
    channel = make_channel(automation)
    good = {
        "identity": {"email": "good@example.com"},
        "events": [{"verb": "formsend", "items": {}}],
    }
    cases = {
        "data[1].identity.email": {"identity": {"email": "not an address"}, "events": []},
        "data[1].events[0].verb": {"identity": {"token": "abc"}, "events": [{"items": {}}]},
        "data[1].identity names no one": {"identity": {"pv_uid": "x"}, "events": []},
    }
    for expected, bad in cases.items():
        answer = import_events(automation, channel["id"], [good, bad])
        assert answer["succeed"] is False and expected in answer["message"], answer
    unknown = import_events(automation, "no-such-channel", [good])
    assert unknown["succeed"] is False and "channel" in unknown["message"]
    assert stored(system, account, events.c.channel_id == channel["id"]) == []


def test_a_visitor_token_and_a_later_email_meet_in_one_contact(system, account, automation) -> None:
    channel = make_channel(automation)
    token = "65f1c2a3b4c5d6.12345678"  # a legacy uniqid() cookie, as sanitize_key() does not see it
    import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"token": token},
                "events": [{"verb": "pbr", "items": {"url": "https://shop.example/tea"}}],
            }
        ],
    )
    import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"email": "onni@example.com", "token": "65f1c2a3b4c5d612345678"},
                "events": [{"verb": "login", "items": {}}],
            }
        ],
    )
    person = contact_of(system, account, "onni@example.com")
    verbs = [
        r.type
        for r in stored(
            system, account, events.c.contact_id == person.id, events.c.channel_id.is_not(None)
        )
    ]
    assert verbs == ["pbr", "login"]


def test_an_import_linking_two_known_contacts_merges_them(system, account, automation) -> None:
    channel = make_channel(automation)
    import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"email": "sofia@example.com"},
                "events": [{"verb": "order", "items": {"id": 1}}],
            },
            {
                "identity": {"extra1": "CRM-77"},
                "events": [{"verb": "contact", "items": {"crm": True}}],
            },
            {"identity": {"token": "t0k3n"}, "events": [{"verb": "pbr", "items": {"url": "/"}}]},
        ],
    )
    with system.db.reading() as conn:
        anonymous = conn.execute(
            select(contact_identities.c.contact_id).where(
                contact_identities.c.account_id == account.account_id,
                contact_identities.c.value == "CRM-77",
            )
        ).scalar_one()
    answer = import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"email": "sofia@example.com", "extra1": "CRM-77", "token": "t0k3n"},
                "events": [{"verb": "login", "items": {}}],
            },
        ],
    )
    person = contact_of(system, account, "sofia@example.com")
    verbs = sorted(
        r.type
        for r in stored(
            system, account, events.c.contact_id == person.id, events.c.channel_id.is_not(None)
        )
    )
    assert verbs == ["contact", "login", "order", "pbr"]
    with system.db.reading() as conn:
        tombstone = conn.execute(select(contacts).where(contacts.c.id == anonymous)).one()
        links = conn.execute(
            select(contact_identities.c.kind, contact_identities.c.contact_id).where(
                contact_identities.c.account_id == account.account_id
            )
        ).all()
    assert (tombstone.merged_into, tombstone.deleted_at is not None) == (person.id, True)
    assert sorted(links) == [("extra1", person.id), ("token", person.id)]
    assert answer["succeed"] is True


def test_two_identified_people_are_not_merged(system, account, automation) -> None:
    """A shared browser: the token moves to the person who logged in last; emails stay apart."""
    channel = make_channel(automation)
    import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"email": "leo@example.com", "token": "shared"},
                "events": [{"verb": "login", "items": {}}],
            }
        ],
    )
    import_events(
        automation,
        channel["id"],
        [
            {
                "identity": {"email": "ella@example.com", "token": "shared"},
                "events": [{"verb": "login", "items": {}}],
            }
        ],
    )
    leo, ella = (
        contact_of(system, account, "leo@example.com"),
        contact_of(system, account, "ella@example.com"),
    )
    assert leo.id != ella.id and leo.deleted_at is None and ella.deleted_at is None
    with system.db.reading() as conn:
        holder = conn.execute(
            select(contact_identities.c.contact_id).where(
                contact_identities.c.account_id == account.account_id,
                contact_identities.c.value == "shared",
            )
        ).scalar_one()
    assert holder == ella.id


def test_channels_are_made_edited_and_deleted_within_the_seeds_rules(
    system, account, automation
) -> None:
    made = make_channel(automation, "Forms")
    edited = automation.call(
        "channel/edit", {"id": made["id"], "name": "Contact forms", "tracking_enabled": True}
    )
    assert (edited["name"], edited["color"], edited["tracking_enabled"]) == (
        "Contact forms",
        "#37aef3",
        True,
    )
    assert automation.call("channel/delete", {"id": made["id"]}) == {"succeed": True}
    assert all(c["id"] != made["id"] for c in automation.call("channel/list"))
    used = make_channel(automation, "Used")
    import_events(
        automation,
        used["id"],
        [{"identity": {"token": "abc"}, "events": [{"verb": "pbr", "items": {}}]}],
    )
    refused = automation.call("channel/delete", {"id": used["id"]})
    assert refused["succeed"] is False and "events" in refused["message"]
    from kirje.domain.channels import ChannelChanges

    typed = system.for_account(account.account_id).channels.create(
        ChannelChanges(name="System"), type="system", system_name="system"
    )
    for path, body in (
        ("channel/edit", {"id": typed.id, "name": "x"}),
        ("channel/delete", {"id": typed.id}),
    ):
        answer = automation.call(path, body)
        assert answer["succeed"] is False and "type" in answer["message"]
    nameless = automation.call("channel/create", {"color": "#fff"})
    assert nameless["succeed"] is False and "name" in nameless["message"]


def test_another_accounts_channels_and_people_are_out_of_reach(
    system, live_server, automation
) -> None:
    other_account = new_account(system)
    other = client(live_server, other_account)
    theirs = make_channel(other, "Theirs")
    import_events(
        other,
        theirs["id"],
        [{"identity": {"email": "secret@example.com"}, "events": [{"verb": "order", "items": {}}]}],
    )
    assert all(c["id"] != theirs["id"] for c in automation.call("channel/list"))
    for path, body in (
        (
            "import",
            {
                "channel": str(theirs["id"]),
                "data": [{"identity": {"email": "secret@example.com"}, "events": []}],
            },
        ),
        ("channel/edit", {"id": theirs["id"], "name": "mine"}),
        ("channel/delete", {"id": theirs["id"]}),
    ):
        answer = automation.call(path, body)
        assert answer["succeed"] is False and "not found" in answer["message"]
    mine = make_channel(automation)
    import_events(
        automation,
        mine["id"],
        [{"identity": {"email": "secret@example.com"}, "events": [{"verb": "login", "items": {}}]}],
    )
    with system.db.reading() as conn:
        holders = (
            conn.execute(
                select(contacts.c.account_id).where(contacts.c.email == "secret@example.com")
            )
            .scalars()
            .all()
        )
    assert sorted(holders) == sorted([other_account.account_id, mine_account(automation, system)])


def test_stored_events_reach_the_automation_trigger_point_unless_skipped(
    live_server, account, automation
) -> None:
    arrived = []

    def hook(account_id, events_) -> None:
        arrived.extend((account_id, e.verb, e.items) for e in events_)

    triggers = live_server.app.state.system.triggers
    triggers.register(hook)
    try:
        channel = make_channel(automation)
        data = [
            {
                "identity": {"email": "elias@example.com"},
                "events": [{"verb": "addtocart", "items": {"product": "Tea"}}],
            }
        ]
        import_events(automation, channel["id"], data, no_duplicates=True)
        import_events(automation, channel["id"], data, no_duplicates=True)
        import_events(
            automation,
            channel["id"],
            [{**data[0], "events": [{"verb": "order", "items": {}}]}],
            skip_automations=True,
        )
    finally:
        triggers.unregister(hook)
    assert arrived == [(account.account_id, "addtocart", {"product": "Tea"})]


def mine_account(automation: AutomationClient, system: System) -> int:
    credential = system.accounts.load_credential(automation.credentials.user_id)
    assert credential is not None
    return credential.account_id
