"""v1 list external ids, health, member reports and target groups; sites; marketing settings."""

from __future__ import annotations

import base64
import json
import time

import pytest
from sqlalchemy import select

from kirje.jobs.runner import run_here
from kirje.services.system import System
from kirje.store import contacts as contact_store
from kirje.store.schema import jobs, list_external_ids, mailing_lists, site_consents, site_lists
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient


def _failure(client: LianaClient, method: str, params: list) -> str:
    envelope = client.call(method, params)
    assert envelope["succeed"] is False, envelope
    return envelope["message"]


def _member(client: LianaClient, email: str, list_id: int, properties: dict | None = None) -> int:
    return client.result(
        "createAndJoinRecipient", [None, email, None, properties or {}, 1, None, None, [list_id]]
    )


# External ids.


def test_external_id_is_added_read_found_and_replaced(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["CRM list"])
    assert client.result("addMailingListExternalId", [list_id, "abc123", "crm"]) is None
    assert client.result("getMailingListExternalId", [list_id, "crm"]) == "abc123"
    assert client.result("findListByExternalId", ["abc123", "crm"]) == list_id
    # The same list again replaces its id of that type.
    client.result("addMailingListExternalId", [list_id, "def456", "crm"])
    assert client.result("getMailingListExternalId", [list_id, "crm"]) == "def456"
    assert "not found" in _failure(client, "findListByExternalId", ["abc123", "crm"])
    client.result("addMailingListExternalId", [list_id, "abc123", "erp"])
    shown = client.result("getMailingList", [list_id])["external_ids"]
    assert shown == {"crm": "def456", "erp": "abc123"}
    listed = client.result("getMailingLists", [])
    assert [m["external_ids"] for m in listed if m["id"] == list_id] == [shown]


def test_external_id_of_another_list_conflicts(client: LianaClient) -> None:
    first = client.result("createMailingList", ["First"])
    second = client.result("createMailingList", ["Second"])
    client.result("addMailingListExternalId", [first, "abc123", "crm"])
    envelope = client.call("addMailingListExternalId", [second, "abc123", "crm"])
    assert envelope["succeed"] is False and "belongs to mailing list" in envelope["message"]
    # Another type may use the same id.
    client.result("addMailingListExternalId", [second, "abc123", "erp"])
    assert client.result("findListByExternalId", ["abc123", "erp"]) == second


def test_external_id_needs_id_and_type(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["L"])
    assert "external_id is required" in _failure(
        client, "addMailingListExternalId", [list_id, None, "crm"]
    )
    assert "external_id_type is required" in _failure(
        client, "addMailingListExternalId", [list_id, "abc"]
    )
    assert "not found" in _failure(client, "addMailingListExternalId", [list_id + 999, "a", "b"])
    assert client.result("getMailingList", [list_id])["external_ids"] == {}


def test_deleting_an_external_id(client: LianaClient, services) -> None:
    list_id = client.result("createMailingList", ["L"])
    client.result("addMailingListExternalId", [list_id, "abc123", "crm"])
    assert client.result("deleteMailingListExternalId", [list_id, "crm"]) is None
    assert "no external id" in _failure(client, "getMailingListExternalId", [list_id, "crm"])
    # Nothing left to delete is not an error; an unknown list is.
    assert client.result("deleteMailingListExternalId", [list_id, "crm"]) is None
    assert "not found" in _failure(client, "deleteMailingListExternalId", [list_id + 999, "crm"])
    with services.scope.db.reading() as conn:
        rows = conn.execute(
            select(list_external_ids).where(list_external_ids.c.list_id == list_id)
        ).all()
    assert rows == []


def test_create_mailing_list_stores_its_external_id_or_nothing(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Ext", "d", False, None, None, None, "x1", "crm"])
    assert client.result("findListByExternalId", ["x1", "crm"]) == list_id
    count = len(client.result("getMailingLists", []))
    taken = client.call("createMailingList", ["Dup", "d", False, None, None, None, "x1", "crm"])
    assert taken["succeed"] is False and "belongs to mailing list" in taken["message"]
    half = client.call("createMailingList", ["Half", "d", False, None, None, None, "x2"])
    assert half["succeed"] is False and "external_id_type is required" in half["message"]
    # Neither failure left a list behind.
    assert len(client.result("getMailingLists", [])) == count


def test_deleted_list_gives_up_its_external_ids(client: LianaClient) -> None:
    old = client.result("createMailingList", ["Old"])
    client.result("addMailingListExternalId", [old, "abc", "crm"])
    client.result("deleteMailingList", [old])
    assert "not found" in _failure(client, "getMailingListExternalId", [old, "crm"])
    new = client.result("createMailingList", ["New"])
    client.result("addMailingListExternalId", [new, "abc", "crm"])
    assert client.result("findListByExternalId", ["abc", "crm"]) == new


# Health.


def test_health_is_the_mailable_share_of_everyone_who_joined(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Health"])
    empty = client.result("createMailingList", ["Empty"])
    _member(client, "ok@example.com", list_id)
    left = _member(client, "left@example.com", list_id)
    deleted = _member(client, "deleted@example.com", list_id)
    _member(client, "ok2@example.com", list_id)
    client.result("leaveMailingList", [list_id, left, "bye", False])
    client.result("deleteRecipient", [deleted])
    assert client.result("updateMailingListHealth", [list_id]) == {str(list_id): 50}
    both = client.result("updateMailingListHealth", [[list_id, empty, list_id]])
    assert both == {str(list_id): 50, str(empty): 100}


def test_health_of_a_dynamic_list_counts_its_matches(client: LianaClient, services) -> None:
    condition = json.dumps(
        {"conditions": [{"name": "email", "condition": "begins", "value": "dyn"}], "enabled": True}
    )
    list_id = client.result("createMailingList", ["Dynamic", "d", False, condition])
    client.result("createRecipient", ["dyn1@example.com"])
    bounced = client.result("createRecipient", ["dyn2@example.com"])
    client.result("createRecipient", ["other@example.com"])
    _bounce(services, bounced)
    assert client.result("updateMailingListHealth", [list_id]) == {str(list_id): 50}


def test_health_of_an_unknown_list_is_not_found(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Known"])
    message = _failure(client, "updateMailingListHealth", [[list_id, list_id + 999]])
    assert f"mailing list {list_id + 999} not found" in message


# Members by condition.


def _bounce(services, contact_id: int) -> None:
    """Bounces arrive with the sending pipeline; until then the test marks one itself."""
    now = services.scope.clock()
    with services.scope.db.transaction() as conn:
        contact_store.update_contact(conn, services.account_id, contact_id, now, bounced_at=now)


def _report(client: LianaClient, list_id: int, condition: str, cols=None, window=3600) -> list:
    now = int(time.time())
    text = client.result(
        "getMailingListMembersByCondition",
        [list_id, now - window, now + window, condition, cols or []],
    )
    return text.split("\n")


def test_members_by_condition_reports_each_kind(client: LianaClient, services) -> None:
    list_id = client.result("createMailingList", ["Report"])
    _member(client, "stays@example.com", list_id, {"firstname": 'Ann "A"; B'})
    unsubscribes = _member(client, "unsub@example.com", list_id)
    removed = _member(client, "removed@example.com", list_id)
    bounces = _member(client, "bounces@example.com", list_id)
    client.result("leaveMailingList", [list_id, unsubscribes, "bye", False])
    client.result("removeRecipientFromMailingList", [removed, list_id])
    _bounce(services, bounces)
    header = '"email";"sms";"firstname";"lastname"'

    joined = _report(client, list_id, "joined")
    assert joined[0] == header and len(joined) == 5
    assert joined[1] == '"stays@example.com";"";"Ann ""A""; B";""'
    assert _report(client, list_id, "unsubscribed")[1:] == ['"unsub@example.com";"";"";""']
    assert _report(client, list_id, "left")[1:] == ['"removed@example.com";"";"";""']
    assert _report(client, list_id, "bounced")[1:] == ['"bounces@example.com";"";"";""']
    new = _report(client, list_id, "new")
    assert new[1:] == ['"stays@example.com";"";"Ann ""A""; B";""', '"bounces@example.com";"";"";""']


def test_members_by_condition_honours_the_range_and_columns(client: LianaClient) -> None:
    client.result("createCustomerProperty", ["city", "FI"])
    list_id = client.result("createMailingList", ["Range"])
    _member(client, "r@example.com", list_id, {"city": "Oulu", "firstname": "R"})
    later = int(time.time()) + 3600
    text = client.result(
        "getMailingListMembersByCondition", [list_id, later, later + 60, "joined", ["city"]]
    )
    assert text == '"email";"sms";"city"'
    # new ignores the range.
    text = client.result(
        "getMailingListMembersByCondition", [list_id, later, later + 60, "new", ["city", "email"]]
    )
    assert text == '"email";"sms";"city"\n"r@example.com";"";"Oulu"'
    assert _report(client, list_id, "new")[0] == '"email";"sms";"firstname";"lastname";"city"'


def test_members_by_condition_refuses_bad_input(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Bad"])
    missing = _failure(client, "getMailingListMembersByCondition", [list_id, None, None])
    assert "condition is required" in missing and "joined" in missing and "new" in missing
    unknown = _failure(client, "getMailingListMembersByCondition", [list_id, 0, 1, "opened"])
    assert "unknown condition" in unknown
    assert "unknown properties in cols: nope" in _failure(
        client, "getMailingListMembersByCondition", [list_id, None, None, "new", ["nope"]]
    )
    assert "not found" in _failure(
        client, "getMailingListMembersByCondition", [list_id + 999, None, None, "new"]
    )
    assert "later than" in _failure(
        client, "getMailingListMembersByCondition", [list_id, 10, 5, "joined"]
    )


# Target groups.


def test_request_target_group_records_a_counting_job(client: LianaClient, services) -> None:
    condition = json.dumps(
        {"conditions": [{"name": "email", "condition": "ends", "value": "@tg.example"}]}
    )
    list_id = client.result("createMailingList", ["Target", "d", False, condition])
    client.result("createRecipient", ["a@tg.example"])
    client.result("createRecipient", ["b@tg.example"])
    client.result("createRecipient", ["c@other.example"])
    handle = client.result("requestTargetGroup", [list_id])
    assert handle.startswith("H:kirje:")
    again = client.result("requestTargetgroup", [list_id])
    assert again != handle
    with services.scope.db.reading() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == int(handle.rsplit(":", 1)[1]))).one()
    assert (row.kind, row.state, row.subject_id) == ("target-group", "done", list_id)
    assert row.result["members"] == 2 and row.result["counted_at"]
    assert "not found" in _failure(client, "requestTargetGroup", [list_id + 999])


# Sites.


def _default_domain(client: LianaClient) -> str:
    return client.result("getDefaultSite", [])["domain"]


def test_set_default_site_moves_the_one_default(client: LianaClient) -> None:
    old_default = _default_domain(client)
    client.result("createSite", ["second.example"])
    assert client.result("setDefaultSite", ["Second.example", "EN", 7, 0]) == "second.example"
    sites = client.result("getAllSites", [])
    assert [s["domain"] for s in sites if s["default"]] == ["second.example"]
    site = client.result("getSite", ["second.example"])
    assert (site["language"], site["welcome"], site["ssl"]) == ("EN", 7, False)
    assert client.result("getCustomer", [])["default_site"] == "second.example"
    assert "not found" in _failure(client, "setDefaultSite", ["nowhere.example"])
    assert "invalid site domain" in _failure(client, "setDefaultSite", ["bad domain"])
    client.result("setDefaultSite", [old_default])
    assert _default_domain(client) == old_default


def test_set_site_renames_changes_or_creates(client: LianaClient) -> None:
    client.result("createSite", ["old.example"])
    assert client.result("setSite", ["old.example", 0, "new.example", "SV", 3, 1]) == "new.example"
    site = client.result("getSite", ["new.example"])
    assert (site["language"], site["welcome"], site["ssl"]) == ("SV", 3, True)
    assert "not found" in _failure(client, "getSite", ["old.example"])
    # Without a new name only the settings change.
    assert client.result("setSite", ["new.example", 0, None, "EN"]) == "new.example"
    assert client.result("getSite", ["new.example"])["language"] == "EN"
    # No site named: a new one.
    assert client.result("setSite", [None, 0, "made.example", "FI", None, 0]) == "made.example"
    assert client.result("getSite", ["made.example"])["ssl"] is False


def test_set_site_refuses_bad_input(client: LianaClient) -> None:
    client.result("createSite", ["a.example"])
    client.result("createSite", ["b.example"])
    assert "must be 0" in _failure(client, "setSite", ["a.example", 5, "c.example"])
    assert "already exists" in _failure(client, "setSite", ["a.example", 0, "b.example"])
    assert "not found" in _failure(client, "setSite", ["ghost.example", 0, "c.example"])
    assert "new_name" in _failure(client, "setSite", [None, 0, None])
    assert "ssl" in _failure(client, "setSite", ["a.example", 0, None, None, None, 2])
    assert "not found" in _failure(client, "getSite", ["c.example"])


def test_update_site_changes_the_settings_given(client: LianaClient) -> None:
    consent = client.result("createConsentType", ["Newsletter", True])
    offered = client.result("createMailingList", ["Offered", "d", True])
    not_offered = client.result("createMailingList", ["Static", "d", False])
    client.result("createSite", ["upd.example"])
    settings = {
        "language": "en",
        "ssl": False,
        "welcome": 12,
        "redirect": "https://elsewhere.example/",
        "replaced_by": "Next.example",
        "consents": [consent],
        "lists": [offered],
    }
    assert client.result("updateSite", ["upd.example", settings]) is True
    site = client.result("getSite", ["upd.example"])
    assert site["language"] == "EN" and site["ssl"] is False and site["welcome"] == 12
    assert site["redirect"] == "https://elsewhere.example/"
    assert site["replaced_by"] == "next.example"
    assert [m["id"] for m in site["lists"]] == [offered]
    assert client.result("getMailingList", [offered])["site"] == "upd.example"
    assert client.result("updateSite", ["upd.example", {"redirect": None, "lists": []}]) is True
    site = client.result("getSite", ["upd.example"])
    assert site["redirect"] is None and site["lists"] == [] and site["language"] == "EN"
    assert client.result("getMailingList", [offered])["site"] is None
    assert client.result("updateSite", ["upd.example", {}]) is True

    assert "unknown site settings: colour" in _failure(
        client, "updateSite", ["upd.example", {"colour": "red", "language": "SV"}]
    )
    assert "not self-service" in _failure(
        client, "updateSite", ["upd.example", {"lists": [not_offered], "language": "SV"}]
    )
    assert "consents not found" in _failure(
        client, "updateSite", ["upd.example", {"consents": [consent + 999]}]
    )
    assert "not found" in _failure(client, "updateSite", ["ghost.example", {}])
    # No failure changed anything.
    assert client.result("getSite", ["upd.example"])["language"] == "EN"


def test_delete_site_refuses_the_default_and_cleans_up(client: LianaClient, services) -> None:
    consent = client.result("createConsentType", ["C", True])
    client.result("createSite", ["gone.example", {"consents": [consent]}])
    list_id = client.result("createMailingList", ["On site", "d", True, None, "gone.example"])
    assert client.result("deleteSite", ["gone.example"]) is True
    assert "not found" in _failure(client, "getSite", ["gone.example"])
    assert client.result("getMailingList", [list_id])["site"] is None
    with services.scope.db.reading() as conn:
        assert conn.execute(select(site_lists).where(site_lists.c.list_id == list_id)).all() == []
        assert (
            conn.execute(
                select(site_consents).where(site_consents.c.consent_type_id == consent)
            ).all()
            == []
        )
        site_id = conn.execute(
            select(mailing_lists.c.site_id).where(mailing_lists.c.id == list_id)
        ).scalar()
    assert site_id is None
    default = _default_domain(client)
    assert "default site" in _failure(client, "deleteSite", [default])
    assert "not found" in _failure(client, "deleteSite", ["gone.example"])


def test_set_site_welcome_delivery(client: LianaClient) -> None:
    client.result("createSite", ["welcome.example"])
    assert client.result("setSiteWelcomeDelivery", ["welcome.example", 300]) == 1
    assert client.result("getSite", ["welcome.example"])["welcome"] == 300
    assert client.result("setSiteWelcomeDelivery", [None, 301]) == 1
    assert client.result("getDefaultSite", [])["welcome"] == 301
    assert client.result("setSiteWelcomeDelivery", ["welcome.example", None]) == 1
    assert client.result("getSite", ["welcome.example"])["welcome"] == 0
    assert "not found" in _failure(client, "setSiteWelcomeDelivery", ["ghost.example", 1])
    assert "welcome" in _failure(client, "setSiteWelcomeDelivery", ["welcome.example", -1])


# Marketing settings.


def _settings(client: LianaClient) -> dict:
    return {s["name"]: s["value"] for s in client.result("getMarketingSettings", [])}


def test_marketing_settings_round_trip(client: LianaClient) -> None:
    assert _settings(client) == {
        "sender_name": None,
        "sender_email": None,
        "reply_to": None,
        "allowed_domains": [],
        "cem_tracking": False,
    }
    change = [
        {"name": "sender_name", "value": "Shop"},
        {"name": "sender_email", "value": "News@Shop.example"},
        {"name": "allowed_domains", "value": ["Shop.example", "partner.example"]},
    ]
    assert client.result("setMarketingSettings", [change]) == 1
    assert client.result("setMarketingSettings", [[]]) == 1
    assert client.result("setMarketingSettings", []) == 1
    settings = _settings(client)
    assert settings["sender_name"] == "Shop"
    assert settings["sender_email"] == "news@shop.example"
    assert settings["allowed_domains"] == ["shop.example", "partner.example"]
    # null resets a setting.
    client.result("setMarketingSettings", [[{"name": "sender_name", "value": None}]])
    assert _settings(client)["sender_name"] is None


def test_marketing_settings_refuse_unknown_names_and_bad_values(client: LianaClient) -> None:
    good = {"name": "sender_name", "value": "Kept out"}
    assert "unknown marketing settings: colour" in _failure(
        client, "setMarketingSettings", [[good, {"name": "colour", "value": "red"}]]
    )
    assert "invalid email address" in _failure(
        client, "setMarketingSettings", [[good, {"name": "reply_to", "value": "nope"}]]
    )
    assert "name and a value" in _failure(client, "setMarketingSettings", [[{"name": "x"}]])
    assert "cem_tracking" in _failure(
        client, "setMarketingSettings", [[{"name": "cem_tracking", "value": "yes"}]]
    )
    assert _settings(client)["sender_name"] is None


def test_cem_tracking(client: LianaClient) -> None:
    assert client.result("setCemTracking", [True]) == 1
    assert _settings(client)["cem_tracking"] is True
    assert client.result("setCemTracking", [0]) == 1
    assert _settings(client)["cem_tracking"] is False
    assert "state" in _failure(client, "setCemTracking", [None])
    assert "state" in _failure(client, "setCemTracking", [])


def test_check_emails_for_allowed_domains(client: LianaClient) -> None:
    emails = ["a@shop.example", "b@other.example"]
    assert client.result("checkEmailsForAllowedDomains", [emails]) is True
    assert client.result("checkEmailsForAllowedDomains", [["not an address"]]) is False
    client.result(
        "setMarketingSettings", [[{"name": "allowed_domains", "value": ["shop.example"]}]]
    )
    assert client.result("checkEmailsForAllowedDomains", [["A@Shop.example"]]) is True
    assert client.result("checkEmailsForAllowedDomains", [emails]) is False
    assert client.result("checkEmailsForAllowedDomains", [[]]) is True
    assert "recipients" in _failure(client, "checkEmailsForAllowedDomains", [])


# Accounts stay apart.


@pytest.fixture
def intruder(live_server: LiveServer, system: System) -> LianaClient:
    return client_for(live_server, new_account(system))


def test_another_accounts_lists_and_sites_are_not_found(
    client: LianaClient, intruder: LianaClient
) -> None:
    list_id = client.result("createMailingList", ["Mine", "d", False, None, None, None, "m", "t"])
    client.result("createSite", ["mine.example"])
    for method, params in [
        ("addMailingListExternalId", [list_id, "other", "t"]),
        ("deleteMailingListExternalId", [list_id, "t"]),
        ("getMailingListExternalId", [list_id, "t"]),
        ("findListByExternalId", ["m", "t"]),
        ("updateMailingListHealth", [[list_id]]),
        ("getMailingListMembersByCondition", [list_id, None, None, "new"]),
        ("requestTargetGroup", [list_id]),
        ("setDefaultSite", ["mine.example"]),
        ("setSite", ["mine.example", 0, "stolen.example"]),
        ("updateSite", ["mine.example", {"language": "EN"}]),
        ("deleteSite", ["mine.example"]),
        ("setSiteWelcomeDelivery", ["mine.example", 5]),
    ]:
        assert "not found" in _failure(intruder, method, params), method
    assert client.result("getMailingListExternalId", [list_id, "t"]) == "m"
    site = client.result("getSite", ["mine.example"])
    assert (site["language"], site["welcome"], site["default"]) == ("FI", 0, False)
    # Settings are the account's own.
    intruder.result("setMarketingSettings", [[{"name": "sender_name", "value": "Intruder"}]])
    assert _settings(client)["sender_name"] is None


def test_a_list_shows_its_import_while_the_import_waits_or_runs(
    client: LianaClient, system: System
) -> None:
    importing = client.result("createMailingList", ["Importing"])
    quiet = client.result("createMailingList", ["Quiet"])
    csv_text = '"email";"firstname"\n"i1@example.com";"I"\n"i2@example.com";"J"\n'
    encoded = base64.b64encode(csv_text.encode()).decode()
    client.result("importCSVToMailingList", [importing, None, encoded, None, True])

    # No worker takes it here: it waits in the queue.
    listed = {m["id"]: m for m in client.result("getMailingLists", [])}
    waiting = listed[importing]["import"]
    assert set(waiting) == {"id", "state", "rows_done", "rows_total", "queued", "started"}
    assert (waiting["state"], waiting["rows_done"], waiting["started"]) == ("queued", 0, None)
    assert "import" not in listed[quiet]
    run_here(system, waiting["id"])

    listed = {m["id"]: m for m in client.result("getMailingLists", [])}
    assert "import" not in listed[importing]
    assert listed[importing]["members"] == 2
