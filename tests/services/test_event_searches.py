"""Event searches, deletes, exports and the automations report behind LianaAutomation's handles,
on SQLite and PostgreSQL; and the report builder and request parsers as plain functions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kirje.domain.channels import Channel, ChannelChanges
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.event_imports import EventImport, ImportEntry, IncomingEvent
from kirje.domain.event_searches import (
    MAX_LIMIT,
    NULL,
    AutomationActivity,
    EventFilter,
    HandleFailed,
    HandleNotReady,
    MessageActivity,
    Reach,
    ReportRequest,
    automation_reports,
    delete_request_from,
    event_filter_from,
    month_category,
    report_bounds,
    report_months,
    report_request_from,
)
from kirje.domain.identities import Identity, identity_from
from kirje.domain.jobs import JobKind, JobResult, JobState
from kirje.jobs.runner import run_here
from kirje.services.account_services import AccountServices
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store import events as event_store
from kirje.store import privacy as privacy_store
from kirje.store.schema import contact_identities
from tests.conftest import new_account
from tests.jobs.workers import finished, job_worker, wait_for_job

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
AINO = {"email": "aino@example.com", "extra1": "A-1", "token": "tok-aino"}
EINO = {"sms": "+358401234567", "extra2": "E-2"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """Two people's events in two channels, written through the event import at three times."""

    services: AccountServices
    shop: Channel
    ecs: Channel
    aino: int
    eino: int


def _import(services: AccountServices, channel: Channel, *entries) -> None:
    services.event_imports.run(
        EventImport(
            channel=str(channel.id),
            entries=[
                ImportEntry(identity_from(identity), [IncomingEvent(v, i) for v, i in events])
                for identity, events in entries
            ],
        )
    )


def _clocked(system: System, account_id: int, clock: Clock) -> AccountServices:
    return AccountServices(replace(system.for_account(account_id).scope, clock=clock))


@pytest.fixture
def world(system: System, account) -> World:
    clock = Clock(T0)
    services = _clocked(system, account.account_id, clock)
    shop = services.channels.create(ChannelChanges(name="Shop"))
    ecs = services.channels.create(ChannelChanges(name="Store"), type="shop", system_name="ecs")
    _import(services, shop, (AINO, [("formsend", {"sentfrom": "front", "name": "Aino"})]))
    clock.now = T0 + timedelta(hours=1)
    _import(services, ecs, (EINO, [("order", {"total": "12.50", "address": {"city": "Oulu"}})]))
    clock.now = T0 + timedelta(hours=2)
    _import(
        services,
        shop,
        ({"email": AINO["email"]}, [("formsend", {"name": "Aino K", "count": 2, "ok": True})]),
        ({"sms": EINO["sms"]}, [("pbr", {"url": "https://example.com/"})]),
    )
    aino, eino = services.contacts.find_id(AINO["email"]), services.contacts.find_id(EINO["sms"])
    assert aino is not None and eino is not None
    return World(system.for_account(account.account_id), shop, ecs, aino, eino)


def _finish(system: System, services: AccountServices, job) -> JobResult:
    run_here(system, job.id)
    return services.event_searches.results(JobKind(job.kind), job.id)


def _search(system: System, world: World, **body) -> list[dict]:
    job = world.services.event_searches.start_search(event_filter_from(body))
    return _finish(system, world.services, job)


def _verbs(rows: list[dict]) -> list[tuple[str, str]]:
    return [(row["verb"], row["identity"]["id"]) for row in rows]


# Search


def test_a_search_answers_events_in_time_order_with_the_person_s_identity(
    system: System, world: World
) -> None:
    rows = _search(system, world)
    aino, eino = str(world.aino), str(world.eino)
    assert _verbs(rows) == [
        ("created", aino),
        ("formsend", aino),
        ("created", eino),
        ("order", eino),
        ("formsend", aino),
        ("pbr", eino),
    ]
    assert rows[1] == {
        "at": "2024-03-01T10:00:00Z",
        "verb": "formsend",
        "channel": str(world.shop.id),
        "identity": {
            "id": aino,
            "token": "tok-aino",
            "email": "aino@example.com",
            "sms": None,
            "extra1": "A-1",
            "extra2": None,
        },
    }
    # Kirje's own events came through no channel.
    assert rows[0]["channel"] == ""
    assert rows[3]["identity"] == {
        "id": eino,
        "token": None,
        "email": None,
        "sms": "+358401234567",
        "extra1": None,
        "extra2": "E-2",
    }


def test_a_search_includes_event_data_only_when_asked(system: System, world: World) -> None:
    rows = _search(system, world, verbs=["order"], include_data=True)
    assert [row["data"] for row in rows] == [{"total": "12.50", "address": {"city": "Oulu"}}]
    assert "data" not in _search(system, world, verbs=["order"])[0]


def test_a_search_by_channel_id_or_system_name_leaves_out_kirje_s_own_events(
    system: System, world: World
) -> None:
    by_id = _search(system, world, channels=[world.shop.id])
    assert [row["verb"] for row in by_id] == ["formsend", "formsend", "pbr"]
    assert {row["channel"] for row in by_id} == {str(world.shop.id)}
    by_name = _search(system, world, channels=["ecs"])
    assert _verbs(by_name) == [("order", str(world.eino))]
    both = _search(system, world, channels=["ecs", str(world.shop.id)])
    assert len(both) == 4


def test_an_unknown_channel_is_refused_when_the_search_starts(world: World) -> None:
    with pytest.raises(Invalid, match="channels: no channel 'nope'"):
        world.services.event_searches.start_search(event_filter_from({"channels": ["nope"]}))


def test_a_search_by_verbs(system: System, world: World) -> None:
    rows = _search(system, world, verbs=["pbr", "order"])
    assert [row["verb"] for row in rows] == ["order", "pbr"]


def test_from_and_to_take_events_strictly_newer_and_older(system: System, world: World) -> None:
    t1 = (T0 + timedelta(hours=1)).isoformat()
    newer = _search(system, world, **{"from": T0.isoformat()})
    assert [row["at"] for row in newer] == ["2024-03-01T11:00:00Z"] * 2 + [
        "2024-03-01T12:00:00Z"
    ] * 2
    older = _search(system, world, to=t1)
    assert [row["verb"] for row in older] == ["created", "formsend"]
    between = _search(
        system, world, **{"from": "2024-03-01T10:30:00Z", "to": "2024-03-01T13:30+02:00"}
    )
    assert [row["verb"] for row in between] == ["created", "order"]


@pytest.mark.parametrize(
    ("identity", "who"),
    [
        ({"email": "AINO@example.com"}, "aino"),
        ({"sms": "040 1234567"}, "eino"),
        ({"extra1": "A-1"}, "aino"),
        ({"extra2": "E-2"}, "eino"),
        ({"token": "TOK-aino"}, "aino"),
    ],
)
def test_an_identity_names_its_person_by_any_identifier(
    system: System, world: World, identity: dict, who: str
) -> None:
    rows = _search(system, world, identities=[identity])
    contact_id = str(getattr(world, who))
    assert rows and {row["identity"]["id"] for row in rows} == {contact_id}
    assert len(rows) == 3


def test_identities_by_kirje_id_add_up_and_one_naming_nobody_matches_nothing(
    system: System, world: World
) -> None:
    rows = _search(
        system, world, identities=[{"id": str(world.eino)}, {"email": "nobody@example.com"}]
    )
    assert {row["identity"]["id"] for row in rows} == {str(world.eino)}
    assert _search(system, world, identities=[{"email": "nobody@example.com"}]) == []
    assert _search(system, world, identities=[{"id": 999_999_999}]) == []
    both = _search(system, world, identities=[{"id": world.eino}, {"extra1": "A-1"}])
    assert len(both) == 6


def test_limit_and_offset_page_through_the_events_in_order(system: System, world: World) -> None:
    everything = _search(system, world)
    pages = [_search(system, world, limit=4, offset=offset) for offset in (0, 4)]
    assert pages[0] + pages[1] == everything
    assert len(pages[0]) == 4 and len(pages[1]) == 2
    assert _search(system, world, limit=0) == []
    assert _search(system, world, limit="2", offset="5") == everything[5:]


def test_a_search_never_answers_another_account_s_events(system: System, world: World) -> None:
    other = system.for_account(new_account(system).account_id)
    channel = other.channels.create(ChannelChanges(name="Theirs"))
    _import(other, channel, (AINO, [("formsend", {"secret": "theirs"})]))
    rows = _search(system, world, identities=[AINO], include_data=True)
    assert "secret" not in str(rows)
    assert {row["identity"]["id"] for row in rows} == {str(world.aino)}
    # The other account's channel id is unknown here.
    with pytest.raises(Invalid):
        world.services.event_searches.start_search(EventFilter(channels=(str(channel.id),)))


# Handles


def test_a_handle_is_ready_once_its_job_has_run(system: System, world: World) -> None:
    searches = world.services.event_searches
    job = searches.start_search(EventFilter(verbs=("order",)))
    assert job.state is JobState.QUEUED
    assert searches.is_ready(JobKind.EVENT_SEARCH, str(job.id)) is False
    with pytest.raises(HandleNotReady):
        searches.results(JobKind.EVENT_SEARCH, job.id)
    run_here(system, job.id)
    assert searches.is_ready(JobKind.EVENT_SEARCH, str(job.id)) is True
    done = world.services.jobs.get(job.id)
    assert (done.progress_done, done.progress_total) == (1, 1)
    assert [row["verb"] for row in searches.results(JobKind.EVENT_SEARCH, job.id)] == ["order"]


def test_a_handle_of_another_kind_or_account_is_not_found(system: System, world: World) -> None:
    job = world.services.event_searches.start_search(EventFilter())
    run_here(system, job.id)
    searches = world.services.event_searches
    for kind in (JobKind.EVENT_EXPORT, JobKind.EVENT_DELETE, JobKind.AUTOMATION_REPORT):
        with pytest.raises(NotFound):
            searches.is_ready(kind, job.id)
        with pytest.raises(NotFound):
            searches.results(kind, job.id)
    stranger = system.for_account(new_account(system).account_id).event_searches
    with pytest.raises(NotFound):
        stranger.is_ready(JobKind.EVENT_SEARCH, job.id)
    with pytest.raises(NotFound):
        stranger.results(JobKind.EVENT_SEARCH, job.id)
    for handle in ("abc", "", "-1", "99999999999"):
        with pytest.raises(NotFound):
            searches.is_ready(JobKind.EVENT_SEARCH, handle)


def test_a_failed_job_s_results_raise_its_error(system: System, world: World) -> None:
    # A payload no start_search writes: the handler refuses it and the job fails.
    job = world.services.jobs.submit(JobKind.EVENT_SEARCH, {"filter": {"limit": -1}})
    run_here(system, job.id)
    assert world.services.event_searches.is_ready(JobKind.EVENT_SEARCH, job.id)
    with pytest.raises(HandleFailed, match="limit must be from 0 to 10000"):
        world.services.event_searches.results(JobKind.EVENT_SEARCH, job.id)


def test_a_search_runs_in_a_real_worker(
    system: System, world: World, settings: Settings, tmp_path: Path
) -> None:
    job = world.services.event_searches.start_search(
        EventFilter(identities=(Identity(extra2="E-2"),), include_data=True)
    )
    with job_worker(settings, tmp_path) as worker:
        wait_for_job(world.services, job.id, finished, worker=worker)
    rows = world.services.event_searches.results(JobKind.EVENT_SEARCH, str(job.id))
    assert [row["verb"] for row in rows] == ["created", "order", "pbr"], worker.printed()
    assert rows[2]["data"] == {"url": "https://example.com/"}


# Delete


def _delete(system: System, world: World, **body) -> JobResult:
    job = world.services.event_searches.start_delete(delete_request_from(body))
    return _finish(system, world.services, job)


def _channel_events(world: World, channel: Channel) -> tuple[int, dict]:
    found = world.services.channels.get(channel.id)
    return found.events, found.verbs


def _identifiers(system: System, world: World, contact_id: int) -> list:
    with system.db.reading() as conn:
        return conn.execute(
            select(contact_identities.c.kind).where(
                contact_identities.c.account_id == world.services.account_id,
                contact_identities.c.contact_id == contact_id,
            )
        ).all()


def test_a_delete_in_channels_deletes_only_those_channels_events(
    system: System, world: World
) -> None:
    assert _channel_events(world, world.shop)[0] == 3
    result = _delete(
        system, world, channels=[world.shop.id], identities=[{"email": [AINO["email"]]}]
    )
    assert result == {"deleted": [[world.aino]]}
    rows = _search(system, world, identities=[{"id": world.aino}])
    assert [row["verb"] for row in rows] == ["created"]
    # Eino's event in the same channel stays, and the counter counts it alone.
    assert _channel_events(world, world.shop)[0] == 1
    assert [row["verb"] for row in _search(system, world, channels=[world.shop.id])] == ["pbr"]
    assert world.services.contacts.get(world.aino).contact.email == AINO["email"]
    # Again: nothing more to delete, the same answer.
    again = _delete(
        system, world, channels=[world.shop.id], identities=[{"email": [AINO["email"]]}]
    )
    assert again == {"deleted": [[world.aino]]}
    assert _channel_events(world, world.shop)[0] == 1


def test_a_delete_without_channels_erases_the_person(system: System, world: World) -> None:
    result = _delete(
        system,
        world,
        identities=[{"extra1": ["A-1"], "email": ["nobody@example.com"]}, {"id": ["999999999"]}],
    )
    assert result == {"deleted": [[world.aino], []]}
    assert _search(system, world, identities=[{"id": world.aino}]) == []
    assert _search(system, world, identities=[AINO]) == []
    assert {row["identity"]["id"] for row in _search(system, world)} == {str(world.eino)}
    tombstone = world.services.contacts.get(world.aino, include_deleted=True).contact
    assert (tombstone.email, tombstone.sms, tombstone.properties) == (None, None, {})
    assert tombstone.forgotten_at is not None
    assert _identifiers(system, world, world.aino) == []
    with system.db.reading() as conn:
        trail = event_store.contact_events(conn, world.services.account_id, world.aino)
    assert [event.type for event in trail] == ["forgotten"]
    assert _channel_events(world, world.shop)[0] == 1
    # Eino is untouched.
    assert len(_search(system, world, identities=[EINO])) == 3
    # The address is suppressed: a later import leaves the forgotten person out.
    _import(world.services, world.shop, ({"email": AINO["email"]}, [("formsend", {})]))
    assert _search(system, world, identities=[{"email": AINO["email"]}]) == []
    assert _delete(system, world, identities=[{"email": [AINO["email"]]}]) == {"deleted": [[]]}


def test_a_delete_is_whole_or_nothing(system: System, world: World, monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(privacy_store, "suppress", fail)
    request = delete_request_from(
        {"identities": [{"email": AINO["email"]}, {"sms": [EINO["sms"]]}]}
    )
    job = world.services.event_searches.start_delete(request)
    run_here(system, job.id)
    with pytest.raises(HandleFailed, match="disk full"):
        world.services.event_searches.results(JobKind.EVENT_DELETE, job.id)
    assert len(_search(system, world)) == 6
    assert _channel_events(world, world.shop)[0] == 3
    assert len(_identifiers(system, world, world.aino)) == 2


def test_delete_requests_are_checked() -> None:
    with pytest.raises(Invalid, match="identities is required"):
        delete_request_from({"channels": [1]})
    with pytest.raises(Invalid, match=r"identities\[0\]\.email\[1\]"):
        delete_request_from({"identities": [{"email": ["a@example.com", "not an address"]}]})
    request = delete_request_from({"identities": [{"id": ["12"], "email": "A@Example.com"}]})
    assert request.entries[0].identifiers == (Identity(id=12), Identity(email="a@example.com"))


# Export


def _export(system: System, world: World, **body) -> list[dict]:
    job = world.services.event_searches.start_export(event_filter_from(body))
    return _finish(system, world.services, job)


def test_an_export_has_a_row_per_person_with_every_column(system: System, world: World) -> None:
    rows = _export(system, world, channels=[world.shop.id, "ecs"])
    assert rows == [
        {
            "email": "aino@example.com",
            "sms": NULL,
            "id": world.aino,
            "extra1": "A-1",
            "extra2": NULL,
            "system-event-date": "2024-03-01T12:00:00Z",
            # The latest formsend's values; a key only the first one had keeps its value.
            "formsend-name": "Aino K",
            "formsend-count": 2,
            "formsend-ok": True,
            "formsend-sentfrom": "front",
            "order-address": NULL,
            "order-total": NULL,
            "pbr-url": NULL,
        },
        {
            "email": NULL,
            "sms": "+358401234567",
            "id": world.eino,
            "extra1": NULL,
            "extra2": "E-2",
            "system-event-date": "2024-03-01T12:00:00Z",
            "formsend-name": NULL,
            "formsend-count": NULL,
            "formsend-ok": NULL,
            "formsend-sentfrom": NULL,
            "order-address": {"city": "Oulu"},
            "order-total": "12.50",
            "pbr-url": "https://example.com/",
        },
    ]


def test_an_export_filters_like_a_search_and_pages_over_persons(
    system: System, world: World
) -> None:
    rows = _export(system, world, verbs=["order"])
    assert rows == [
        {
            "email": NULL,
            "sms": "+358401234567",
            "id": world.eino,
            "extra2": "E-2",
            "system-event-date": "2024-03-01T11:00:00Z",
            "order-address": {"city": "Oulu"},
            "order-total": "12.50",
        }
    ]
    first = _export(system, world, limit=1)
    assert [row["id"] for row in first] == [world.aino]
    assert [row["id"] for row in _export(system, world, limit=1, offset=1)] == [world.eino]
    # Without a channel filter Kirje's own events count too.
    assert first[0]["created-origin"] == "automation-import"
    assert _export(system, world, identities=[{"email": "nobody@example.com"}]) == []


# The automations report


def _mail_events(system: System, account_id: int, contact_ids: list[int], spec: list) -> None:
    rows = []
    for verb, at, person, automation, message in spec:
        data = {"automation_id": automation, "message_id": message, "subject": f"Mail {message}"}
        if automation == 91:
            data["automation_name"] = "Welcome"
        rows.append(event_store.event_row(account_id, contact_ids[person], verb, at, data=data))
    with system.db.transaction() as conn:
        event_store.append_events(conn, rows)


def _report(system: System, services: AccountServices, **body) -> list[dict]:
    job = services.event_searches.start_report(report_request_from(body))
    return _finish(system, services, job)


def test_the_report_is_empty_without_automation_mails(system: System, world: World) -> None:
    assert _report(system, world.services, start_date="2024-01-01", end_date="2024-12-31") == []


def test_the_report_counts_automation_mails_by_month(system: System, world: World) -> None:
    people = [world.aino, world.eino]
    feb, mar, apr = (datetime(2024, m, 10, tzinfo=UTC) for m in (2, 3, 4))
    _mail_events(
        system,
        world.services.account_id,
        people,
        [
            ("mailsent", feb, 0, 91, 58),
            ("mailsent", feb, 1, 91, 58),
            ("mailopen", feb, 0, 91, 58),
            ("mailopen", feb, 0, 91, 58),
            ("maillink", feb, 0, 91, 58),
            ("mailsent", mar, 0, 91, 59),
            ("mailbounce", mar, 1, 91, 58),
            ("mailsent", apr, 1, 91, 58),
            # Outside the period, and another automation.
            ("mailsent", datetime(2024, 5, 1, tzinfo=UTC), 0, 91, 58),
            ("mailsent", mar, 1, 7, 1),
        ],
    )
    report = _report(system, world.services, start_date="2024-02-01", end_date="2024-04-30")
    assert [(a["id"], a["name"], a["enabled"]) for a in report] == [
        (7, "", True),
        (91, "Welcome", True),
    ]
    welcome = report[1]
    assert welcome["summary"] == {
        "bounces": 1,
        "clickers": 1,
        "clicks": 1,
        "ctr": 50,
        "engagement": 50,
        "non-openers": 1,
        "openers": 1,
        "opens": 2,
        "or": 50,
        "persons": 2,
        "person-engagement": 100,
        "sent": 4,
    }
    assert [(m["id"], m["subject"]) for m in welcome["messages"]] == [
        (58, "Mail 58"),
        (59, "Mail 59"),
    ]
    graph = welcome["messages"][0]["graph"]
    assert graph["categories"] == [
        "2024-02-01T00:00:00+02:00",
        "2024-03-01T00:00:00+02:00",
        "2024-04-01T00:00:00+03:00",
    ]
    assert graph["mailsent"] == {"counts": [2, 0, 1], "total_count": 3, "highest_count": 2}
    assert graph["mailopen"]["counts"] == [2, 0, 0]
    assert graph["mailopen"]["ratios"] == [100, 0, 0]
    assert graph["maillink"]["ratios"] == [50, 0, 0]
    assert welcome["messages"][0]["summary"]["bounces"] == 1
    assert welcome["messages"][1]["summary"]["sent"] == 1


def test_a_report_period_is_checked() -> None:
    with pytest.raises(Invalid, match="start_date must not be after end_date"):
        report_request_from({"start_date": "2022-02-25", "end_date": "2022-02-01"})
    with pytest.raises(Invalid, match="start_date is required"):
        report_request_from({"end_date": "2022-02-01"})
    with pytest.raises(Invalid, match="end_date: '2022-02-30' is not a date"):
        report_request_from({"start_date": "2022-02-01", "end_date": "2022-02-30"})
    with pytest.raises(Invalid, match="at most 120 months"):
        report_request_from({"start_date": "2000-01-01", "end_date": "2022-02-01"})


# Filters (no database)


def test_a_filter_is_read_from_its_json_body() -> None:
    parsed = event_filter_from(
        {
            "channels": [1, "ecs"],
            "verbs": ["contact"],
            "from": "2019-08-24T14:15:22Z",
            "to": "2019-08-24T17:15:22+03:00",
            "include_data": True,
            "limit": 100,
            "offset": 5,
            "identities": [{"email": "User@Company.com", "id": "1234", "pv_uid": "x"}],
            "unknown": "ignored",
        }
    )
    moment = datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)
    assert parsed == EventFilter(
        channels=("1", "ecs"),
        verbs=("contact",),
        newer_than=moment,
        older_than=moment,
        include_data=True,
        limit=100,
        offset=5,
        identities=(Identity(id=1234, email="user@company.com"),),
    )
    assert event_filter_from(parsed.to_json()) == parsed
    assert event_filter_from(None) == EventFilter(limit=MAX_LIMIT)
    naive = event_filter_from({"from": "2019-08-24 14:15:22"})
    assert naive.newer_than == moment


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"limit": 10_001}, "limit must be from 0 to 10000"),
        ({"limit": -1}, "limit must be from 0 to 10000"),
        ({"limit": 1.5}, "limit must be a whole number"),
        ({"offset": -3}, "offset must not be negative"),
        ({"from": "yesterday"}, "from: 'yesterday' is not an ISO 8601 date-time"),
        ({"to": 5}, "to must be an ISO 8601 date-time string"),
        ({"include_data": "yes"}, "include_data must be true or false"),
        ({"channels": "1"}, "channels must be an array"),
        ({"channels": [True]}, r"channels\[0\] must be a channel id or system name"),
        ({"verbs": [""]}, r"verbs\[0\] must be a non-empty string"),
        ({"identities": [{"email": "x"}]}, r"identities\[0\]\.email"),
        ([], "the request body must be an object"),
    ],
)
def test_a_bad_filter_is_invalid_naming_its_field(body: object, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        event_filter_from(body)


# The report builder (no database)

MONTHS = [date(2020, 6, 1), date(2020, 7, 1), date(2020, 8, 1)]
NO_REACH = Reach()


def _message(monthly: dict, reach: Reach = NO_REACH, id_: int = 58) -> MessageActivity:
    return MessageActivity(id=id_, subject="Message subject", monthly=monthly, reach=reach)


def _one(messages: list[MessageActivity], reach: Reach = NO_REACH) -> dict:
    automation = AutomationActivity(91, "Automation", True, reach, messages)
    (report,) = automation_reports([automation], MONTHS)
    return report


def test_the_report_has_the_seed_s_shape() -> None:
    report = _one(
        [
            _message(
                {"mailsent": [0, 1, 1], "mailopen": [1, 0, 2], "maillink": [1, 0, 1]},
                Reach(persons=2, openers=2, clickers=1),
            )
        ],
        Reach(persons=2, openers=2, clickers=1),
    )
    assert list(report) == ["id", "name", "enabled", "summary", "messages"]
    summary_keys = {
        "bounces",
        "clickers",
        "clicks",
        "ctr",
        "engagement",
        "non-openers",
        "openers",
        "opens",
        "or",
        "persons",
        "person-engagement",
        "sent",
    }
    assert set(report["summary"]) == summary_keys
    (message,) = report["messages"]
    assert list(message) == ["id", "subject", "rates", "graph", "summary"]
    assert set(message["summary"]) == summary_keys
    for scope in ("current", "month"):
        for verb in ("mailopen", "maillink"):
            assert set(message["rates"][scope][verb]) == {"avg", "total", "trend"}
    graph = message["graph"]
    assert graph["mailsent"] == {"counts": [0, 1, 1], "total_count": 2, "highest_count": 1}
    assert graph["mailopen"] == {
        "counts": [1, 0, 2],
        "ratios": [0, 0, 200],
        "total_count": 3,
        "highest_count": 2,
        "highest_ratio": 200,
    }
    assert graph["maillink"] == {
        "counts": [1, 0, 1],
        "ratios": [0, 0, 100],
        "total_count": 2,
        "highest_count": 1,
        "highest_ratio": 100,
    }
    assert graph["categories"] == [
        "2020-06-01T00:00:00+03:00",
        "2020-07-01T00:00:00+03:00",
        "2020-08-01T00:00:00+03:00",
    ]
    assert (graph["highest_count"], graph["highest_ratio"], graph["interval"]) == (2, 200, "month")


def test_the_summary_rates_are_percentages_of_persons_and_opens() -> None:
    report = _one(
        [
            _message(
                {"mailsent": [400, 0, 0], "mailopen": [100, 0, 0], "maillink": [3, 0, 0]},
                Reach(persons=100, openers=81, clickers=2),
            ),
            _message({"mailbounce": [0, 4, 0]}, id_=59),
        ],
        Reach(persons=100, openers=81, clickers=2),
    )
    assert report["summary"] == {
        "bounces": 4,
        "clickers": 2,
        "clicks": 3,
        "ctr": 2,
        "engagement": 3,
        "non-openers": 19,
        "openers": 81,
        "opens": 100,
        "or": 81,
        "persons": 100,
        "person-engagement": 2.5,
        "sent": 400,
    }
    # A message that sent nothing has zero rates, not a division by zero.
    quiet = report["messages"][1]
    assert quiet["summary"]["or"] == 0 and quiet["graph"]["mailopen"]["ratios"] == [0, 0, 0]
    assert quiet["rates"]["current"]["mailopen"] == {"avg": 0, "total": 0, "trend": 0}


def test_rates_compare_the_last_month_with_the_earlier_ones() -> None:
    (message,) = _one(
        [_message({"mailsent": [10, 20, 8], "mailopen": [5, 6, 1], "maillink": [1, 0, 0]})]
    )["messages"]
    # Monthly open ratios 50, 30, 12.5.
    assert message["rates"]["current"]["mailopen"] == {
        "avg": 30.8,  # (50 + 30 + 12.5) / 3
        "total": 31.6,  # 12 of 38
        "trend": -69,  # 12.5 against the mean of 50 and 30
    }
    assert message["rates"]["month"]["mailopen"] == {"avg": 12.5, "total": 12.5, "trend": -58}
    # Clicks fell to nothing: -100 percent; the month before had none, so no trend.
    assert message["rates"]["current"]["maillink"] == {"avg": 3.3, "total": 2.6, "trend": -100}
    assert message["rates"]["month"]["maillink"] == {"avg": 0, "total": 0, "trend": 0}


def test_months_and_their_bounds_follow_helsinki_time() -> None:
    assert report_months(date(2021, 11, 15), date(2022, 2, 1)) == [
        date(2021, 11, 1),
        date(2021, 12, 1),
        date(2022, 1, 1),
        date(2022, 2, 1),
    ]
    assert month_category(date(2022, 1, 1)) == "2022-01-01T00:00:00+02:00"
    assert month_category(date(2022, 7, 1)) == "2022-07-01T00:00:00+03:00"
    bounds = report_bounds(ReportRequest(date(2022, 2, 1), date(2022, 3, 31)))
    assert bounds == [
        datetime(2022, 1, 31, 22, tzinfo=UTC),
        datetime(2022, 2, 28, 22, tzinfo=UTC),
        datetime(2022, 3, 31, 21, tzinfo=UTC),
    ]
    one_day = report_bounds(ReportRequest(date(2022, 2, 25), date(2022, 2, 25)))
    assert one_day == [datetime(2022, 2, 24, 22, tzinfo=UTC), datetime(2022, 2, 25, 22, tzinfo=UTC)]


def test_no_automations_make_an_empty_report() -> None:
    assert automation_reports([], MONTHS) == []


def test_a_merged_contact_s_id_names_the_person_it_was_merged_into(
    system: System, world: World
) -> None:
    _import(world.services, world.shop, ({"token": "tok-visitor"}, [("pbr", {"url": "/a"})]))
    (visitor,) = {
        row["identity"]["id"]
        for row in _search(system, world, identities=[{"token": "tok-visitor"}])
    }
    _import(
        world.services,
        world.shop,
        ({"email": AINO["email"], "token": "tok-visitor"}, [("pbr", {"url": "/b"})]),
    )
    rows = _search(system, world, identities=[{"id": visitor}], verbs=["pbr"])
    assert [(row["identity"]["id"], row["identity"]["token"]) for row in rows] == [
        (str(world.aino), "tok-visitor")
    ] * 2
