"""What the public web view and the outbox listing read about deliveries: one recipient's
ledger row, and which of some deliveries are an account's."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from kirje.store.matching import one_of
from kirje.store.schema import deliveries, delivery_recipients


def find_ledger_row(
    conn: Connection, account_id: int, delivery_id: int, contact_id: int
) -> Row | None:
    """The recipient's ledger row (email, properties, state) of the account's delivery."""
    return conn.execute(
        select(
            delivery_recipients.c.email,
            delivery_recipients.c.properties,
            delivery_recipients.c.state,
        ).where(
            delivery_recipients.c.account_id == account_id,
            delivery_recipients.c.delivery_id == delivery_id,
            delivery_recipients.c.contact_id == contact_id,
        )
    ).first()


def owned_delivery_ids(
    conn: Connection, account_id: int, delivery_ids: Collection[int]
) -> set[int]:
    """Those of the delivery ids that are the account's."""
    if not delivery_ids:
        return set()
    rows = conn.execute(
        select(deliveries.c.id).where(
            deliveries.c.account_id == account_id, one_of(conn, deliveries.c.id, delivery_ids)
        )
    )
    return set(rows.scalars())
