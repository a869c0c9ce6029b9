"""Deliveries and their ledger: the audience expanded in one statement, batches claimed,
outcomes recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import (
    Connection,
    Select,
    and_,
    exists,
    func,
    insert,
    literal,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from kirje.domain.deliveries import Delivery, DeliveryKind, DeliveryState, LedgerCounts
from kirje.domain.deliveries import RecipientState as State
from kirje.store.contacts import is_mailable
from kirje.store.schema import contacts, deliveries, delivery_links, delivery_recipients
from kirje.store.types import Id

ledger = delivery_recipients


def insert_delivery(conn: Connection, *, account_id: int, now: datetime, **values) -> int:
    return conn.execute(
        insert(deliveries)
        .values(account_id=account_id, created_at=now, updated_at=now, **values)
        .returning(deliveries.c.id)
    ).scalar_one()


def find_delivery(conn: Connection, account_id: int, delivery_id: int) -> Delivery | None:
    row = conn.execute(
        select(deliveries).where(
            deliveries.c.account_id == account_id, deliveries.c.id == delivery_id
        )
    ).first()
    return None if row is None else _delivery(row)


def _delivery(row: Row) -> Delivery:
    values = row._asdict()
    values.pop("updated_at")
    values["kind"] = DeliveryKind(values["kind"])
    values["state"] = DeliveryState(values["state"])
    return Delivery(**values)


def set_state(
    conn: Connection, account_id: int, delivery_id: int, state: DeliveryState, now: datetime, **more
) -> None:
    conn.execute(
        update(deliveries)
        .where(deliveries.c.account_id == account_id, deliveries.c.id == delivery_id)
        .values(state=state, updated_at=now, **more)
    )


def record_links(conn: Connection, delivery: Delivery, urls: Sequence[str], now: datetime) -> None:
    """Gives each tracked link of the delivery's message an id, once (a resumed run finds
    them recorded)."""
    if not urls:
        return
    build = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    rows = [
        dict(
            account_id=delivery.account_id,
            delivery_id=delivery.id,
            message_id=delivery.message_id,
            position=position,
            url=url,
            created_at=now,
        )
        for position, url in enumerate(urls)
    ]
    conn.execute(build(delivery_links).on_conflict_do_nothing(), rows)


def expand_audience(
    conn: Connection,
    account_id: int,
    delivery: Delivery,
    audiences: Sequence[Select],
    given: Mapping[int, dict[str, str]],
) -> int:
    """Writes one ledger row per mailable contact of the audiences and the given contacts, in
    one statement: each once however many lists name them; never a deleted, disabled,
    bounced, banned or forgotten one, nor one without an address; and, unless the letter
    resets recipients, none that was sent this message before. Returns how many."""
    candidates = list(audiences)
    if given:
        candidates.append(select(contacts.c.id).where(contacts.c.id.in_(list(given))))
    if not candidates:
        return 0
    named = union(*candidates).subquery("named")
    conditions = [
        contacts.c.account_id == account_id,
        contacts.c.id.in_(select(named.c[0])),
        contacts.c.email.is_not(None),
        is_mailable(),
    ]
    if not delivery.recipients_reset:
        conditions.append(~_was_sent(account_id, delivery.message_id))
    rows = select(
        literal(delivery.id, Id),
        contacts.c.id,
        literal(account_id, Id),
        contacts.c.email,
        literal(State.PENDING.value),
    ).where(*conditions)
    build = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = build(ledger).from_select(
        ["delivery_id", "contact_id", "account_id", "email", "state"], rows
    )
    count = conn.execute(
        statement.on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    ).rowcount
    for contact_id, properties in given.items():
        if properties:
            conn.execute(
                update(ledger)
                .where(ledger.c.delivery_id == delivery.id, ledger.c.contact_id == contact_id)
                .values(properties=properties)
            )
    return count


def _was_sent(account_id: int, message_id: int):
    earlier = ledger.alias("earlier")
    return exists(
        select(1)
        .select_from(earlier.join(deliveries, deliveries.c.id == earlier.c.delivery_id))
        .where(
            deliveries.c.account_id == account_id,
            deliveries.c.message_id == message_id,
            earlier.c.contact_id == contacts.c.id,
            earlier.c.state == State.SENT,
        )
    )


def claim_batch(
    conn: Connection, delivery_id: int, worker: str, size: int, now: datetime
) -> list[Row]:
    """Takes up to `size` pending rows due now for this worker (others skip rows taken at the
    same moment: SKIP LOCKED on PostgreSQL; SQLite has one writer at a time)."""
    due = select(ledger.c.contact_id).where(
        ledger.c.delivery_id == delivery_id,
        ledger.c.state == State.PENDING,
        (ledger.c.next_attempt_at.is_(None)) | (ledger.c.next_attempt_at <= now),
    )
    due = due.order_by(ledger.c.contact_id).limit(size)
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # Picked once, as a materialised CTE: as a plain IN (subquery) PostgreSQL may run the
    # subquery again per row and so take more rows than `size`.
    picked = due.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    return list(
        conn.execute(
            update(ledger)
            .where(
                ledger.c.delivery_id == delivery_id,
                ledger.c.contact_id.in_(select(picked.c.contact_id)),
            )
            .values(state=State.CLAIMED, claimed_by=worker, claimed_at=now)
            .returning(ledger.c.contact_id, ledger.c.email, ledger.c.properties, ledger.c.attempts)
        )
    )


def mark(
    conn: Connection,
    delivery_id: int,
    contact_ids: Sequence[int],
    state: State,
    now: datetime,
    **values,
) -> None:
    if contact_ids:
        conn.execute(
            update(ledger)
            .where(ledger.c.delivery_id == delivery_id, ledger.c.contact_id.in_(list(contact_ids)))
            .values(state=state, **values)
        )


def ledger_counts(conn: Connection, delivery_id: int) -> LedgerCounts:
    rows = conn.execute(
        select(ledger.c.state, func.count())
        .where(ledger.c.delivery_id == delivery_id)
        .group_by(ledger.c.state)
    )
    return LedgerCounts(**{state: count for state, count in rows})


def release_abandoned(
    conn: Connection, delivery_id: int, worker_alive, *, resend_unknown: bool
) -> tuple[int, int]:
    """Rows a dead worker held: claimed ones go back to pending (never handed over); ones in
    flight become unknown, or pending when the delivery resends what is in doubt."""
    held = conn.execute(
        select(ledger.c.claimed_by)
        .where(
            ledger.c.delivery_id == delivery_id,
            ledger.c.state.in_([State.CLAIMED, State.SENDING]),
        )
        .distinct()
    ).scalars()
    dead = [worker for worker in held if worker and not worker_alive(worker)]
    if not dead:
        return 0, 0
    of_dead = and_(ledger.c.delivery_id == delivery_id, ledger.c.claimed_by.in_(dead))
    released = conn.execute(
        update(ledger)
        .where(of_dead, ledger.c.state == State.CLAIMED)
        .values(state=State.PENDING, claimed_by=None)
    ).rowcount
    doubtful = conn.execute(
        update(ledger)
        .where(of_dead, ledger.c.state == State.SENDING)
        .values(state=State.PENDING if resend_unknown else State.UNKNOWN, claimed_by=None)
    ).rowcount
    return released, doubtful
