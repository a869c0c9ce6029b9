"""System mails (welcome, confirmation) waiting for the sending pipeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from kirje.store.schema import queued_mails


def queue_mail(
    conn: Connection,
    *,
    account_id: int,
    contact_id: int,
    kind: str,
    site_id: int | None,
    properties: dict,
    now: datetime,
) -> int:
    return conn.execute(
        insert(queued_mails)
        .values(
            account_id=account_id,
            contact_id=contact_id,
            kind=kind,
            site_id=site_id,
            properties=properties,
            state="queued",
            created_at=now,
        )
        .returning(queued_mails.c.id)
    ).scalar_one()


def has_mail(conn: Connection, account_id: int, contact_id: int, kind: str) -> bool:
    count = conn.execute(
        select(func.count()).where(
            queued_mails.c.account_id == account_id,
            queued_mails.c.contact_id == contact_id,
            queued_mails.c.kind == kind,
        )
    ).scalar_one()
    return count > 0


def mails_for(conn: Connection, account_id: int, contact_id: int) -> list:
    return conn.execute(
        select(queued_mails)
        .where(queued_mails.c.account_id == account_id, queued_mails.c.contact_id == contact_id)
        .order_by(queued_mails.c.id)
    ).all()
