"""GDPR over v1: forgetting a recipient, suppression of the forgotten address, the exclusion
(marketing ban) list, the data file and the shadow recipient; and the `kirje contact` commands."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from kirje.services.system import System
from kirje.settings import Settings
from kirje.store.schema import (
    contacts,
    delivery_recipients,
    events,
    list_members,
    member_consents,
    queued_mails,
    suppressions,
)
from tests.liana_clients import LianaClient
from tests.processes import kirje_json, run_kirje

EMAIL = "forget.me@example.com"
SMS = "+358401234567"
ERASED = "erased at the person's request"


@dataclass(frozen=True)
class Person:
    contact_id: int
    list_id: int
    consent_id: int


def _person(client: LianaClient, email: str = EMAIL, sms: str | None = SMS) -> Person:
    """A recipient with everything that can hold personal data: properties, a membership with
    a reason, a consent with source data, events with payloads, a queued welcome mail."""
    client.result("createCustomerProperty", ["city", "FI"])
    consent_id = client.result("createConsentType", ["Newsletter", True])
    client.result("editConsentTranslation", [consent_id, "FI", "Uutiskirje", "Kuvaus"])
    list_id = client.result("createMailingList", ["News"])
    contact_id = client.result(
        "createAndJoinRecipient",
        [
            None,
            email,
            sms,
            {"firstname": "Ann", "city": "Turku"},
            True,
            "via-signup-form",
            "landing-pg",
            [list_id],
        ],
    )
    client.result(
        "addMemberConsent", [contact_id, consent_id, 1, "FI", "api", "https://shop.example/ann"]
    )
    client.result("sendWelcomeMail", [contact_id, client.result("getCustomer")["default_site"]])
    return Person(contact_id, list_id, consent_id)


def _rows(services, table, **where) -> list:
    conditions = [table.c.account_id == services.account_id]
    conditions += [table.c[name] == value for name, value in where.items()]
    with services.scope.db.reading() as conn:
        # In the order rows were written: without ORDER BY, PostgreSQL promises none.
        order = [table.c.id] if "id" in table.c else []
        return conn.execute(select(table).where(*conditions).order_by(*order)).all()


def _count(services, table, **where) -> int:
    return len(_rows(services, table, **where))


def _hash(account_id: int, channel: str, address: str) -> str:
    return hashlib.sha256(f"{account_id}:{channel}:{address}".encode()).hexdigest()


@pytest.mark.parametrize(
    ("method", "identify"),
    [
        ("forgetRecipient", lambda person: person.contact_id),
        ("forgetRecipientByEmail", lambda person: " Forget.Me@EXAMPLE.com "),
        ("forgetRecipientBySMS", lambda person: "040 1234567"),
    ],
)
def test_forgetting_leaves_only_an_anonymous_tombstone(
    client: LianaClient, services, method: str, identify
) -> None:
    person = _person(client)
    cid = person.contact_id
    memberships_before = _count(services, list_members, contact_id=cid)
    consents_before = _count(services, member_consents, contact_id=cid)
    events_before = _count(services, events, contact_id=cid)

    assert client.result(method, [identify(person), "asked by phone"]) == 1

    (row,) = _rows(services, contacts, id=cid)
    assert (row.email, row.sms, row.confirmation_code, row.properties) == (None, None, None, {})
    assert row.is_enabled is False and row.deleted_at and row.forgotten_at
    members = _rows(services, list_members, contact_id=cid)
    assert len(members) == memberships_before == 1
    assert [(m.status, m.reason, m.origin) for m in members] == [("removed", None, None)]
    assert members[0].left_at is not None
    consents = _rows(services, member_consents, contact_id=cid)
    assert len(consents) == consents_before == 1
    assert [(c.consent_type_id, c.revision, c.lang, c.source_data) for c in consents] == [
        (person.consent_id, 1, "FI", None)
    ]
    assert _count(services, queued_mails, contact_id=cid) == 0
    trail = _rows(services, events, contact_id=cid)
    assert len(trail) == events_before + 1
    assert all(e.data == {} for e in trail[:-1])
    assert {"list-join", "consent-given", "welcome-queued"} <= {e.type for e in trail}
    forgotten = trail[-1]
    assert forgotten.type == "forgotten"
    assert forgotten.data == {
        "cleared_fields": ["email", "sms", "properties"],
        "property_values": 2,
        "memberships_closed": 1,
        "consents_anonymised": 1,
        "event_payloads_erased": events_before,
        "queued_mails_dropped": 1,
        "confirmation_tasks_dropped": 0,
        "identifiers_dropped": 0,
        "ledger_rows_erased": 1,
        "channels_suppressed": ["email", "sms"],
    }
    # The welcome mail's ledger row stays for the reports, without the address or values.
    (mailed,) = _rows(services, delivery_recipients, contact_id=cid)
    assert (mailed.email, mailed.properties) == ("", None)
    assert {(s.channel, s.address_hash, s.reason) for s in _rows(services, suppressions)} == {
        ("email", _hash(services.account_id, "email", EMAIL), "forgotten"),
        ("sms", _hash(services.account_id, "sms", SMS), "forgotten"),
    }
    # What the API still shows: a deleted recipient with no address, and nothing to forget.
    tombstone = client.result("getDeletedRecipient", [cid])["recipient"]
    assert (tombstone["email"], tombstone["sms"], tombstone["deleted"]) == (None, None, True)
    again = client.call("forgetRecipient", [cid])
    assert (again["succeed"], again["code"]) == (False, "not_found")


def test_no_personal_data_is_left_anywhere_in_the_account(client: LianaClient, services) -> None:
    person = _person(client)
    client.result("forgetRecipient", [person.contact_id])
    with services.scope.db.reading() as conn:
        for table in (contacts, list_members, member_consents, events, queued_mails):
            rows = conn.execute(select(table).where(table.c.account_id == services.account_id))
            text = repr(rows.all())
            for secret in (EMAIL, SMS, "Turku", "Ann", "shop.example", "signup-form", "landing-pg"):
                assert secret not in text, f"{secret!r} left in {table.name}"


def test_a_forgotten_address_is_refused_on_every_create_path(client: LianaClient, services) -> None:
    person = _person(client)
    client.result("forgetRecipient", [person.contact_id])
    other = client.result("createRecipient", ["other@example.com"])
    attempts = [
        ("createRecipient", [EMAIL]),
        ("createRecipient", [None, SMS]),
        ("createRecipient", ["new@example.com", "+358 40 1234567"]),
        ("createAndJoinRecipient", [None, "FORGET.ME@example.com", None, {}, True]),
        ("createAndJoinRecipient", [None, None, SMS, {}, False, None, None, [person.list_id]]),
        ("createAndJoinRecipient", [other, EMAIL]),
        ("updateRecipient", [EMAIL, None, {"city": "Oulu"}, "r", "api", True]),
        ("reactivateRecipient", [EMAIL, "User", "came back"]),
        ("editRecipient", [other, EMAIL]),
    ]
    for method, params in attempts:
        refused = client.call(method, params)
        assert refused["succeed"] is False, (method, params)
        assert refused["code"] == "forbidden", (method, params, refused)
        assert ERASED in refused["message"]
    # The tombstone cannot be given an address through its id either.
    by_id = client.call("createAndJoinRecipient", [person.contact_id, "fresh@example.com"])
    assert (by_id["succeed"], by_id["code"]) == (False, "not_found")
    assert _count(services, contacts, email=EMAIL) == _count(services, contacts, sms=SMS) == 0
    assert services.privacy.is_suppressed("email", " Forget.Me@Example.com ")
    assert services.privacy.is_suppressed("sms", "040 1234567")
    assert not services.privacy.is_suppressed("email", "other@example.com")


def test_forgetting_an_unknown_address_writes_nothing(client: LianaClient, services) -> None:
    for method, value in [
        ("forgetRecipientByEmail", "nobody@example.com"),
        ("forgetRecipientBySMS", "+358409999999"),
        ("forgetRecipient", 999_999_999),
    ]:
        answer = client.call(method, [value])
        assert (answer["succeed"], answer["code"]) == (False, "not_found")
    assert client.call("forgetRecipientByEmail", ["not an address"])["code"] == "invalid"
    assert _count(services, suppressions) == 0
    assert _count(services, events) == 0


def test_another_accounts_recipient_cannot_be_forgotten(
    client: LianaClient, live_server, system: System
) -> None:
    from tests.conftest import client_for, new_account

    owner_account = new_account(system)
    owner = client_for(live_server, owner_account)
    contact_id = owner.result("createRecipient", [EMAIL, SMS])
    for method, value in [
        ("forgetRecipient", contact_id),
        ("forgetRecipientByEmail", EMAIL),
        ("forgetRecipientBySMS", SMS),
    ]:
        assert client.call(method, [value])["code"] == "not_found"
    assert owner.result("getRecipient", [contact_id])["recipient"]["email"] == EMAIL
    # The same address is still free in the intruder's own account.
    assert client.result("createRecipient", [EMAIL])


def test_banned_recipients_form_the_exclusion_list(client: LianaClient, services) -> None:
    ids = [client.result("createRecipient", [f"b{i}@example.com"]) for i in range(4)]
    for contact_id in ids[:3]:
        assert services.privacy.ban(contact_id, reason="complained") is True
    assert services.privacy.ban(ids[0]) is False
    client.result("deleteRecipient", [ids[2]])

    listed = client.result("getExcludedMembers", [])
    assert [r["recipient"]["id"] for r in listed] == ids[:3]
    assert listed[2]["recipient"]["deleted"] is True
    page = client.result("getExcludedMembers", [{"offset": 1, "limit": "1"}])
    assert [r["recipient"]["id"] for r in page] == [ids[1]]
    by_email = client.result("getExcludedMembers", [{"email": "B1@example.com"}])
    assert [r["recipient"]["email"] for r in by_email] == ["b1@example.com"]
    assert client.result("getExcludedMembers", [{"email": "b3@example.com"}]) == []

    assert services.privacy.lift_ban(ids[1], reason="sorted out") is True
    assert services.privacy.lift_ban(ids[1]) is False
    assert [r["recipient"]["id"] for r in client.result("getExcludedMembers")] == [ids[0], ids[2]]
    types = [e.type for e in _rows(services, events, contact_id=ids[1])]
    assert types[-2:] == ["banned", "ban-lifted"]


@pytest.mark.parametrize(
    "params", [[{"colour": "red"}], [{"limit": 1001}], [{"offset": -1}], [{"limit": "x"}]]
)
def test_exclusion_list_refuses_bad_params(client: LianaClient, params) -> None:
    answer = client.call("getExcludedMembers", params)
    assert (answer["succeed"], answer["code"]) == (False, "invalid")


def test_data_file_holds_everything_about_the_person(client: LianaClient) -> None:
    person = _person(client)
    encoded = client.result("getRecipientDataInFile", [person.contact_id])
    document = json.loads(base64.b64decode(encoded).decode("utf-8"))
    assert document["recipient"]["email"] == EMAIL
    assert document["recipient"]["sms"] == SMS
    assert document["properties"] == {"firstname": "Ann", "city": "Turku"}
    assert [(m["list_id"], m["status"]) for m in document["memberships"]] == [
        (person.list_id, "active")
    ]
    (consent,) = document["consents"]
    assert (consent["consent_id"], consent["revision"], consent["lang"]) == (
        person.consent_id,
        1,
        "FI",
    )
    assert consent["source_data"] == "https://shop.example/ann"
    assert "created" in [e["type"] for e in document["events"]]
    assert [m["kind"] for m in document["queued_mails"]] == ["welcome"]

    text = client.result("getRecipientDataInFile", [person.contact_id, {"base64": False}])
    assert json.loads(text) == document
    csv_text = client.result(
        "getRecipientDataInFile", [person.contact_id, {"format": "csv", "base64": False}]
    )
    assert csv_text.startswith('"recipient"\n"id";"email";"sms";')
    assert f'"{EMAIL}"' in csv_text and '"city";"Turku"' in csv_text
    for section in ("properties", "memberships", "consents", "events", "queued_mails"):
        assert f'\n\n"{section}"\n' in csv_text
    assert (
        base64.b64decode(
            client.result("getRecipientDataInFile", [person.contact_id, {"format": "csv"}])
        ).decode("utf-8")
        == csv_text
    )


@pytest.mark.parametrize("options", [{"zip": True}, {"format": "xml"}, {"base64": "maybe"}])
def test_data_file_refuses_unknown_options(client: LianaClient, options: dict) -> None:
    contact_id = client.result("createRecipient", ["d@example.com"])
    answer = client.call("getRecipientDataInFile", [contact_id, options])
    assert (answer["succeed"], answer["code"]) == (False, "invalid")


def test_shadow_recipient_survives_erasure_without_personal_data(client: LianaClient) -> None:
    person = _person(client)
    active = client.result("getShadowRecipient", [person.contact_id])
    assert set(active) == {
        "id",
        "created",
        "deleted",
        "forgotten",
        "enabled",
        "lists",
        "consents",
        "events",
    }
    assert (active["id"], active["enabled"], active["deleted"], active["forgotten"]) == (
        person.contact_id,
        True,
        None,
        None,
    )
    assert (active["lists"], active["consents"]) == ([person.list_id], 1)

    client.result("forgetRecipient", [person.contact_id])
    shadow = client.result("getShadowRecipient", [person.contact_id])
    assert shadow["enabled"] is False and shadow["deleted"] and shadow["forgotten"]
    assert (shadow["created"], shadow["lists"], shadow["consents"]) == (
        active["created"],
        [person.list_id],
        1,
    )
    assert shadow["events"] == active["events"] + 1
    assert EMAIL not in json.dumps(shadow)

    deleted = client.result("createRecipient", ["gone@example.com"])
    client.result("deleteRecipient", [deleted])
    gone = client.result("getShadowRecipient", [deleted])
    assert gone["deleted"] and gone["forgotten"] is None and gone["lists"] == []
    assert client.call("getShadowRecipient", [])["code"] == "invalid"
    assert client.call("getShadowRecipient", [999_999_999])["code"] == "not_found"


# The command line, run as a process on SQLite.


def _contact_in(data_dir: Path, account_id: int, email: str) -> int:
    system = System.open(Settings(data_dir=data_dir))
    try:
        return system.for_account(account_id).contacts.create(
            email=email, sms=None, properties={"firstname": "Cli"}
        )
    finally:
        system.close()


def test_cli_forget_prints_the_erasure(data_dir: Path) -> None:
    account_id = str(kirje_json(data_dir, "account", "create", "--name", "P")["account_id"])
    contact_id = _contact_in(data_dir, int(account_id), "cli@example.com")
    printed = kirje_json(
        data_dir, "contact", "forget", "--account", account_id, "--email", "CLI@example.com"
    )
    assert printed["contact_id"] == contact_id
    assert printed["cleared_fields"] == ["email", "properties"]
    assert printed["property_values"] == 1
    assert printed["channels_suppressed"] == ["email"]
    assert printed["event_payloads_erased"] == 1
    assert "cli@example.com" not in json.dumps(printed)
    again = run_kirje(
        data_dir, "contact", "forget", "--account", account_id, "--id", str(contact_id), check=False
    )
    assert again.returncode == 1 and "not found" in again.stderr
    both = run_kirje(
        data_dir,
        "contact",
        "forget",
        "--account",
        account_id,
        "--id",
        "1",
        "--sms",
        "1",
        check=False,
    )
    assert both.returncode != 0 and both.stdout == ""


def test_cli_ban_and_unban(data_dir: Path) -> None:
    account_id = kirje_json(data_dir, "account", "create", "--name", "B")["account_id"]
    contact_id = _contact_in(data_dir, account_id, "ban@example.com")
    common = ["--account", str(account_id), "--id", str(contact_id)]
    banned = run_kirje(data_dir, "contact", "ban", *common, "--reason", "spam complaint")
    assert f"contact {contact_id}: banned" in banned.stderr
    system = System.open(Settings(data_dir=data_dir))
    try:
        services = system.for_account(account_id)
        assert [d.contact.id for d in services.privacy.banned()] == [contact_id]
        run_kirje(data_dir, "contact", "unban", *common)
        assert services.privacy.banned() == []
    finally:
        system.close()
    missing = run_kirje(
        data_dir, "contact", "ban", "--account", str(account_id), "--id", "999999", check=False
    )
    assert missing.returncode == 1 and "recipient 999999 not found" in missing.stderr
