"""Contact rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.lists import MemberPage
from kirje.services.contacts import KEEP
from kirje.store import events as event_store


def _event_types(system, services, contact_id: int) -> list[str]:
    with system.db.reading() as conn:
        return [e.type for e in event_store.contact_events(conn, services.account_id, contact_id)]


def test_addresses_are_normalised_and_unique_per_account(services) -> None:
    contact_id = services.contacts.create(email=" Ann@Example.COM ", sms="040 1234567")
    found = services.contacts.get_by_email("ann@example.com").contact
    assert found.id == contact_id
    assert (found.email, found.sms) == ("ann@example.com", "+358401234567")
    assert services.contacts.get_by_sms("+358 40 1234567").contact.id == contact_id
    with pytest.raises(Conflict):
        services.contacts.create(email="ANN@example.com", sms=None)


def test_the_same_address_in_two_accounts_is_two_contacts(system, services) -> None:
    from tests.conftest import new_account

    other = system.for_account(new_account(system).account_id)
    mine = services.contacts.create(email="shared@example.com", sms=None)
    theirs = other.contacts.create(email="shared@example.com", sms=None)
    assert mine != theirs
    with pytest.raises(NotFound):
        other.contacts.get(mine)


def test_a_contact_needs_an_identifier(services) -> None:
    with pytest.raises(Invalid):
        services.contacts.create(email=None, sms=None)


def test_property_names_resolve_by_name_or_label_and_unknown_ones_are_refused(services) -> None:
    contact_id = services.contacts.create(
        email="p@example.com", sms=None, properties={"FIRSTNAME": "A", "Last name": 7}
    )
    assert services.contacts.get(contact_id).contact.properties == {
        "firstname": "A",
        "lastname": "7",
    }
    with pytest.raises(Invalid, match="unknown properties: nope"):
        services.contacts.create(email="q@example.com", sms=None, properties={"nope": "x"})
    with pytest.raises(Invalid, match="reserved"):
        services.contacts.create(email="r@example.com", sms=None, properties={"email": "x"})


def test_edit_changes_only_what_is_given_and_records_it(system, services) -> None:
    contact_id = services.contacts.create(
        email="e@example.com", sms="+358401111111", properties={"firstname": "Old"}
    )
    services.contacts.edit(
        contact_id, email="e2@example.com", sms=KEEP, properties={"lastname": "L"}
    )
    contact = services.contacts.get(contact_id).contact
    assert (contact.email, contact.sms) == ("e2@example.com", "+358401111111")
    assert contact.properties == {"firstname": "Old", "lastname": "L"}
    services.contacts.edit(contact_id, email="e2@example.com", sms="")
    assert services.contacts.get(contact_id).contact.sms is None
    assert _event_types(system, services, contact_id) == ["created", "data-change", "data-change"]


def test_an_edit_that_changes_nothing_appends_no_event(system, services) -> None:
    contact_id = services.contacts.create(email="same@example.com", sms=None)
    services.contacts.edit(contact_id, email="same@example.com", properties={})
    assert _event_types(system, services, contact_id) == ["created"]


def test_delete_and_reactivate(system, services) -> None:
    contact_id = services.contacts.create(email="d@example.com", sms=None)
    services.contacts.delete(contact_id, reason="asked")
    with pytest.raises(NotFound):
        services.contacts.get(contact_id)
    assert services.contacts.get(contact_id, include_deleted=True).contact.is_enabled is False
    assert (
        services.contacts.reactivate("d@example.com", identity="Admin", reason="back") == contact_id
    )
    assert services.contacts.get(contact_id).contact.is_enabled is True
    assert _event_types(system, services, contact_id) == ["created", "deleted", "reactivated"]
    with pytest.raises(NotFound):
        services.contacts.reactivate("nobody@example.com", identity="x", reason="y")


def test_self_unsubscribed_members_are_not_re_added_by_an_integration(services) -> None:
    list_id = services.lists.create("L")
    contact_id = services.contacts.create(email="u@example.com", sms=None)
    services.lists.join(list_id, [contact_id])
    from kirje.services import memberships

    with services.scope.db.transaction() as conn:
        memberships.leave(
            conn,
            services.account_id,
            [contact_id],
            [list_id],
            now=services.scope.clock(),
            by_contact=True,
        )
    assert services.lists.join(list_id, [contact_id]) == []
    assert services.lists.member_count(list_id) == 0
    # The person's own action, or an explicit rejoin, brings them back.
    assert services.lists.join(list_id, [contact_id], is_admin=False) == [contact_id]
    assert services.lists.member_count(list_id) == 1


def test_removed_members_come_back_on_join_and_remove_from_all_lists(services) -> None:
    first, second = services.lists.create("A"), services.lists.create("B")
    contact_id = services.contacts.create_or_update(email="m@example.com", list_ids=[first, second])
    assert [m.list_id for m in services.contacts.get(contact_id).memberships] == [first, second]
    services.contacts.remove_from_list(contact_id, 0)
    assert services.contacts.get(contact_id).memberships == []
    assert services.lists.join(first, [contact_id]) == [contact_id]


def test_join_refuses_unknown_contacts_unless_told_to_ignore_them(services) -> None:
    list_id = services.lists.create("L")
    contact_id = services.contacts.create(email="j@example.com", sms=None)
    with pytest.raises(NotFound, match="424242"):
        services.lists.join(list_id, [contact_id, 424242])
    assert services.lists.member_count(list_id) == 0
    assert services.lists.join(list_id, [contact_id, 424242], ignore_missing=True) == [contact_id]


def test_truncating_join_keeps_only_the_given_members(services) -> None:
    list_id = services.lists.create("L")
    ids = [services.contacts.create(email=f"t{i}@example.com", sms=None) for i in range(3)]
    services.lists.join(list_id, ids)
    services.lists.join(list_id, ids[:1], truncate=True)
    assert [d.contact.id for d in services.lists.members(list_id)] == ids[:1]


def test_members_page_orders_and_filters(services) -> None:
    list_id = services.lists.create("L")
    for name in ("Cecilia", "Aino", "Bertta"):
        services.contacts.create_or_update(
            email=f"{name.lower()}@example.com", properties={"firstname": name}, list_ids=[list_id]
        )
    page = services.lists.members(
        list_id, MemberPage(order_by="firstname", descending=True, limit=2)
    )
    assert [d.contact.properties["firstname"] for d in page] == ["Cecilia", "Bertta"]
    assert [
        d.contact.email for d in services.lists.members(list_id, MemberPage(filter_text="Aino"))
    ] == ["aino@example.com"]
    assert len(services.lists.members(list_id, MemberPage(filter_text="has_sms"))) == 0


def test_dynamic_lists_validate_their_condition(services) -> None:
    good = '{"conditions":[{"name":"email","condition":"begins","value":"a"}],"enabled":true}'
    assert services.lists.get(services.lists.create("D", condition=good)).kind.value == "dynamic"
    with pytest.raises(Invalid, match=r"conditions\[0\]: unknown condition 'like'"):
        services.lists.create(
            "Bad", condition='{"conditions":[{"name":"a","condition":"like","value":1}]}'
        )
    with pytest.raises(Invalid, match="not valid JSON"):
        services.lists.create("Bad", condition="{")


def test_consent_revisions_carry_other_languages(services) -> None:
    consent_id = services.consents.create_type("News", is_revokable=True)
    assert (
        services.consents.edit_translation(consent_id, lang="fi", title="Uutiset", description="")
        == 1
    )
    assert (
        services.consents.edit_translation(consent_id, lang="en", title="News", description="") == 2
    )
    (item,) = services.consents.all()
    assert item.consent.revision == 2
    assert {(t.lang, t.revision) for t in item.texts} == {("FI", 2), ("EN", 2)}


def test_consents_need_a_known_revision_and_only_revokable_ones_revoke(services) -> None:
    contact_id = services.contacts.create(email="c@example.com", sms=None)
    fixed = services.consents.create_type("Terms", is_revokable=False)
    services.consents.edit_translation(fixed, lang="FI", title="Ehdot", description="")
    with pytest.raises(NotFound, match="revision 9"):
        services.contacts.add_consent(
            contact_id, consent_id=fixed, revision=9, lang="FI", source="api"
        )
    services.contacts.add_consent(contact_id, consent_id=fixed, revision=1, lang="FI", source="api")
    with pytest.raises(Conflict, match="not revokable"):
        services.contacts.revoke_consent(contact_id, consent_id=fixed, revision=1, lang="FI")


def test_welcome_mail_is_queued_once_unless_forced(services) -> None:
    contact_id = services.contacts.create(email="w@example.com", sms=None)
    site = services.sites.default().domain
    assert services.contacts.queue_welcome_mail(contact_id, site, properties=None) is True
    assert (
        services.contacts.queue_welcome_mail(contact_id, site, force=False, properties=None)
        is False
    )
    assert services.contacts.queue_welcome_mail(contact_id, site, force=True, properties={}) is True
    with pytest.raises(NotFound):
        services.contacts.queue_welcome_mail(contact_id, "nosuch.example", properties=None)


def test_joining_confirms_unless_told_not_to(system, services) -> None:
    list_id = services.lists.create("L")
    quiet = services.contacts.create(email="quiet@example.com", sms=None)
    loud = services.contacts.create(email="loud@example.com", sms=None)
    services.lists.join(list_id, [quiet])
    services.lists.join(list_id, [loud], confirm=True)
    assert services.contacts.get(quiet).contact.confirmed_at is None
    assert services.contacts.get(loud).contact.confirmed_at is not None
    assert _event_types(system, services, loud) == ["created", "list-join", "confirmed"]
