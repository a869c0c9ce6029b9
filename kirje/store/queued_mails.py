"""System mails (welcome, confirmation) asked for, each linked to the delivery that sends it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from kirje.store.schema import queued_mails

QUEUED = "queued"
# No delivery could be made for the request (the error went back to the caller).
FAILED = "failed"


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
            state=QUEUED,
            created_at=now,
        )
        .returning(queued_mails.c.id)
    ).scalar_one()


def link_delivery(conn: Connection, account_id: int, mail_id: int, delivery_id: int) -> None:
    conn.execute(
        update(queued_mails)
        .where(queued_mails.c.account_id == account_id, queued_mails.c.id == mail_id)
        .values(delivery_id=delivery_id)
    )


def mark_failed(conn: Connection, account_id: int, mail_id: int) -> None:
    conn.execute(
        update(queued_mails)
        .where(queued_mails.c.account_id == account_id, queued_mails.c.id == mail_id)
        .values(state=FAILED)
    )


def has_mail(conn: Connection, account_id: int, contact_id: int, kind: str) -> bool:
    """Whether the contact was sent (or is being sent) a mail of this kind."""
    count = conn.execute(
        select(func.count()).where(
            queued_mails.c.account_id == account_id,
            queued_mails.c.contact_id == contact_id,
            queued_mails.c.kind == kind,
            queued_mails.c.state == QUEUED,
        )
    ).scalar_one()
    return count > 0


def mails_for(conn: Connection, account_id: int, contact_id: int) -> list:
    return conn.execute(
        select(queued_mails)
        .where(queued_mails.c.account_id == account_id, queued_mails.c.contact_id == contact_id)
        .order_by(queued_mails.c.id)
    ).all()
