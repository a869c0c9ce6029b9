"""More v1 methods over HTTP: existence checks, enabling, partial updates, listings, lists."""

from __future__ import annotations

import json

from tests.liana_clients import LianaClient


def test_exists_recipient_answers_an_id_or_false(client: LianaClient) -> None:
    assert client.result("existsRecipient", ["nobody@example.com"]) is False
    assert client.result("existsRecipient", ["not an address"]) is False
    contact_id = client.result("createRecipient", ["x@example.com", "+358401234567"])
    assert client.result("existsRecipient", ["X@example.com"]) == contact_id
    assert client.result("existsRecipient", ["+358 40 1234567"]) == contact_id
    client.result("deleteRecipient", [contact_id])
    assert client.result("existsRecipient", ["x@example.com"]) == contact_id


def test_enable_and_is_enabled(client: LianaClient) -> None:
    contact_id = client.result("createRecipient", ["e@example.com"])
    assert client.result("isRecipientEnabled", [contact_id]) == 1
    assert client.result("isRecipientEnabled", ["e@example.com", True]) == 0
    client.result("deleteRecipient", [contact_id, "asked"])
    assert client.result("isRecipientEnabled", [str(contact_id)]) == 0
    assert client.result("enableRecipient", [contact_id, "came back"]) == 1
    assert client.result("isRecipientEnabled", ["e@example.com"]) == 1
    assert client.call("isRecipientEnabled", ["ghost@example.com"])["succeed"] is False


def test_update_recipient_changes_only_what_is_given(client: LianaClient) -> None:
    missing = client.call("updateRecipient", ["u@example.com", None, {"firstname": "U"}])
    assert missing["succeed"] is False and "not found" in missing["message"]
    contact_id = client.result(
        "updateRecipient", ["u@example.com", "+358401111111", {"firstname": "U"}, "r", "api", True]
    )
    assert (
        client.result("updateRecipient", ["u@example.com", None, {"lastname": "V"}]) == contact_id
    )
    recipient = client.result("getRecipient", [contact_id])
    assert recipient["recipient"]["sms"] == "+358401111111"
    assert recipient["properties"] == {"firstname": "U", "lastname": "V"}


def test_get_recipients_pages_the_account(client: LianaClient) -> None:
    ids = [client.result("createRecipient", [f"r{i}@example.com"]) for i in range(5)]
    client.result("deleteRecipient", [ids[0]])
    page = client.result("getRecipients", [1, 2, "email", "desc"])
    assert [r["recipient"]["email"] for r in page] == ["r3@example.com", "r2@example.com"]
    assert len(client.result("getRecipients", [])) == 4
    assert client.call("getRecipients", [0, 0, "id", "sideways"])["succeed"] is False
    negative = client.call("getRecipients", [-1])
    assert negative["succeed"] is False and "must not be negative" in negative["message"]


def test_leaving_on_ones_own_sticks_and_truncate_keeps_them_out(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["L"])
    stays = client.result(
        "createAndJoinRecipient", [None, "s@example.com", None, {}, 0, None, None, [list_id]]
    )
    leaves = client.result(
        "createAndJoinRecipient", [None, "l@example.com", None, {}, 0, None, None, [list_id]]
    )
    client.result("leaveMailingList", [list_id, leaves, "bye", False])
    client.result("joinMailingList", [list_id, [leaves]])
    assert client.result("getMailingListMemberCount", [list_id]) == 1
    client.result("truncateMailingList", [list_id])
    assert client.result("getMailingListMemberCount", [list_id]) == 0
    client.result("joinMailingList", [list_id, [stays, leaves]])
    members = client.result("getMailingListMembers", [list_id])
    assert [m["recipient"]["id"] for m in members] == [stays]


def test_hide_and_condition_of_lists(client: LianaClient) -> None:
    static = client.result("createMailingList", ["Static"])
    client.result("hideMailingList", [static])
    assert client.result("getMailingList", [static])["hidden"] is True
    condition = json.dumps(
        {"conditions": [{"name": "email", "condition": "begins", "value": "a"}], "enabled": True}
    )
    dynamic = client.result("createMailingList", ["Dynamic", "", False, condition])
    assert client.result("getMailingListCondition", [dynamic]) == condition
    changed = condition.replace('"a"', '"b"')
    assert client.result("editMailingListCondition", [dynamic, changed]) == changed
    client.result("createRecipient", ["bea@example.com"])
    assert client.result("getMailingListMemberCount", [dynamic]) == 1
    refused = client.call("editMailingListCondition", [static, changed])
    assert refused["succeed"] is False and "static" in refused["message"]


def test_customer_and_site_lookups(client: LianaClient) -> None:
    customer = client.result("getCustomer")
    assert client.result("getCustomerId") == customer["id"]
    default = client.result("getDefaultSite")
    assert default["domain"] == customer["default_site"] and default["default"] is True
    assert client.result("getSiteInfo", [None]) == default
    assert client.result("getSiteByName", [default["domain"]]) == default
    assert client.result("getAllSites") == client.result("getSites") == client.result("sites")
    assert client.call("getSiteInfo", ["nosuch.example"])["succeed"] is False


def test_pingpong_takes_a_keyed_body(client: LianaClient) -> None:
    assert client.raw("pingpong", '{"ping":"foo"}').json() == {
        "succeed": True,
        "result": {"pong": "foo"},
    }


def test_consent_types_edit_and_retire(client: LianaClient) -> None:
    site = client.result("getCustomer")["default_site"]
    consent_id = client.result("createConsentType", ["Terms", False])
    client.result("editConsentTranslation", [consent_id, "EN", "Terms", "Read them"])
    assert client.result("editConsentType", [consent_id, "Terms v2", 1]) == 1
    (listed,) = client.result("getConsentTypes")
    assert (listed["name"], listed["is_revokable"]) == ("Terms v2", True)
    assert client.result("deleteConsentType", [consent_id]) == 1
    assert client.result("getConsentTypes") == []
    assert client.result("getConsentTypesBySite", [site]) == []
    assert client.call("deleteConsentType", [consent_id])["succeed"] is False


def test_recipient_lists_counts_and_codes(client: LianaClient) -> None:
    first = client.result("createMailingList", ["First"])
    second = client.result("createMailingList", ["Second"])
    a = client.result(
        "createAndJoinRecipient", [None, "a@example.com", None, {}, 0, None, None, [first]]
    )
    b = client.result(
        "createAndJoinRecipient", [None, "b@example.com", None, {}, 0, None, None, [first, second]]
    )
    loner = client.result("createRecipient", ["c@example.com"])
    gone = client.result("createRecipient", ["d@example.com"])
    client.result("deleteRecipient", [gone])

    listed = client.result("getRecipientList", [[b, gone, 999999, a]])
    assert [r["recipient"]["id"] for r in listed] == [b, a]
    assert client.result("getDeletedRecipient", [gone])["recipient"]["deleted"] is True
    assert client.call("getDeletedRecipient", [a])["succeed"] is False
    assert client.result("getUnassociatedRecipientCount") == 1  # c; d is deleted
    assert client.result("getUniqueRecipientCount", [[first, second], []]) == 2
    adhocs = ["A@example.com", "new@example.com", "new@example.com"]
    assert client.result("getUniqueRecipientCount", [[second], adhocs]) == 3

    code = client.result("getRecipientConfirmationCode", [loner])
    assert len(code) == 10 and code.isalpha()
    assert client.result("getRecipientConfirmationCode", [loner]) == code
    renewed = client.result("setConfirmationCode", [loner])
    assert renewed != code and client.result("getRecipientConfirmationCode", [loner]) == renewed


def test_self_service_and_server_details(client: LianaClient) -> None:
    site = client.result("getCustomer")["default_site"]
    list_id = client.result("createMailingList", ["Offered", "", True, None, site])
    assert client.result("editMailingListSelfService", [list_id, True]) == [site]
    assert client.result("editMailingListSelfservice", [list_id, False]) == []
    assert client.result("getSiteInfo")["lists"] == []
    details = client.result("getServerDetails")
    assert details["server"] == "Kirje" and details["timezone"] == "Europe/Helsinki"
    assert client.result("getDefaultDomainPostfix") == "kirje.local"
    assert client.result("getPostfixes") == ["kirje.local"]


def test_rename_and_delete_a_property_across_contacts(client: LianaClient) -> None:
    client.result("createCustomerProperty", ["shoe size", "FI"])
    ids = [
        client.result(
            "createRecipient", [f"p{i}@example.com", None, {"shoe size": 40 + i, "firstname": "F"}]
        )
        for i in range(3)
    ]
    bare = client.result("createRecipient", ["bare@example.com"])
    assert client.result("renameCustomerProperty", ["shoe size", "Kengänkoko", "FI"]) is None
    assert client.result("getRecipient", [ids[2]])["properties"] == {
        "firstname": "F",
        "Kengänkoko": "42",
    }
    assert client.result("getRecipient", [bare])["properties"] == {}
    names = {p["name"] for p in client.result("getCustomerProperties")}
    assert "Kengänkoko" in names and "shoe size" not in names
    clash = client.call("renameCustomerProperty", ["Kengänkoko", "firstname", "FI"])
    assert clash["succeed"] is False and "already exists" in clash["message"]
    assert client.call("renameCustomerProperty", ["nope", "x", "FI"])["succeed"] is False
    assert client.call("createCustomerProperty", ['say "hi"', "FI"])["succeed"] is False

    assert client.result("deleteCustomerProperty", ["Kengänkoko", "FI"]) is None
    assert client.result("getRecipient", [ids[0]])["properties"] == {"firstname": "F"}
    assert "Kengänkoko" not in {p["name"] for p in client.result("getCustomerProperties")}
