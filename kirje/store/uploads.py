"""Uploads SQL: a file's chunks in order, its size once complete, and the end of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select, update

from kirje.domain.jobs import JobState
from kirje.store.schema import jobs, upload_chunks, uploads


def create_upload(conn: Connection, account_id: int, suffix: str, now: datetime) -> int:
    return conn.execute(
        insert(uploads)
        .values(account_id=account_id, suffix=suffix, created_at=now)
        .returning(uploads.c.id)
    ).scalar_one()


def add_chunk(conn: Connection, upload_id: int, number: int, data: bytes) -> None:
    conn.execute(insert(upload_chunks).values(upload_id=upload_id, number=number, data=data))


def complete_upload(conn: Connection, account_id: int, upload_id: int, size: int) -> None:
    conn.execute(
        update(uploads)
        .where(uploads.c.account_id == account_id, uploads.c.id == upload_id)
        .values(size=size)
    )


def attach_to_job(conn: Connection, account_id: int, upload_id: int, job_id: int) -> None:
    conn.execute(
        update(uploads)
        .where(uploads.c.account_id == account_id, uploads.c.id == upload_id)
        .values(job_id=job_id)
    )


def upload_size(conn: Connection, account_id: int, upload_id: int) -> int | None:
    """The size of a complete upload; None when there is none (incomplete, or deleted)."""
    return conn.execute(
        select(uploads.c.size).where(uploads.c.account_id == account_id, uploads.c.id == upload_id)
    ).scalar_one_or_none()


def delete_upload(conn: Connection, account_id: int, upload_id: int) -> None:
    owned = conn.execute(
        delete(uploads)
        .where(uploads.c.account_id == account_id, uploads.c.id == upload_id)
        .returning(uploads.c.id)
    ).scalar_one_or_none()
    if owned is not None:
        conn.execute(delete(upload_chunks).where(upload_chunks.c.upload_id == upload_id))


def delete_ended_uploads(conn: Connection, unattached_before: datetime) -> list[int]:
    """Deletes the uploads no job will read (worker-side, across accounts): those whose job has
    ended, and those never given to a job since `unattached_before` (a request that failed
    or died between the upload and queueing its job). Returns their ids."""
    ended = select(jobs.c.id).where(
        jobs.c.id == uploads.c.job_id, jobs.c.state.in_([JobState.DONE, JobState.FAILED])
    )
    ids = list(
        conn.execute(
            delete(uploads)
            .where(
                or_(
                    ended.exists(),
                    uploads.c.job_id.is_(None) & (uploads.c.created_at < unattached_before),
                )
            )
            .returning(uploads.c.id)
        ).scalars()
    )
    if ids:
        conn.execute(delete(upload_chunks).where(upload_chunks.c.upload_id.in_(ids)))
    return ids


def existing_uploads(conn: Connection, upload_ids: list[int]) -> set[int]:
    return set(conn.execute(select(uploads.c.id).where(uploads.c.id.in_(upload_ids))).scalars())


def chunks(conn: Connection, upload_id: int) -> Iterator[bytes]:
    """The upload's chunks in order, one in memory at a time (the caller has checked the
    upload's account)."""
    numbers = conn.execute(
        select(upload_chunks.c.number)
        .where(upload_chunks.c.upload_id == upload_id)
        .order_by(upload_chunks.c.number)
    ).scalars()
    for number in list(numbers):
        yield conn.execute(
            select(upload_chunks.c.data).where(
                upload_chunks.c.upload_id == upload_id, upload_chunks.c.number == number
            )
        ).scalar_one()
