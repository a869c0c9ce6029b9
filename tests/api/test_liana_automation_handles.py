"""LianaAutomation's asynchronous handles over HTTP, run by a real `kirje worker`: a shop's
events are found by search, exported, deleted by identity, and the automations report answers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from kirje.store.schema import contact_identities, contacts, events
from tests.conftest import LiveServer, new_account
from tests.jobs.workers import quiet_worker, with_own_queue
from tests.liana_clients import AutomationClient, Credentials

EMAIL = "aino.virtanen@example.com"
TOKEN = "65f1c2a3b4c5d612345678"


@pytest.fixture(scope="module")
def handle_settings(settings):
    return with_own_queue(settings, "handles")


@pytest.fixture(scope="module")
def server(handle_settings, system):
    running = LiveServer(handle_settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def worker(handle_settings, tmp_path_factory):
    with quiet_worker(handle_settings, tmp_path_factory.mktemp("handle-worker")) as running:
        yield running


def client_of(server: LiveServer, account) -> AutomationClient:
    return AutomationClient(server.url, Credentials(account.user_id, account.secret, account.realm))


def finished(client: AutomationClient, path: str, request: dict, seconds: float = 60):
    """The seed's flow: create, poll status until ready, read the results."""
    handle = client.call(path, request)["handle"]
    assert handle.isdigit()
    deadline = time.monotonic() + seconds
    while client.call(f"{path}/status", {"handle": handle}) != {"ready": True}:
        assert time.monotonic() < deadline, f"{path} {handle} never became ready"
        time.sleep(0.1)
    return client.call(f"{path}/results", {"handle": handle})


def shop_visit(client: AutomationClient) -> int:
    """What the WooCommerce plugin sends for one shopper: channel list, then cart and order."""
    channel = client.call("channel/create", {"name": "WooCommerce"})
    listed = client.call("channel/list")
    assert [c["id"] for c in listed] == [channel["id"]]
    identity = {"email": EMAIL, "token": TOKEN}
    for verb, items in (
        ("addtocart", {"product": "Tea", "product_id": 31, "total": "9.95"}),
        ("order", {"id": 1042, "total": "9.95", "address": {"city": "Helsinki"}}),
    ):
        answer = client.call(
            "import",
            {
                "channel": str(channel["id"]),
                "no_duplicates": False,
                "data": [{"identity": identity, "events": [{"verb": verb, "items": items}]}],
            },
        )
        assert answer["succeed"] is True
    return channel["id"]


def test_a_shoppers_events_are_searched_exported_and_deleted(server, worker, system) -> None:
    account = new_account(system)
    client = client_of(server, account)
    channel_id = shop_visit(client)
    found = finished(
        client,
        "search",
        {
            "channels": [channel_id],
            "verbs": ["addtocart", "order"],
            "include_data": True,
            "identities": [{"email": EMAIL}],
        },
    )
    assert [
        (e["verb"], e["channel"], e["identity"]["email"], e["identity"]["token"]) for e in found
    ] == [
        ("addtocart", str(channel_id), EMAIL, TOKEN),
        ("order", str(channel_id), EMAIL, TOKEN),
    ]
    assert found[1]["data"] == {"id": 1042, "total": "9.95", "address": {"city": "Helsinki"}}
    assert found[0]["at"].endswith(("Z", "+00:00"))
    without_data = finished(client, "search", {"verbs": ["order"], "limit": 1})
    assert len(without_data) == 1 and "data" not in without_data[0]

    client.call(
        "import",
        {
            "channel": str(channel_id),
            "data": [
                {
                    "identity": {"email": "eino@example.com"},
                    "events": [{"verb": "addtocart", "items": {"product": "Mug"}}],
                }
            ],
        },
    )
    exported = finished(client, "export", {"channels": [channel_id]})
    row, other = sorted(exported, key=lambda r: r["email"] != EMAIL)
    assert (row["email"], row["addtocart-product"], row["order-id"]) == (EMAIL, "Tea", 1042)
    assert (other["email"], other["addtocart-product"], other["order-id"]) == (
        "eino@example.com",
        "Mug",
        "NULL",
    )
    assert isinstance(row["id"], int) and row["system-event-date"].startswith("20")

    deleted = finished(client, "delete", {"identities": [{"email": [EMAIL]}]})
    assert deleted == {"deleted": [[row["id"]]]}
    assert finished(client, "search", {"identities": [{"email": EMAIL}]}) == []
    assert [
        e["identity"]["email"] for e in finished(client, "search", {"channels": [channel_id]})
    ] == ["eino@example.com"]
    with system.db.reading() as conn:
        person = conn.execute(select(contacts).where(contacts.c.id == row["id"])).one()
        left = conn.execute(
            select(events.c.type, events.c.data).where(events.c.contact_id == row["id"])
        ).all()
        tokens = conn.execute(
            select(contact_identities).where(contact_identities.c.contact_id == row["id"])
        ).all()
    assert (person.email, person.forgotten_at is not None, person.properties) == (None, True, {})
    assert all(data == {} or type_ == "forgotten" for type_, data in left)
    assert tokens == []
    # the other shopper's cart event is what the channel has left
    assert client.call("channel/list")[0]["events"] == 1


def test_the_automations_report_answers_in_the_seeds_shape(server, worker, system) -> None:
    client = client_of(server, new_account(system))
    assert (
        finished(
            client, "automations/report", {"start_date": "2022-02-01", "end_date": "2022-02-25"}
        )
        == []
    )
    refused = client.call(
        "automations/report", {"start_date": "2022-03-01", "end_date": "2022-02-01"}
    )
    assert refused["succeed"] is False and "start_date" in refused["message"]


def test_handles_are_the_callers_own(server, worker, system) -> None:
    owner, stranger = client_of(server, new_account(system)), client_of(server, new_account(system))
    shop_visit(owner)
    handle = owner.call("search", {"identities": [{"email": EMAIL}]})["handle"]
    for path in ("search/status", "search/results", "delete/status", "export/results"):
        answer = stranger.call(path, {"handle": handle})
        assert answer["succeed"] is False and "not found" in answer["message"], (path, answer)
    assert finished(stranger, "search", {"identities": [{"email": EMAIL}]}) == []
    wrong_kind = owner.call("delete/results", {"handle": handle})
    assert wrong_kind["succeed"] is False


def test_bad_search_filters_get_a_clear_message(server, system) -> None:
    client = client_of(server, new_account(system))
    for request, field in (
        ({"limit": 10001}, "limit"),
        ({"from": "yesterday"}, "from"),
        ({"channels": ["no-such-channel"]}, "channels"),
        ({"identities": "aino"}, "identities"),
    ):
        answer = client.call("search", request)
        assert answer["succeed"] is False and field in answer["message"], (request, answer)
