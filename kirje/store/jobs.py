"""Job rows: the durable truth about every asynchronous operation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row

from kirje.domain.jobs import Job, JobState
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
    )


def insert_job(
    conn: Connection,
    *,
    account_id: int,
    kind: str,
    now: datetime,
    subject_id: int | None = None,
    state: JobState = JobState.QUEUED,
) -> int:
    return conn.execute(
        insert(jobs)
        .values(
            account_id=account_id,
            kind=kind,
            state=state,
            subject_id=subject_id,
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
