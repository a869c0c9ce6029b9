"""Messages (drafts)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row

from kirje.domain.messages import Message, MessageContent
from kirje.store.schema import messages


def _message(row: Row) -> Message:
    return Message(**row._asdict())


def insert_message(
    conn: Connection, account_id: int, content: MessageContent, now: datetime
) -> int:
    return conn.execute(
        insert(messages)
        .values(account_id=account_id, created_at=now, updated_at=now, **asdict(content))
        .returning(messages.c.id)
    ).scalar_one()


def update_message(
    conn: Connection, account_id: int, message_id: int, content: MessageContent, now: datetime
) -> bool:
    result = conn.execute(
        update(messages)
        .where(messages.c.account_id == account_id, messages.c.id == message_id)
        .values(updated_at=now, **asdict(content))
    )
    return result.rowcount > 0


def find_message(conn: Connection, account_id: int, message_id: int) -> Message | None:
    row = conn.execute(
        select(messages).where(messages.c.account_id == account_id, messages.c.id == message_id)
    ).first()
    return None if row is None else _message(row)


def list_messages(conn: Connection, account_id: int, *, limit: int, offset: int) -> list[Message]:
    rows = conn.execute(
        select(messages)
        .where(messages.c.account_id == account_id)
        .order_by(messages.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_message(row) for row in rows]
