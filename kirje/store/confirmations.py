"""Confirmation codes and the tasks waiting for a recipient's confirmation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.engine import Row

from kirje.domain.confirmations import ConfirmationTask, TaskKind
from kirje.store.schema import confirmation_tasks, contacts


def _task(row: Row) -> ConfirmationTask:
    return ConfirmationTask(
        id=row.id,
        contact_id=row.contact_id,
        code=row.code,
        kind=TaskKind(row.kind),
        task=row.task or {},
        created_at=row.created_at,
        done_at=row.done_at,
    )


def contact_id_with_code(conn: Connection, account_id: int, code: str) -> int | None:
    """The contact (not deleted) whose current confirmation code this is."""
    return conn.execute(
        select(contacts.c.id).where(
            contacts.c.account_id == account_id,
            contacts.c.confirmation_code == code,
            contacts.c.deleted_at.is_(None),
        )
    ).scalar()


def insert_tasks(
    conn: Connection,
    *,
    account_id: int,
    contact_id: int,
    code: str,
    tasks: list[tuple[TaskKind, dict]],
    now: datetime,
) -> list[int]:
    """Inserts the tasks in one statement; returns their ids in the order given."""
    rows = [
        dict(
            account_id=account_id,
            contact_id=contact_id,
            code=code,
            kind=kind.value,
            task=task,
            created_at=now,
        )
        for kind, task in tasks
    ]
    if not rows:
        return []
    statement = insert(confirmation_tasks).returning(
        confirmation_tasks.c.id, sort_by_parameter_order=True
    )
    return list(conn.execute(statement, rows).scalars())


def pending_tasks(
    conn: Connection, account_id: int, contact_id: int, code: str
) -> list[ConfirmationTask]:
    rows = conn.execute(
        select(confirmation_tasks)
        .where(_pending(account_id, contact_id, code))
        .order_by(confirmation_tasks.c.id)
    )
    return [_task(row) for row in rows]


def claim_pending_tasks(
    conn: Connection, account_id: int, contact_id: int, code: str, now: datetime
) -> list[ConfirmationTask]:
    """Marks the pending tasks done and returns them, in the order they were added. One
    UPDATE claims them, so two confirmations racing never both run a task."""
    rows = conn.execute(
        update(confirmation_tasks)
        .where(_pending(account_id, contact_id, code))
        .values(done_at=now)
        .returning(*confirmation_tasks.c)
    ).all()
    return sorted((_task(row) for row in rows), key=lambda task: task.id)


def _pending(account_id: int, contact_id: int, code: str):
    return and_(
        confirmation_tasks.c.account_id == account_id,
        confirmation_tasks.c.code == code,
        confirmation_tasks.c.contact_id == contact_id,
        confirmation_tasks.c.done_at.is_(None),
    )
