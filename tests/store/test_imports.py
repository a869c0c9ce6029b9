"""The database side of imports, on SQLite and PostgreSQL: staged rows merge into contacts,
memberships, consents and events by the list's rules, exactly once."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kirje.domain.errors import Conflict
from kirje.domain.imports import ImportOptions, ImportRow, LogSection, MergeOutcome, RejectedLine
from kirje.services.base import utc_now
from kirje.store import events as event_store
from kirje.store import imports as import_store
from kirje.store.schema import contacts, events, import_staging, list_members, member_consents
from kirje.store.staging_copy import encode_staging_rows
from tests.conftest import new_account

_job_ids = itertools.count(uuid.uuid4().int % 10**9)


@pytest.fixture
def job_id() -> int:
    return next(_job_ids)


@pytest.fixture
def list_id(services) -> int:
    return services.lists.create(f"import {uuid.uuid4().hex[:6]}")


@pytest.fixture
def with_properties(services) -> None:
    for name in ("firstname", "city"):
        with contextlib.suppress(Conflict):  # the account may define it already
            services.properties.create(name)


def _row(line: int, email: str | None, sms: str | None = None, **properties) -> ImportRow:
    return ImportRow(line, email, sms, properties)


def _stage(system, job_id: int, rows: list[ImportRow]) -> None:
    with system.db.transaction() as conn:
        import_store.stage_rows(conn, job_id, rows)


def _merge(system, services, list_id, job_id, first, last, *, now=None, **options):
    with system.db.transaction() as conn:
        return import_store.merge_staged(
            conn,
            account_id=services.account_id,
            job_id=job_id,
            list_id=list_id,
            first_line=first,
            last_line=last,
            now=now or utc_now(),
            options=ImportOptions(list_id=list_id, **options),
        )


def _import(system, services, list_id, job_id, rows, *, truncate=False, **options):
    """The lead's job in miniature: stage, mark duplicates, truncate, merge in two ranges."""
    _stage(system, job_id, rows)
    now = utc_now()
    with system.db.transaction() as conn:
        import_store.mark_superseded(conn, job_id, keep_all=options.get("use_duplicates", False))
        if truncate:
            import_store.truncate_list_for_import(conn, services.account_id, list_id, job_id, now)
    last = max(row.line for row in rows)
    middle = (2 + last) // 2
    outcomes = [
        _merge(system, services, list_id, job_id, first, end, now=now, **options)
        for first, end in ((2, middle), (middle + 1, last))
    ]
    return MergeOutcome(
        **{
            field: sum(getattr(outcome, field) for outcome in outcomes)
            for field in ("new", "updated", "joined", "unsubscribed", "deleted")
        }
    )


def _rejected(system, job_id: int) -> list[tuple[int, str, str]]:
    with system.db.reading() as conn:
        return [
            (line.line, line.section.value, line.value)
            for line in import_store.rejections(conn, job_id)
        ]


def _status(system, services, list_id: int, email: str) -> str | None:
    with system.db.reading() as conn:
        return conn.execute(
            select(list_members.c.status)
            .join(contacts, contacts.c.id == list_members.c.contact_id)
            .where(
                contacts.c.account_id == services.account_id,
                contacts.c.email == email,
                list_members.c.list_id == list_id,
            )
        ).scalar()


def _event_types(system, services, contact_id: int) -> list[str]:
    with system.db.reading() as conn:
        return [e.type for e in event_store.contact_events(conn, services.account_id, contact_id)]


def _table_sizes(system, account_id: int) -> tuple[int, int, int, int]:
    with system.db.reading() as conn:
        return tuple(
            conn.execute(select(func.count()).where(table.c.account_id == account_id)).scalar()
            for table in (contacts, list_members, member_consents, events)
        )


def test_new_contacts_are_created_confirmed_and_joined(system, services, list_id, job_id):
    rows = [
        _row(2, "a@example.com", "+358401000001", firstname="A"),
        _row(3, None, "+358401000002"),
    ]
    outcome = _import(system, services, list_id, job_id, rows)
    assert (outcome.new, outcome.updated, outcome.joined) == (2, 0, 2)
    created = services.contacts.get_by_email("a@example.com")
    assert created.contact.properties == {"firstname": "A"}
    assert created.contact.sms == "+358401000001"
    assert created.contact.confirmed_at is not None and created.contact.is_enabled
    assert [(m.list_id, m.is_admin) for m in created.memberships] == [(list_id, True)]
    assert _event_types(system, services, created.contact.id) == ["created", "list-join"]
    by_sms = services.contacts.get_by_sms("+358401000002")
    assert by_sms.contact.email is None and by_sms.memberships[0].list_id == list_id
    with system.db.reading() as conn:
        joined = conn.execute(
            select(list_members.c.origin, list_members.c.reason).where(
                list_members.c.contact_id == created.contact.id
            )
        ).one()
        trail = event_store.contact_events(conn, services.account_id, created.contact.id)
    assert tuple(joined) == ("import", str(job_id))
    assert trail[0].data == {
        "origin": "import",
        "reason": str(job_id),
        "properties": rows[0].properties,
    }
    assert trail[1].data == {"admin": True, "origin": "import", "reason": str(job_id)}
    assert trail[1].list_id == list_id


def test_existing_contacts_get_the_given_values_over_theirs(
    system, services, list_id, job_id, with_properties
):
    contact_id = services.contacts.create(
        email="old@example.com", sms=None, properties={"firstname": "Old", "city": "Oulu"}
    )
    rows = [_row(2, "old@example.com", "+358401000003", firstname="New", city="")]
    outcome = _import(system, services, list_id, job_id, rows)
    assert (outcome.new, outcome.updated, outcome.joined) == (0, 1, 1)
    contact = services.contacts.get(contact_id).contact
    assert contact.properties == {"firstname": "New", "city": "Oulu"}
    assert contact.sms == "+358401000003"
    assert _event_types(system, services, contact_id) == ["created", "data-change", "list-join"]


def test_an_sms_number_held_by_another_contact_is_not_taken(system, services, list_id, job_id):
    holder = services.contacts.create(email=None, sms="+358401000004")
    rows = [_row(2, "new@example.com", "+358401000004"), _row(3, None, "+358401000004", city="X")]
    outcome = _import(system, services, list_id, job_id, rows)
    assert (outcome.new, outcome.updated) == (1, 1)
    assert services.contacts.get_by_email("new@example.com").contact.sms is None
    assert services.contacts.get(holder).contact.properties == {"city": "X"}


def test_the_last_line_of_an_address_wins_and_earlier_ones_are_logged(
    system, services, list_id, job_id
):
    rows = [
        _row(2, "dup@example.com", firstname="First", city="Turku"),
        _row(3, "other@example.com"),
        _row(4, "dup@example.com", firstname="Last"),
    ]
    outcome = _import(system, services, list_id, job_id, rows)
    assert (outcome.new, outcome.updated) == (2, 0)
    assert services.contacts.get_by_email("dup@example.com").contact.properties == {
        "firstname": "Last"
    }
    assert _rejected(system, job_id) == [(2, "duplicate", "dup@example.com")]
    with system.db.reading() as conn:
        assert import_store.import_counts(conn, job_id).duplicates == 1


def test_use_duplicates_folds_every_line_into_the_contact(system, services, list_id, job_id):
    rows = [
        _row(2, "dup@example.com", firstname="First", city="Turku"),
        _row(3, "dup@example.com", firstname="Last"),
    ]
    _import(system, services, list_id, job_id, rows, use_duplicates=True)
    assert services.contacts.get_by_email("dup@example.com").contact.properties == {
        "firstname": "Last",
        "city": "Turku",
    }
    assert _rejected(system, job_id) == []


def test_those_who_left_on_their_own_and_banned_contacts_are_not_joined(
    system, services, list_id, job_id
):
    quitter = services.contacts.create(email="quit@example.com", sms=None)
    removed = services.contacts.create(email="removed@example.com", sms=None)
    banned = services.contacts.create(email="banned@example.com", sms=None)
    services.lists.join(list_id, [quitter, removed])
    services.contacts.leave_list(quitter, list_id, by_contact=True)
    services.contacts.remove_from_list(removed, list_id)
    services.privacy.ban(banned)
    rows = [
        _row(2, "quit@example.com", firstname="Q"),
        _row(3, "removed@example.com"),
        _row(4, "banned@example.com"),
    ]
    outcome = _import(system, services, list_id, job_id, rows)
    assert (outcome.updated, outcome.joined, outcome.unsubscribed) == (1, 1, 2)
    assert _status(system, services, list_id, "quit@example.com") == "unsubscribed"
    assert _status(system, services, list_id, "removed@example.com") == "active"
    assert _status(system, services, list_id, "banned@example.com") is None
    assert services.contacts.get(quitter).contact.properties == {}
    assert _rejected(system, job_id) == [
        (2, "unsubscribed", "quit@example.com"),
        (4, "unsubscribed", "banned@example.com"),
    ]
    assert _event_types(system, services, removed)[-1] == "list-join"


def test_deleted_and_forgotten_contacts_stay_out(system, services, list_id, job_id):
    deleted = services.contacts.create(email="deleted@example.com", sms=None)
    services.contacts.delete(deleted)
    forgotten = services.contacts.create(email="forgotten@example.com", sms=None)
    services.privacy.forget(forgotten)
    rows = [_row(2, "deleted@example.com", firstname="D"), _row(3, "forgotten@example.com")]
    outcome = _import(system, services, list_id, job_id, rows)
    assert (outcome.new, outcome.updated, outcome.deleted) == (0, 0, 2)
    assert services.contacts.get(deleted, include_deleted=True).contact.properties == {}
    assert services.contacts.find_id("forgotten@example.com") is None
    assert [(line, section) for line, section, _ in _rejected(system, job_id)] == [
        (2, "deleted"),
        (3, "deleted"),
    ]


def test_truncate_keeps_the_file_and_ends_the_rest(system, services, list_id, job_id):
    ids = {
        name: services.contacts.create(email=f"{name}@example.com", sms=None)
        for name in ("stays", "goes", "quit", "banned")
    }
    services.lists.join(list_id, list(ids.values()))
    services.contacts.leave_list(ids["quit"], list_id, by_contact=True)
    services.privacy.ban(ids["banned"])
    rows = [
        _row(2, "stays@example.com"),
        _row(3, "quit@example.com"),
        _row(4, "banned@example.com"),
        _row(5, "fresh@example.com"),
    ]
    _import(system, services, list_id, job_id, rows, truncate=True)
    statuses = {
        name: _status(system, services, list_id, f"{name}@example.com")
        for name in ("stays", "goes", "quit", "banned", "fresh")
    }
    assert statuses == {
        "stays": "active",
        "goes": "removed",
        "quit": "unsubscribed",
        "banned": "removed",
        "fresh": "active",
    }
    # Staying needed no leave-and-join: one join, from before the import.
    assert _event_types(system, services, ids["stays"]) == ["created", "list-join"]
    assert _event_types(system, services, ids["goes"])[-1] == "list-quit"


def test_the_import_consent_is_given_once(system, services, list_id, job_id):
    consent_id = services.consents.create_type("Newsletter", is_revokable=True)
    revision = services.consents.edit_translation(
        consent_id, lang="EN", title="Letters", description=""
    )
    rows = [_row(2, "c@example.com")]
    _import(system, services, list_id, job_id, rows, consent_id=consent_id, consent_lang="en")
    again = next(_job_ids)
    _import(system, services, list_id, again, rows, consent_id=consent_id, consent_lang="en")
    details = services.contacts.get_by_email("c@example.com")
    assert [(c.consent_id, c.revision, c.lang, c.source) for c in details.consents] == [
        (consent_id, revision, "EN", "import")
    ]
    assert _event_types(system, services, details.contact.id).count("consent-given") == 1


def test_merging_a_range_again_changes_nothing(system, services, list_id, job_id):
    consent_id = services.consents.create_type("Terms", is_revokable=False)
    services.consents.edit_translation(consent_id, lang="FI", title="Ehdot", description="")
    services.contacts.create(email="known@example.com", sms=None)
    rows = [_row(line, f"r{line}@example.com", firstname=str(line)) for line in range(2, 30)]
    rows.append(_row(30, "known@example.com", city="Vaasa"))
    options = dict(consent_id=consent_id, consent_lang="FI")
    _import(system, services, list_id, job_id, rows, **options)
    before = _table_sizes(system, services.account_id)
    for now in (None, utc_now() + timedelta(hours=1)):
        outcome = _merge(system, services, list_id, job_id, 2, 30, now=now, **options)
        assert (outcome.new, outcome.joined) == (0, 0)
    assert _table_sizes(system, services.account_id) == before
    # Events: 29 created (one before the import), 29 joins, 29 consents, 1 data change.
    assert before == (29, 29, 29, 29 * 3 + 1)


def test_another_accounts_contacts_are_untouched(system, services, list_id, job_id):
    other = system.for_account(new_account(system).account_id)
    theirs = other.contacts.create(email="shared@example.com", sms="+358401000009")
    _import(system, services, list_id, job_id, [_row(2, "shared@example.com", "+358401000009")])
    ours = services.contacts.get_by_email("shared@example.com").contact
    assert ours.id != theirs and ours.sms == "+358401000009"
    untouched = other.contacts.get(theirs)
    assert untouched.contact.properties == {} and untouched.memberships == []


def test_a_resumed_stage_drops_what_came_after_its_checkpoint(system, services, list_id, job_id):
    _stage(system, job_id, [_row(line, f"s{line}@example.com") for line in range(2, 12)])
    with system.db.transaction() as conn:
        import_store.record_rejections(
            conn,
            job_id,
            [
                RejectedLine(3, LogSection.REJECTED, "invalid email address", "x@"),
                RejectedLine(9, LogSection.EMPTY, "no email or SMS", ""),
            ],
        )
        import_store.discard_staged_after(conn, job_id, 6)
        lines = conn.execute(
            select(import_staging.c.line).where(import_staging.c.job_id == job_id)
        ).scalars()
        assert list(lines) == [2, 3, 4, 5, 6]
        counts = import_store.import_counts(conn, job_id)
        assert (counts.rejected, counts.empty) == (1, 0)
        import_store.drop_staging(conn, job_id)
        assert (
            import_store.merge_staged(
                conn,
                account_id=services.account_id,
                job_id=job_id,
                list_id=list_id,
                first_line=2,
                last_line=6,
                now=utc_now(),
                options=ImportOptions(list_id=list_id),
            )
            == MergeOutcome()
        )
    assert _rejected(system, job_id) == [(3, "rejected", "x@")]


def test_rejections_read_in_line_order_across_pages(system, job_id):
    lines = [RejectedLine(n, LogSection.REJECTED, "bad", str(n)) for n in range(50, 1, -1)]
    with system.db.transaction() as conn:
        import_store.record_rejections(conn, job_id, lines)
    with system.db.reading() as conn:
        read = [line.line for line in import_store.rejections(conn, job_id, page=7)]
    assert read == list(range(2, 51))


def test_two_lines_naming_one_contact_join_it_once(system, services, list_id, job_id):
    contact_id = services.contacts.create(email="both@example.com", sms="+358401000010")
    rows = [_row(2, "both@example.com", city="A"), _row(3, None, "+358401000010", firstname="B")]
    _stage(system, job_id, rows)
    with system.db.transaction() as conn:
        import_store.mark_superseded(conn, job_id)
    outcome = _merge(system, services, list_id, job_id, 2, 3)  # one range: both lines at once
    assert (outcome.new, outcome.updated, outcome.joined) == (0, 2, 1)
    assert _event_types(system, services, contact_id).count("list-join") == 1


def test_staged_values_come_back_exactly_whatever_their_characters(system, job_id):
    awkward = {
        "firstname": 'Tab\there, "quoted", back\\slash',
        "city": "Line\nbreak and\r\nreturn, Jyväskylä ✓",
        "note": "\\N",
    }
    rows = [_row(2, "a@example.com", None, **awkward), _row(3, None, "+358401000009")]
    _stage(system, job_id, rows)
    # The same rows, encoded beforehand, as a reader process hands them over.
    if system.db.backend == "postgresql":
        encoded = encode_staging_rows(job_id, [_row(4, "b@example.com", None, **awkward)])
        with system.db.transaction() as conn:
            import_store.stage_rows(conn, job_id, encoded)
    with system.db.reading() as conn:
        staged = conn.execute(
            select(import_staging.c.line, import_staging.c.email, import_staging.c.sms)
            .add_columns(import_staging.c.properties)
            .where(import_staging.c.job_id == job_id)
            .order_by(import_staging.c.line)
        ).all()
    expected = [(2, "a@example.com", None, awkward), (3, None, "+358401000009", {})]
    if system.db.backend == "postgresql":
        expected.append((4, "b@example.com", None, awkward))
    assert [tuple(row) for row in staged] == expected
