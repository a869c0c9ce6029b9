"""Deliveries scheduled ahead, started by the job workers' sweep when their time comes (the
lists as they are then), started once however many workers sweep at once; cancelled before
they start, while queued and once finished; rescheduled to another list.

Time is the system's clock, set by the test; mail goes into a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kirje.domain.deliveries import (
    DeliveryKind,
    DeliveryState,
    GivenRecipient,
    Letter,
)
from kirje.domain.errors import Conflict
from kirje.domain.jobs import JobKind, JobState
from kirje.domain.messages import MessageContent
from kirje.jobs import recovery
from kirje.jobs.context import JobContext
from kirje.jobs.runner import run_here
from kirje.mail.sending import run_delivery
from kirje.services.system import System
from kirje.store import jobs as job_store
from kirje.store.schema import delivery_recipients, jobs
from tests.mail.smtp_sink import SmtpSink

HTML = "<p>Hei $firstname$!</p>"


class Clock:
    """The system's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def system(system, settings, sink, clock):
    """The session's (migrated) database, with the test's clock and mail into the sink."""
    changes = {"smtp_url": sink.url(starttls="false", concurrency=2)}
    opened = System.open(settings.model_copy(update=changes), clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def services(system, account):
    return system.for_account(account.account_id)


@pytest.fixture
def draft_id(services) -> int:
    content = MessageContent(subject="Uutiskirje", html=HTML, from_email="news@shop.example")
    return services.messages.create(content).id


def person(services, email: str, *lists: int) -> int:
    contact_id = services.contacts.create(
        email=email, sms=None, properties={"firstname": email.split("@")[0].title()}
    )
    for list_id in lists:
        services.lists.join(list_id, [contact_id])
    return contact_id


def ledger(system: System, delivery_id: int) -> dict[str, str]:
    with system.db.reading() as conn:
        rows = conn.execute(
            select(delivery_recipients.c.email, delivery_recipients.c.state).where(
                delivery_recipients.c.delivery_id == delivery_id
            )
        )
        return dict(rows.all())


def delivery_jobs(system: System, account_id: int) -> list[tuple[int, str, dict]]:
    """(delivery, state, result) of the account's send jobs."""
    with system.db.reading() as conn:
        rows = conn.execute(
            select(jobs.c.payload, jobs.c.state, jobs.c.result)
            .where(jobs.c.account_id == account_id, jobs.c.kind == JobKind.DELIVERY.value)
            .order_by(jobs.c.id)
        )
        return [(row.payload["delivery_id"], row.state, row.result) for row in rows]


def mailed(sink: SmtpSink) -> list[str]:
    return sorted(address for message in sink.messages for address in message.recipients)


def test_a_scheduled_delivery_waits_for_its_time_and_takes_the_list_as_it_is_then(
    system, services, sink, clock, draft_id
) -> None:
    news = services.lists.create("Uutiset")
    person(services, "aino@example.com", news)
    at = clock.at + timedelta(minutes=10)
    delivery = services.deliveries.send(
        DeliveryKind.BATCH,
        Letter(draft_id),
        list_ids=[news],
        recipients=[GivenRecipient("helmi@example.com", {"firstname": "Helmi"})],
        scheduled_at=at,
    )
    assert (delivery.state, delivery.scheduled_at, delivery.job_id) == (
        DeliveryState.SCHEDULED,
        at,
        None,
    )
    # The given recipient is recorded with her values; the list's members are not taken yet.
    assert ledger(system, delivery.id) == {"helmi@example.com": "pending"}
    person(services, "eino@example.com", news)

    clock.at = at - timedelta(seconds=1)
    assert delivery.id not in recovery.sweep(system, system.job_queue).started
    assert services.deliveries.get(delivery.id).state is DeliveryState.SCHEDULED
    assert delivery_jobs(system, services.account_id) == []

    clock.at = at
    assert delivery.id in recovery.sweep(system, system.job_queue).started
    started = services.deliveries.get(delivery.id)
    assert started.state is DeliveryState.QUEUED and started.job_id is not None
    assert ledger(system, delivery.id) == {
        "aino@example.com": "pending",
        "eino@example.com": "pending",
        "helmi@example.com": "pending",
    }
    assert sink.messages == []
    run_here(system, started.job_id)
    assert mailed(sink) == ["aino@example.com", "eino@example.com", "helmi@example.com"]
    assert services.deliveries.get(delivery.id).state is DeliveryState.DONE
    # A later sweep finds nothing more to start.
    assert delivery.id not in recovery.sweep(system, system.job_queue).started


def test_two_sweeps_at_once_start_a_delivery_once(
    settings, system, services, clock, draft_id
) -> None:
    news = services.lists.create("Uutiset")
    for name in ("aino", "eino", "helmi"):
        person(services, f"{name}@example.com", news)
    at = clock.at + timedelta(minutes=5)
    delivery = services.deliveries.send(
        DeliveryKind.BATCH, Letter(draft_id), list_ids=[news], scheduled_at=at
    )
    clock.at = at
    other = System.open(settings, clock=clock)
    barrier = threading.Barrier(2)
    started: dict[str, list[int]] = {}

    def sweep(name: str, sweeper: System) -> None:
        barrier.wait()
        started[name] = recovery.start_due_deliveries(sweeper)

    try:
        threads = [
            threading.Thread(target=sweep, args=(name, sweeper))
            for name, sweeper in (("one", system), ("other", other))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert (started["one"] + started["other"]).count(delivery.id) == 1
        assert delivery.id not in recovery.start_due_deliveries(other)
    finally:
        other.close()
    job_id = services.deliveries.get(delivery.id).job_id
    assert delivery_jobs(system, services.account_id) == [(delivery.id, "queued", None)]
    assert job_id is not None
    assert sorted(ledger(system, delivery.id)) == [
        "aino@example.com",
        "eino@example.com",
        "helmi@example.com",
    ]


def test_a_delivery_cancelled_before_its_time_mails_nobody(
    system, services, sink, clock, draft_id
) -> None:
    news = services.lists.create("Uutiset")
    person(services, "aino@example.com", news)
    at = clock.at + timedelta(hours=2)
    delivery = services.deliveries.send(
        DeliveryKind.BATCH,
        Letter(draft_id),
        list_ids=[news],
        recipients=[GivenRecipient("helmi@example.com")],
        scheduled_at=at,
    )
    cancelled = services.deliveries.cancel(delivery.id)
    assert (cancelled.state, cancelled.finished_at) == (DeliveryState.CANCELLED, clock.at)
    assert ledger(system, delivery.id) == {"helmi@example.com": "cancelled"}
    # Cancelling it again changes nothing.
    assert services.deliveries.cancel(delivery.id).state is DeliveryState.CANCELLED
    clock.at = at + timedelta(minutes=1)
    assert delivery.id not in recovery.sweep(system, system.job_queue).started
    assert services.deliveries.get(delivery.id).state is DeliveryState.CANCELLED
    assert delivery_jobs(system, services.account_id) == []
    assert sink.messages == []


def test_a_queued_delivery_cancelled_before_a_worker_takes_it_mails_nobody(
    system, services, sink, draft_id
) -> None:
    news = services.lists.create("Uutiset")
    person(services, "aino@example.com", news)
    person(services, "eino@example.com", news)
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    assert delivery.state is DeliveryState.QUEUED and delivery.job_id is not None
    services.deliveries.cancel(delivery.id)
    assert ledger(system, delivery.id) == {
        "aino@example.com": "cancelled",
        "eino@example.com": "cancelled",
    }
    # Its job is closed, so a worker that gets its message later does nothing.
    assert delivery_jobs(system, services.account_id) == [
        (delivery.id, "done", {"cancelled": True})
    ]
    run_here(system, delivery.job_id)
    assert sink.messages == []
    assert services.deliveries.get(delivery.id).state is DeliveryState.CANCELLED
    counts = services.deliveries.counts(delivery.id)
    assert (counts.cancelled, counts.sent, counts.total) == (2, 0, 2)


def _cancel_after_a_worker_took_the_job(system, services, draft_id) -> int:
    """A queued delivery whose job a worker has claimed (not run yet) when it is cancelled;
    the job then runs. Returns the delivery."""
    news = services.lists.create("Uutiset")
    person(services, "aino@example.com", news)
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    with system.db.transaction() as conn:
        job = job_store.claim_job(conn, delivery.job_id, "test-worker", system.clock())
    assert job is not None and job.state is JobState.RUNNING
    services.deliveries.cancel(delivery.id)
    claim = job_store.Claim(job.id, "test-worker", job.attempts)
    run_delivery(JobContext(job, services, system, claim))
    return delivery.id


def test_a_delivery_cancelled_after_its_job_was_taken_mails_nobody_and_stays_cancelled(
    system, services, sink, draft_id
) -> None:
    delivery_id = _cancel_after_a_worker_took_the_job(system, services, draft_id)
    assert sink.messages == []
    assert ledger(system, delivery_id) == {"aino@example.com": "cancelled"}
    assert services.deliveries.get(delivery_id).state is DeliveryState.CANCELLED


def test_a_finished_delivery_cannot_be_cancelled(system, services, sink, draft_id) -> None:
    news = services.lists.create("Uutiset")
    person(services, "aino@example.com", news)
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    run_here(system, delivery.job_id)
    assert mailed(sink) == ["aino@example.com"]
    with pytest.raises(Conflict, match=f"delivery {delivery.id} is done: only a scheduled"):
        services.deliveries.cancel(delivery.id)
    assert services.deliveries.get(delivery.id).state is DeliveryState.DONE
    assert ledger(system, delivery.id) == {"aino@example.com": "sent"}


def test_a_reschedule_to_another_list_mails_those_who_did_not_get_it(
    system, services, sink, clock, draft_id
) -> None:
    news, offers = services.lists.create("Uutiset"), services.lists.create("Tarjoukset")
    person(services, "aino@example.com", news, offers)
    person(services, "eino@example.com", offers)
    first = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    run_here(system, first.job_id)
    assert mailed(sink) == ["aino@example.com"]
    at = clock.at + timedelta(minutes=30)
    again = services.deliveries.reschedule(first.id, offers, scheduled_at=at)
    assert (again.related_to, again.list_ids, again.message_id, again.state) == (
        first.id,
        [offers],
        draft_id,
        DeliveryState.SCHEDULED,
    )
    clock.at = at
    assert again.id in recovery.start_due_deliveries(system)
    run_here(system, services.deliveries.get(again.id).job_id)
    # Aino got the message from the first delivery: only Eino gets it now.
    assert mailed(sink) == ["aino@example.com", "eino@example.com"]
    assert [o.delivery.id for o in services.deliveries.related(first.id)] == [again.id]
