"""A delivery stopped in the middle by a real worker's death or by a cancel.

A worker killed with SIGKILL: another worker finishes the delivery, nobody the ledger recorded as
sent is mailed again, nobody is left out, and only the messages that were in flight at the kill
(never more than the SMTP concurrency) are left in doubt. A delivery cancelled: only what was in
flight goes out after the cancel. Both hold whether the worker sends itself or in share
processes."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from kirje.domain.deliveries import Delivery, DeliveryKind, Letter
from kirje.domain.jobs import JobState
from kirje.domain.messages import MessageContent
from kirje.services.account_services import AccountServices
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store.schema import delivery_recipients
from tests.conftest import new_account
from tests.jobs.workers import Worker, job_worker, wait_for_job
from tests.mail.smtp_sink import SmtpSink

RECIPIENTS = 240
CONCURRENCY = 4
SENDERS = pytest.mark.parametrize("processes", [1, 2], ids=["in-the-worker", "in-share-processes"])


@dataclass
class SlowDelivery:
    services: AccountServices
    delivery: Delivery
    sink: SmtpSink
    # Settings on the test's own job queue, and the worker's environment.
    settings: Settings
    env: dict[str, str]

    def states(self) -> dict[str, str]:
        with self.services.scope.db.reading() as conn:
            rows = conn.execute(
                select(delivery_recipients.c.email, delivery_recipients.c.state).where(
                    delivery_recipients.c.delivery_id == self.delivery.id
                )
            )
            return dict(rows.all())

    def received(self) -> Counter[str]:
        """How often the sink got each of this delivery's recipients. (The worker's sweep may
        also start what other tests left scheduled on the same database: not counted.)"""
        ours = {f"p{n}@example.com" for n in range(RECIPIENTS)}
        return Counter(m.recipients[0] for m in self.sink.messages if m.recipients[0] in ours)

    def wait_until_a_sixth_is_sent(self, worker: Worker) -> None:
        deadline = time.monotonic() + 60
        while Counter(self.states().values())["sent"] < RECIPIENTS // 6:
            assert time.monotonic() < deadline and worker.process.poll() is None
            time.sleep(0.05)


@contextmanager
def slow_delivery(settings: Settings, system: System, processes: int) -> Iterator[SlowDelivery]:
    """A newsletter to RECIPIENTS members, queued for a worker that sends it over a sink slow
    enough to stop it midway: in share processes (each with half the connections) whatever
    the delivery's size, or in the worker's own process."""
    mine = settings.model_copy(update={"job_queue_name": f"send-{uuid.uuid4().hex[:8]}"})
    account = new_account(system)
    services = system.for_account(account.account_id)
    list_id = services.lists.create("Kaikki")
    people = [
        services.contacts.create(email=f"p{n}@example.com", sms=None) for n in range(RECIPIENTS)
    ]
    services.lists.join(list_id, people)
    draft = services.messages.create(
        MessageContent(subject="Uutiset", html="<p>Hei</p>", from_email="news@shop.example")
    )
    with SmtpSink() as sink:
        for n in range(RECIPIENTS):
            sink.delay(f"p{n}@example.com", 0.05)
        env = {
            "KIRJE_JOB_QUEUE_NAME": mine.job_queue_name,
            "KIRJE_SMTP_URL": sink.url(starttls="false", concurrency=CONCURRENCY),
            "KIRJE_SEND_PROCESSES": str(processes),
            "KIRJE_SEND_PROCESSES_FROM": "0",
        }
        # Through a system on the test's own queue, so that its worker gets the job at once.
        queued = System.open(mine)
        delivery = queued.for_account(account.account_id).deliveries.send(
            DeliveryKind.BATCH, Letter(draft.id), list_ids=[list_id]
        )
        queued.close()
        yield SlowDelivery(services, delivery, sink, mine, env)


@SENDERS
def test_a_killed_sender_is_finished_by_another_without_doubles_or_gaps(
    settings, system, tmp_path, processes
) -> None:
    with slow_delivery(settings, system, processes) as slow:
        with job_worker(slow.settings, tmp_path, **slow.env) as first:
            slow.wait_until_a_sixth_is_sent(first)
            first.process.kill()
            first.process.wait(timeout=30)
        # Nothing sends on after the kill: share processes went with the worker.
        arrived = slow.received()
        time.sleep(1)
        assert slow.received() == arrived
        at_kill = slow.states()
        sent_at_kill = {email for email, state in at_kill.items() if state == "sent"}
        in_flight = {email for email, state in at_kill.items() if state == "sending"}
        assert 0 < len(sent_at_kill) < RECIPIENTS and len(in_flight) <= CONCURRENCY

        with job_worker(slow.settings, tmp_path, **slow.env) as second:
            job = wait_for_job(
                slow.services,
                slow.delivery.job_id,
                lambda j: j.is_finished,
                seconds=120,
                worker=second,
            )
        assert job.state is JobState.DONE and job.attempts >= 2

        final = slow.states()
        received = slow.received()
    counts = Counter(final.values())
    assert counts["pending"] == counts["claimed"] == counts["sending"] == counts["failed"] == 0
    unknown = {email for email, state in final.items() if state == "unknown"}
    assert unknown == in_flight  # a newsletter does not resend what is in doubt
    assert all(received[email] == 1 for email, state in final.items() if state == "sent")
    assert max(received.values()) == 1  # nobody twice
    assert set(final) == {f"p{n}@example.com" for n in range(RECIPIENTS)}  # nobody left out


@SENDERS
def test_a_delivery_cancelled_mid_send_stops_and_nobody_else_is_mailed(
    settings, system, tmp_path, processes
) -> None:
    with (
        slow_delivery(settings, system, processes) as slow,
        job_worker(slow.settings, tmp_path, **slow.env) as worker,
    ):
        slow.wait_until_a_sixth_is_sent(worker)
        slow.services.deliveries.cancel(slow.delivery.id)
        at_cancel = slow.states()
        job = wait_for_job(
            slow.services, slow.delivery.job_id, lambda j: j.is_finished, seconds=60, worker=worker
        )
        received = slow.received()

    assert job.state is JobState.DONE
    assert slow.services.deliveries.get(slow.delivery.id).state == "cancelled"
    final = slow.states()
    counts = Counter(final.values())
    assert set(counts) == {"sent", "cancelled"}
    # Only what was in flight at the cancel went out after it.
    in_flight = {email for email, state in at_cancel.items() if state == "sending"}
    sent_at_cancel = {email for email, state in at_cancel.items() if state == "sent"}
    sent = {email for email, state in final.items() if state == "sent"}
    assert sent_at_cancel <= sent <= sent_at_cancel | in_flight
    assert len(in_flight) <= CONCURRENCY and counts["cancelled"] >= RECIPIENTS // 2
    # Each sent row was mailed once; no cancelled row was mailed at all.
    assert received == Counter(sent)
