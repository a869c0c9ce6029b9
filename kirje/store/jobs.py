"""Job rows: the durable truth about every asynchronous operation.

Account-scoped functions take the account id. The worker-side functions (claim, progress,
finish, recovery) address a job by its id alone: a queue message carries nothing else, and
the row they read tells which account the job belongs to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.engine import Row

from kirje.domain.jobs import Claim, Job, JobResult, JobState
from kirje.store.schema import jobs


def _job(row: Row) -> Job:
    return Job(
        id=row.id,
        account_id=row.account_id,
        kind=row.kind,
        state=JobState(row.state),
        subject_id=row.subject_id,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        payload=row.payload,
        checkpoint=row.checkpoint,
        attempts=row.attempts,
        worker=row.worker,
        updated_at=row.updated_at,
    )


def insert_job(
    conn: Connection,
    *,
    account_id: int,
    kind: str,
    now: datetime,
    subject_id: int | None = None,
    state: JobState = JobState.QUEUED,
    payload: dict[str, Any] | None = None,
) -> int:
    return conn.execute(
        insert(jobs)
        .values(
            account_id=account_id,
            kind=kind,
            state=state,
            subject_id=subject_id,
            payload=payload,
            created_at=now,
            updated_at=now,
            started_at=now if state is JobState.RUNNING else None,
        )
        .returning(jobs.c.id)
    ).scalar_one()


def update_job(conn: Connection, account_id: int, job_id: int, now: datetime, **values) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.account_id == account_id, jobs.c.id == job_id)
        .values(updated_at=now, **values)
    )


def find_job(conn: Connection, account_id: int, job_id: int) -> Job | None:
    row = conn.execute(
        select(jobs).where(jobs.c.account_id == account_id, jobs.c.id == job_id)
    ).first()
    return _job(row) if row else None


def latest_job(conn: Connection, account_id: int, kind: str, subject_id: int | None) -> Job | None:
    row = conn.execute(
        select(jobs)
        .where(
            jobs.c.account_id == account_id,
            jobs.c.kind == kind,
            jobs.c.subject_id.is_(None) if subject_id is None else jobs.c.subject_id == subject_id,
        )
        .order_by(jobs.c.id.desc())
        .limit(1)
    ).first()
    return _job(row) if row else None


def unfinished_jobs(conn: Connection, account_id: int, kind: str) -> list[Job]:
    """The account's queued and running jobs of a kind, oldest first."""
    rows = conn.execute(
        select(jobs)
        .where(
            jobs.c.account_id == account_id,
            jobs.c.kind == kind,
            jobs.c.state.in_([JobState.QUEUED, JobState.RUNNING]),
        )
        .order_by(jobs.c.id)
    )
    return [_job(row) for row in rows]


# Worker side: a job by its id alone.


def job_by_id(conn: Connection, job_id: int) -> Job | None:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    return _job(row) if row else None


def claim_job(conn: Connection, job_id: int, worker: str, now: datetime) -> Job | None:
    """Takes a queued job for this worker in one conditional UPDATE; None if it is not queued."""
    row = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED)
        .values(
            state=JobState.RUNNING,
            attempts=jobs.c.attempts + 1,
            worker=worker,
            started_at=now,
            updated_at=now,
        )
        .returning(*jobs.c)
    ).first()
    return _job(row) if row else None


def _held(claim: Claim):
    """The row is still this claim's: running, by this worker, at this attempt."""
    return and_(
        jobs.c.id == claim.job_id,
        jobs.c.state == JobState.RUNNING,
        jobs.c.worker == claim.worker,
        jobs.c.attempts == claim.attempts,
    )


def touch_job(conn: Connection, claim: Claim, now: datetime, **values) -> bool:
    """Updates a held job (at least its updated_at); False if the claim was lost."""
    result = conn.execute(update(jobs).where(_held(claim)).values(updated_at=now, **values))
    return result.rowcount == 1


def locked_checkpoint(conn: Connection, claim: Claim) -> dict[str, Any] | None:
    """A held job's checkpoint (SELECT ... FOR UPDATE on PostgreSQL: as the transaction that
    held the lock committed it); None if the claim was lost."""
    row = conn.execute(
        select(jobs.c.checkpoint).where(_held(claim)).with_for_update()
    ).one_or_none()
    return None if row is None else dict(row.checkpoint or {})


def finish_job(
    conn: Connection,
    claim: Claim,
    now: datetime,
    state: JobState,
    *,
    result: JobResult = None,
    error: str | None = None,
) -> bool:
    return touch_job(conn, claim, now, state=state, result=result, error=error, finished_at=now)


def release_jobs(conn: Connection, worker: str, now: datetime) -> list[int]:
    """Puts back in the queue the jobs a stopping worker holds; the claim does not count."""
    return list(
        conn.execute(
            update(jobs)
            .where(jobs.c.state == JobState.RUNNING, jobs.c.worker == worker)
            .values(state=JobState.QUEUED, attempts=jobs.c.attempts - 1, updated_at=now)
            .returning(jobs.c.id)
        ).scalars()
    )


def fail_abandoned_jobs(
    conn: Connection, stale_before: datetime, max_attempts: int, now: datetime
) -> list[int]:
    """Fails running jobs with no heartbeat since stale_before that used up their attempts."""
    return list(
        conn.execute(
            update(jobs)
            .where(
                jobs.c.state == JobState.RUNNING,
                jobs.c.updated_at < stale_before,
                jobs.c.attempts >= max_attempts,
            )
            .values(
                state=JobState.FAILED,
                error=f"abandoned by its worker {max_attempts} times; not retried",
                finished_at=now,
                updated_at=now,
            )
            .returning(jobs.c.id)
        ).scalars()
    )


def requeue_abandoned_jobs(conn: Connection, stale_before: datetime, now: datetime) -> list[int]:
    """Turns running jobs with no heartbeat since stale_before back to queued."""
    return list(
        conn.execute(
            update(jobs)
            .where(jobs.c.state == JobState.RUNNING, jobs.c.updated_at < stale_before)
            .values(state=JobState.QUEUED, updated_at=now)
            .returning(jobs.c.id)
        ).scalars()
    )


def refresh_waiting_jobs(
    conn: Connection, waiting_before: datetime, now: datetime, *, skip: set[int]
) -> list[int]:
    """Queued jobs untouched since waiting_before (bar skip): marks them fresh, returns their ids.

    Marking them keeps the next sweep from enqueueing them again at once.
    """
    condition = and_(jobs.c.state == JobState.QUEUED, jobs.c.updated_at < waiting_before)
    if skip:
        condition = and_(condition, jobs.c.id.not_in(skip))
    return list(
        conn.execute(
            update(jobs).where(condition).values(updated_at=now).returning(jobs.c.id)
        ).scalars()
    )


def close_queued_job(conn: Connection, account_id: int, job_id: int, now: datetime) -> bool:
    """Finishes a delivery's send job that no worker has claimed yet, so none ever runs it
    (a worker claims only queued jobs). False when a worker holds it already."""
    return (
        conn.execute(
            update(jobs)
            .where(
                jobs.c.account_id == account_id,
                jobs.c.id == job_id,
                jobs.c.state == JobState.QUEUED,
            )
            .values(
                state=JobState.DONE,
                result={"cancelled": True},
                finished_at=now,
                updated_at=now,
            )
            .execution_options(preserve_rowcount=True)
        ).rowcount
        == 1
    )


def job_state(conn: Connection, account_id: int, job_id: int) -> JobState | None:
    state = conn.execute(
        select(jobs.c.state).where(jobs.c.account_id == account_id, jobs.c.id == job_id)
    ).scalar()
    return None if state is None else JobState(state)
