"""The runner and the sweep, in the test process: claims, outcomes, fencing, recovery."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kirje.domain.errors import Invalid
from kirje.domain.jobs import Claim, Job, JobKind, JobLost, JobState
from kirje.jobs import JobContext, kinds, recovery
from kirje.jobs.runner import JobRunner
from kirje.services.system import System
from kirje.store import jobs as job_store


class RecordingQueue:
    def __init__(self) -> None:
        self.enqueued: list[int] = []

    def enqueue(self, job_id: int) -> None:
        self.enqueued.append(job_id)


def _explode(ctx: JobContext) -> None:
    raise ValueError(f"no such thing as {ctx.job.payload['thing']}")


def _refuse(ctx: JobContext) -> None:
    raise Invalid("list 12 not found")


def _answer(ctx: JobContext) -> int:
    return 42


kinds.register("test-explode", _explode)
kinds.register("test-refuse", _refuse)
kinds.register("test-answer", _answer)


def _with_settings(system: System, **changes) -> System:
    """The same database under other job settings (a shorter lease, say)."""
    return replace(system, settings=system.settings.model_copy(update=changes))


def test_submit_queues_the_row_and_enqueues_its_id(services, system: System) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": 2}, subject_id=7)
    assert (job.state, job.kind, job.subject_id) == (JobState.QUEUED, "ping", 7)
    assert job.payload == {"steps": 2}
    assert job.attempts == 0
    assert job.id in system.job_queue.pending_job_ids()


def test_a_run_claims_the_job_and_stores_its_result(services, system: System) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": 2})
    JobRunner(system, "test:1").run(job.id)
    done = services.jobs.get(job.id)
    assert (done.state, done.result, done.attempts, done.worker) == (
        JobState.DONE,
        {"pong": 2},
        1,
        "test:1",
    )
    assert (done.progress_done, done.progress_total) == (2, 2)


def test_a_second_message_for_a_job_changes_nothing(services, system: System) -> None:
    job = services.jobs.submit("test-answer")
    JobRunner(system, "test:1").run(job.id)
    first = services.jobs.get(job.id)
    JobRunner(system, "test:2").run(job.id)
    assert services.jobs.get(job.id) == first
    assert (first.result, first.attempts) == (42, 1)


def test_an_exception_fails_the_job_with_its_class_and_message(services, system: System) -> None:
    job = services.jobs.submit("test-explode", {"thing": "magic"})
    JobRunner(system, "test:1").run(job.id)
    failed = services.jobs.get(job.id)
    assert failed.state is JobState.FAILED
    assert failed.error == "ValueError: no such thing as magic"
    assert failed.finished_at is not None


def test_a_domain_error_fails_the_job_with_its_message(services, system: System) -> None:
    job = services.jobs.submit("test-refuse")
    JobRunner(system, "test:1").run(job.id)
    assert services.jobs.get(job.id).error == "list 12 not found"


def test_an_unknown_kind_fails_the_job(services, system: System) -> None:
    job = services.jobs.submit("no-such-kind")
    JobRunner(system, "test:1").run(job.id)
    failed = services.jobs.get(job.id)
    assert (failed.state, failed.error) == (
        JobState.FAILED,
        "no handler for job kind 'no-such-kind'",
    )


def test_a_worker_that_lost_its_job_commits_nothing_more(services, system: System) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": 5})
    with system.db.transaction() as conn:
        claimed = job_store.claim_job(conn, job.id, "slow:1", system.clock())
    context = JobContext(claimed, services, system, _claim_of(claimed))
    with system.db.transaction() as conn:
        context.commit_progress(conn, done=1, total=5, checkpoint={"step": 1})

    queue = RecordingQueue()
    swept = recovery.sweep(_with_settings(system, job_lease_seconds=0), queue, pending=set())
    assert job.id in swept.requeued and job.id in queue.enqueued
    with pytest.raises(JobLost), system.db.transaction() as conn:
        context.commit_progress(conn, done=2, checkpoint={"step": 2})
    requeued = services.jobs.get(job.id)
    assert (requeued.state, requeued.progress_done, requeued.checkpoint) == (
        JobState.QUEUED,
        1,
        {"step": 1},
    )


def test_a_job_abandoned_too_often_fails(services, system: System) -> None:
    impatient = _with_settings(system, job_lease_seconds=0, job_max_attempts=3)
    job = services.jobs.submit(JobKind.PING)
    for attempt in range(3):
        with system.db.transaction() as conn:
            assert job_store.claim_job(conn, job.id, f"dies:{attempt}", system.clock())
        recovery.sweep(impatient, RecordingQueue(), pending=set())
    failed = services.jobs.get(job.id)
    assert (failed.state, failed.attempts) == (JobState.FAILED, 3)
    assert failed.error == "abandoned by its worker 3 times; not retried"


def test_the_sweep_enqueues_a_queued_job_only_when_its_message_is_missing(
    services, system: System
) -> None:
    eager = _with_settings(system, job_requeue_after_seconds=0)
    job = services.jobs.submit(JobKind.PING)
    queue = RecordingQueue()
    recovery.sweep(eager, queue, pending={job.id})
    assert job.id not in queue.enqueued
    recovery.sweep(eager, queue, pending=set())
    assert job.id in queue.enqueued


def test_a_stopping_worker_gives_its_jobs_back_without_using_an_attempt(
    services, system: System
) -> None:
    job = services.jobs.submit(JobKind.PING)
    with system.db.transaction() as conn:
        job_store.claim_job(conn, job.id, "stopping:1", system.clock())
        released = job_store.release_jobs(conn, "stopping:1", system.clock())
    assert released == [job.id]
    back = services.jobs.get(job.id)
    assert (back.state, back.attempts) == (JobState.QUEUED, 0)


def _claim_of(job: Job) -> Claim:
    return Claim(job.id, job.worker, job.attempts)
