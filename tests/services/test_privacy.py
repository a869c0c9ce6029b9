"""Privacy rules, on SQLite and PostgreSQL: erasure is whole or nothing, forgetting is final,
the ban is a flag with its own events."""

from __future__ import annotations

import pytest

from kirje.domain.errors import Forbidden, Invalid, NotFound
from kirje.domain.privacy import Erasure
from kirje.store import events as event_store
from kirje.store import privacy as privacy_store


def _event_types(services, contact_id: int) -> list[str]:
    with services.scope.db.reading() as conn:
        trail = event_store.contact_events(conn, services.account_id, contact_id)
    return [e.type for e in trail]


def test_forget_says_what_it_erased(services) -> None:
    contact_id = services.contacts.create(
        email="e@example.com", sms="+358401112222", properties={"firstname": "E"}
    )
    services.contacts.confirmation_code(contact_id, renew=False)
    erasure = services.privacy.forget(contact_id, reason="asked")
    assert isinstance(erasure, Erasure)
    assert erasure.contact_id == contact_id
    assert erasure.cleared_fields == ("email", "sms", "confirmation_code", "properties")
    assert (erasure.property_values, erasure.memberships_closed) == (1, 0)
    assert erasure.channels_suppressed == ("email", "sms")
    assert erasure.event_payloads_erased == 1
    assert _event_types(services, contact_id)[-1] == "forgotten"
    with pytest.raises(NotFound):
        services.privacy.forget(contact_id)


def test_forgetting_a_deleted_contact_keeps_when_it_was_deleted(services) -> None:
    contact_id = services.contacts.create(email="d@example.com", sms=None)
    services.contacts.delete(contact_id)
    deleted_at = services.contacts.get_deleted(contact_id).contact.deleted_at
    services.privacy.forget_by_email("D@example.com")
    tombstone = services.contacts.get(contact_id, include_deleted=True).contact
    assert tombstone.deleted_at == deleted_at and tombstone.forgotten_at is not None


def test_erasure_is_one_transaction(services, monkeypatch) -> None:
    contact_id = services.contacts.create(email="a@example.com", sms=None, properties={})

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(privacy_store, "suppress", fail)
    with pytest.raises(RuntimeError):
        services.privacy.forget(contact_id)
    still = services.contacts.get(contact_id).contact
    assert (still.email, still.forgotten_at) == ("a@example.com", None)
    assert _event_types(services, contact_id) == ["created"]


def test_a_forgotten_address_cannot_come_back(services) -> None:
    contact_id = services.contacts.create(email="f@example.com", sms=None)
    services.privacy.forget(contact_id)
    with pytest.raises(Forbidden, match="erased at the person's request"):
        services.contacts.create(email="F@example.com", sms=None)
    with pytest.raises(Forbidden):
        services.contacts.update("f@example.com", create=True)
    with pytest.raises(Forbidden):
        services.contacts.reactivate("f@example.com", identity="User", reason="back")


def test_ban_and_lift_append_events_and_skip_repeats(services) -> None:
    contact_id = services.contacts.create(email="b@example.com", sms=None)
    assert services.privacy.ban(contact_id, reason="complaint")
    assert services.contacts.get(contact_id).contact.banned_at is not None
    assert not services.privacy.ban(contact_id)
    assert services.privacy.lift_ban(contact_id)
    assert services.contacts.get(contact_id).contact.banned_at is None
    assert _event_types(services, contact_id) == ["created", "banned", "ban-lifted"]
    services.privacy.forget(contact_id)
    with pytest.raises(NotFound):
        services.privacy.ban(contact_id)


def test_suppression_questions_are_checked(services) -> None:
    with pytest.raises(Invalid):
        services.privacy.is_suppressed("fax", "123")
    with pytest.raises(Invalid):
        services.privacy.is_suppressed("email", "not an address")
    with pytest.raises(Invalid):
        services.privacy.banned(limit=1001)
