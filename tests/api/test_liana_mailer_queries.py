"""Recipient searches over HTTP: queryRecipients and its functions, findRecipientsByProperty,
getDeletedRecipients, getRecipientsStatuses and getRecipientsListProperties."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass

import pytest

from kirje.domain.events import EventType
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from tests.liana_clients import LianaClient


@dataclass(frozen=True)
class World:
    list_id: int
    dynamic_id: int
    ids: dict[str, int]


def _condition(name: str, operator: str, value: str) -> str:
    return json.dumps({"conditions": [{"name": name, "condition": operator, "value": value}]})


@pytest.fixture
def world(client: LianaClient, services) -> World:
    """a, b: in list L, a mailed; c: in no list; d: deleted; e: bounced, in L; f: banned;
    g: forgotten. The dynamic list holds those whose city is Espoo."""
    client.result("createCustomerProperty", ["city", "FI"])
    list_id = client.result("createMailingList", ["L"])
    dynamic_id = client.result(
        "createMailingList", ["D", "", False, _condition("city", "=", "Espoo")]
    )
    cities = {"a": "Espoo", "b": "Turku", "c": "Espoo", "d": "Espoo", "e": "Turku", "f": "Oulu"}
    ids = {}
    for name in "abcdefg":
        lists = [list_id] if name in "abde" else []
        properties = {"city": cities[name]} if name in cities else {}
        ids[name] = client.result(
            "createAndJoinRecipient",
            [None, f"{name}@example.com", None, properties, True, None, None, lists],
        )
    client.result("deleteRecipient", [ids["d"]])
    client.result("forgetRecipient", [ids["g"]])
    services.privacy.ban(ids["f"])
    db, account_id = services.scope.db, services.account_id
    with db.transaction() as conn:
        now = services.scope.clock()
        contact_store.update_contact(conn, account_id, ids["e"], now, bounced_at=now)
        event_store.append_events(
            conn, [event_store.event_row(account_id, ids["a"], EventType.MAIL_SENT, now)]
        )
    return World(list_id, dynamic_id, ids)


def _ids(world: World, names: str) -> list[int]:
    return [world.ids[name] for name in names]


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("getRecipients", "abcef"),
        ("getRecipientsActive", "abc"),
        ("getRecipientsReceivedMessage", "a"),
        ("getUnassociatedRecipients", "cf"),
        ("getDeletedRecipients", "d"),
        ("getBounceDeletedRecipients", "e"),
    ],
)
def test_each_function_lists_its_ids_then_the_count(
    client: LianaClient, world: World, function: str, expected: str
) -> None:
    result = client.result("queryRecipients", [function])
    assert result == [*_ids(world, expected), len(expected)]


def test_list_members_of_static_and_dynamic_lists(client: LianaClient, world: World) -> None:
    static = client.result("queryRecipients", ["getMailingListMembers", world.list_id])
    assert static == [*_ids(world, "abe"), 3]
    dynamic = client.result("queryRecipients", ["getMailingListMembers", world.dynamic_id])
    assert dynamic == [*_ids(world, "ac"), 2]


def test_paging_ordering_and_filter_keep_the_total(client: LianaClient, world: World) -> None:
    page = client.result("queryRecipients", ["getRecipients", None, 1, 2])
    assert page == [*_ids(world, "bc"), 5]
    descending = client.result("queryRecipients", ["getRecipients", None, 0, 2, "email", "desc"])
    assert descending == [*_ids(world, "fe"), 5]
    by_city = client.result("queryRecipients", ["getRecipients", 0, 0, 0, "city", "asc", "Turku"])
    assert by_city == [*_ids(world, "be"), 2]
    beyond = client.result("queryRecipients", ["getRecipientsActive", None, 10, 5])
    assert beyond == [3]
    matching = client.result(
        "queryRecipients", ["filterRecipients", None, 0, 0, None, None, "Espoo"]
    )
    assert matching == [*_ids(world, "ac"), 2]
    by_address = client.result(
        "queryRecipientsByFunction", ["filterRecipients", None, 0, 0, None, None, "B@example.com"]
    )
    assert by_address == [world.ids["b"], 1]


def test_csv_and_gzip(client: LianaClient, world: World) -> None:
    expected_csv = "".join(f"{line}\n" for line in ['"id"', *map(str, _ids(world, "ab"))])
    params = ["getMailingListMembers", world.list_id, 0, 2, "id", "asc", None]
    assert client.result("queryRecipients", [*params, True]) == expected_csv
    packed = client.result("queryRecipients", [*params, True, True])
    assert gzip.decompress(base64.b64decode(packed)).decode() == expected_csv
    packed_json = client.result("queryRecipients", [*params, False, True])
    assert json.loads(gzip.decompress(base64.b64decode(packed_json))) == [*_ids(world, "ab"), 3]
    empty = client.result(
        "queryRecipients", ["getRecipientsReceivedMessage", None, 5, 0, *[None] * 3, 1]
    )
    assert empty == '"id"\n'


def test_the_seed_sample_answers_base64_gzip_csv(client: LianaClient, world: World) -> None:
    sample = ["getRecipients", 60, 100, 100, "email", "desc", "text", True, True]
    assert gzip.decompress(base64.b64decode(client.result("queryRecipients", sample))) == b'"id"\n'


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "parameter 1 (function) is required"),
        (["getEveryone"], "getRecipientsActive"),
        (["getMailingListMembers"], "parameter 2 (list_id)"),
        (["filterRecipients"], "parameter 7 (filter)"),
        (["getRecipients", None, 0, 0, "id", "upwards"], "sort must be asc or desc"),
        (["getRecipients", None, -1], "must not be negative"),
        (["getMailingListMembers", 999_999_999], "not found"),
    ],
)
def test_query_errors(client: LianaClient, params: list, message: str) -> None:
    envelope = client.call("queryRecipients", params)
    assert envelope["succeed"] is False
    assert message in envelope["message"]


def test_an_unknown_function_lists_the_known_ones(client: LianaClient) -> None:
    message = client.call("queryRecipients", ["getEveryone"])["message"]
    assert "getEveryone" in message
    for known in ("filterRecipients", "getMailingListMembers", "getBounceDeletedRecipients"):
        assert known in message


def _handle(client: LianaClient, name: str) -> int:
    return next(
        p["handle"] for p in client.result("getCustomerProperties", []) if p["name"] == name
    )


def test_find_recipients_by_property(client: LianaClient, world: World) -> None:
    city = _handle(client, "city")
    assert [
        r["recipient"]["id"] for r in client.result("findRecipientsByProperty", [city, "Espoo"])
    ] == [world.ids["a"]]
    everyone = client.result("findRecipientsByProperty", [city, "Espoo", 0])
    assert [r["recipient"]["email"] for r in everyone] == ["a@example.com", "c@example.com"]
    second = client.result("findRecipientsByProperty", [city, "Espoo", 5, 1])
    assert [r["recipient"]["id"] for r in second] == [world.ids["c"]]
    assert second[0]["properties"] == {"city": "Espoo"}
    assert client.result("findRecipientsByProperty", [city, "espoo", 5]) == []
    assert client.result("findRecipientsByProperty", [city, "Esp", 5]) == []


def test_find_by_property_compares_numbers_as_text(client: LianaClient) -> None:
    client.result("createCustomerProperty", ["size", "FI"])
    five = client.result("createRecipient", ["five@example.com", None, {"size": 5}])
    client.result("createRecipient", ["fifty@example.com", None, {"size": "50"}])
    size = _handle(client, "size")
    for value in (5, "5"):
        found = client.result("findRecipientsByProperty", [size, value, 10])
        assert [r["recipient"]["id"] for r in found] == [five]
    ticked = client.result("createRecipient", ["ticked@example.com", None, {"size": True}])
    found = client.result("findRecipientsByProperty", [size, True, 10])
    assert [r["recipient"]["id"] for r in found] == [ticked]


def test_find_by_property_errors(client: LianaClient) -> None:
    missing = client.call("findRecipientsByProperty", [999_999_999, "x"])
    assert missing["succeed"] is False and missing["code"] == "not_found"
    assert "property 999999999" in missing["message"]
    city = client.result("createCustomerProperty", ["town", "FI"])
    negative = client.call("findRecipientsByProperty", [city, "x", -1])
    assert negative["succeed"] is False and "must not be negative" in negative["message"]
    assert client.call("findRecipientsByProperty", [city])["succeed"] is False


def test_get_deleted_recipients(client: LianaClient, world: World) -> None:
    client.result("deleteRecipient", [world.ids["c"]])
    deleted = client.result("getDeletedRecipients", [])
    assert [r["recipient"]["id"] for r in deleted] == _ids(world, "cd")
    assert all(r["recipient"]["deleted"] is True for r in deleted)
    page = client.result("getDeletedRecipients", [0, 1, "email", "desc"])
    assert [r["recipient"]["email"] for r in page] == ["d@example.com"]
    filtered = client.result("getDeletedRecipients", [0, 0, None, None, "c@example.com"])
    assert [r["recipient"]["id"] for r in filtered] == [world.ids["c"]]
    assert client.result("getDeletedRecipients", [100, 100, "email", "desc", "text"]) == []


def test_statuses_for_a_mix_of_identifiers(client: LianaClient, world: World) -> None:
    with_sms = client.result("createRecipient", ["s@example.com", "+358401234567"])
    client.result("joinMailingList", [world.list_id, [with_sms]])
    client.result("leaveMailingList", [world.list_id, world.ids["b"], "bye", False])
    asked = [
        world.ids["a"],
        "B@Example.com",
        str(world.ids["d"]),
        "+358 40 1234567",
        "e@example.com",
        "f@example.com",
        "nobody@example.com",
        "g@example.com",
        world.ids["g"],
        999_999_999,
        "not an identifier",
    ]
    statuses = client.result("getRecipientsStatuses", [asked])
    assert list(statuses) == [str(key) for key in asked]
    a = statuses[str(world.ids["a"])]
    assert a == {
        "id": world.ids["a"],
        "enabled": True,
        "deleted": False,
        "bounced": False,
        "banned": False,
        "confirmed": True,
        "lists": {str(world.list_id): "active", str(world.dynamic_id): "active"},
    }
    assert statuses["B@Example.com"]["lists"] == {str(world.list_id): "unsubscribed"}
    d = statuses[str(world.ids["d"])]
    assert (d["id"], d["deleted"], d["enabled"]) == (world.ids["d"], True, False)
    assert statuses["+358 40 1234567"]["id"] == with_sms
    assert statuses["e@example.com"]["bounced"] is True
    assert statuses["f@example.com"]["banned"] is True
    for unknown in ("nobody@example.com", "g@example.com", str(world.ids["g"]), "999999999"):
        assert statuses[unknown] is None
    assert statuses["not an identifier"] is None


def test_statuses_limits(client: LianaClient) -> None:
    assert client.result("getRecipientsStatuses", []) == {}
    too_many = client.call("getRecipientsStatuses", [list(range(1, 1002))])
    assert too_many["succeed"] is False and "1000" in too_many["message"]


def test_list_properties(client: LianaClient, world: World) -> None:
    one = client.result("getRecipientsListProperties", [world.list_id, world.ids["a"]])
    assert one == {str(world.ids["a"]): {"city": "Espoo"}}
    everyone = client.result("getRecipientsListProperties", [world.list_id])
    assert everyone == {
        str(world.ids["a"]): {"city": "Espoo"},
        str(world.ids["b"]): {"city": "Turku"},
        str(world.ids["e"]): {"city": "Turku"},
    }
    dynamic = client.result("getRecipientsListProperties", [world.dynamic_id])
    assert list(dynamic) == [str(i) for i in _ids(world, "ac")]


@pytest.mark.parametrize(
    ("member", "message"),
    [("c", "is not a member"), ("d", "is not a member"), ("g", "is not a member")],
)
def test_list_properties_of_a_non_member_is_not_found(
    client: LianaClient, world: World, member: str, message: str
) -> None:
    envelope = client.call("getRecipientsListProperties", [world.list_id, world.ids[member]])
    assert envelope["succeed"] is False and envelope["code"] == "not_found"
    assert message in envelope["message"]


def test_list_properties_of_a_missing_list_is_not_found(client: LianaClient) -> None:
    envelope = client.call("getRecipientsListProperties", [60, 20000])
    assert envelope["succeed"] is False and envelope["code"] == "not_found"
