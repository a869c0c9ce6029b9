"""Deliveries and their ledger: the audience expanded in one statement, batches claimed,
outcomes recorded."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Select,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    distinct,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from kirje.domain.deliveries import (
    Delivery,
    DeliveryKind,
    DeliveryLink,
    DeliveryState,
    LedgerCounts,
    TrackedMailEvent,
)
from kirje.domain.deliveries import RecipientState as State
from kirje.domain.events import EventType
from kirje.store import events as event_store
from kirje.store.contacts import is_mailable
from kirje.store.matching import one_of
from kirje.store.schema import (
    contacts,
    deliveries,
    delivery_links,
    delivery_recipients,
    events,
    messages,
)
from kirje.store.types import Id, JsonDocument, UtcDateTime

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


def set_state_unless_cancelled(
    conn: Connection, account_id: int, delivery_id: int, state: DeliveryState, now: datetime, **more
) -> None:
    """As set_state, in one statement with the check: a cancel committed meanwhile stands."""
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.account_id == account_id,
            deliveries.c.id == delivery_id,
            deliveries.c.state != DeliveryState.CANCELLED,
        )
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
    conn: Connection, delivery_id: int, worker: str, size: int, now: datetime, *, after: int = 0
) -> list[Row]:
    """Takes up to `size` pending rows due now for this worker (others skip rows taken at the
    same moment: SKIP LOCKED on PostgreSQL; SQLite has one writer at a time), in contact
    order from contact `after` on.

    Rows are claimed in that order, so a claimer that starts where its last claim ended
    skips the rows already sent: in the index of pending rows those are dead entries until a
    vacuum, and scanning them from the start made every claim of a large delivery slower
    than the one before."""
    due = select(ledger.c.contact_id).where(
        ledger.c.delivery_id == delivery_id,
        ledger.c.state == State.PENDING,
        ledger.c.contact_id > after,
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


def _mark_in_flight(
    conn: Connection, delivery_id: int, contact_ids: Sequence[int], worker: str
) -> set[int]:
    """Marks the worker's claimed rows as handed to the transport, and returns which: a row
    cancelled (or released) since it was claimed is not, and must not be sent."""
    if not contact_ids:
        return set()
    rows = conn.execute(
        update(ledger)
        .where(
            ledger.c.delivery_id == delivery_id,
            one_of(conn, ledger.c.contact_id, contact_ids),
            ledger.c.state == State.CLAIMED,
            ledger.c.claimed_by == worker,
        )
        .values(state=State.SENDING)
        .returning(ledger.c.contact_id)
    )
    return set(rows.scalars())


def _mark_sent(
    conn: Connection, delivery_id: int, contact_ids: Sequence[int], now: datetime
) -> None:
    if contact_ids:
        conn.execute(
            update(ledger)
            .where(
                ledger.c.delivery_id == delivery_id,
                one_of(conn, ledger.c.contact_id, contact_ids),
            )
            .values(state=State.SENT, sent_at=now, reply=None)
        )


@dataclass(frozen=True, slots=True)
class RecordedWave:
    # (event id, contact id) of each mailsent event written.
    sent_events: list[tuple[int, int]]
    # The next wave's rows marked in flight (a row cancelled or released meanwhile is not).
    in_flight: set[int]


def record_wave(
    conn: Connection,
    account_id: int,
    delivery_id: int,
    sent: Sequence[int],
    next_wave: Sequence[int],
    worker: str,
    now: datetime,
) -> RecordedWave:
    """The send job's step between two waves: the rows the SMTP server took marked sent, a
    mailsent event for each, and the worker's next wave marked in flight (a row cancelled or
    released since it was claimed is not, and must not be sent).

    On PostgreSQL it is one statement of data-modifying CTEs: as separate statements these
    were the send job's largest cost after the DKIM signature (a wave is a few dozen rows, so
    the round trips and the driver's per-statement work, not the rows, set the price)."""
    if conn.dialect.name != "postgresql":
        _mark_sent(conn, delivery_id, sent, now)
        rows = [sent_event_row(account_id, delivery_id, contact_id, now) for contact_id in sent]
        ids = event_store.append_returning_ids(conn, rows)
        in_flight = _mark_in_flight(conn, delivery_id, next_wave, worker)
        return RecordedWave(list(zip(ids, sent, strict=True)), in_flight)
    rows = conn.execute(
        _RECORD_WAVE,
        {
            "wave_account": account_id,
            "wave_delivery": delivery_id,
            "wave_sent": list(sent),
            "wave_next": list(next_wave),
            "wave_worker": worker,
            "wave_now": now,
            "wave_data": {"delivery": delivery_id},
        },
    ).all()
    return RecordedWave(
        [(id_, contact_id) for id_, contact_id in rows if id_ is not None],
        {contact_id for id_, contact_id in rows if id_ is None},
    )


def _record_wave_statement():
    """record_wave's statement on PostgreSQL, built once with its parameters bound by name:
    building it per wave (and computing its cache key) cost a twentieth of a sender's CPU.
    (No parameter is named as a column: SQLAlchemy would take it for a value to SET.)"""
    delivery_id = bindparam("wave_delivery", type_=Id)
    now = bindparam("wave_now", type_=UtcDateTime)
    marked_sent = (
        update(ledger)
        .where(
            ledger.c.delivery_id == delivery_id,
            ledger.c.contact_id == any_(bindparam("wave_sent", type_=_CONTACT_IDS)),
        )
        .values(state=State.SENT, sent_at=now, reply=null())
        .returning(ledger.c.contact_id)
        .cte("marked_sent")
    )
    written = (
        insert(events)
        .from_select(
            ["account_id", "contact_id", "type", "at", "data", "delivery_id"],
            select(
                bindparam("wave_account", type_=Id),
                marked_sent.c.contact_id,
                literal(EventType.MAIL_SENT.value),
                now,
                bindparam("wave_data", type_=JsonDocument),
                delivery_id,
            ),
        )
        .returning(events.c.id, events.c.contact_id)
        .cte("written")
    )
    handed_over = (
        update(ledger)
        .where(
            ledger.c.delivery_id == delivery_id,
            ledger.c.contact_id == any_(bindparam("wave_next", type_=_CONTACT_IDS)),
            ledger.c.state == State.CLAIMED,
            ledger.c.claimed_by == bindparam("wave_worker"),
        )
        .values(state=State.SENDING)
        .returning(ledger.c.contact_id)
        .cte("handed_over")
    )
    return select(written.c.id, written.c.contact_id).union_all(
        select(cast(null(), Id), handed_over.c.contact_id)
    )


_CONTACT_IDS = ARRAY(Id)
_RECORD_WAVE = _record_wave_statement()


def sent_event_row(account_id: int, delivery_id: int, contact_id: int, now: datetime) -> dict:
    """The mailsent event of a message, as record_wave writes it."""
    return event_store.event_row(
        account_id,
        contact_id,
        EventType.MAIL_SENT,
        now,
        data={"delivery": delivery_id},
        delivery_id=delivery_id,
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


# Scheduling, cancelling and the listings of deliveries.

_CANCELLABLE = [DeliveryState.SCHEDULED, DeliveryState.QUEUED, DeliveryState.SENDING]


def due_deliveries(conn: Connection, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(account, delivery) of scheduled deliveries whose time has come, the longest due first:
    worker-side, across accounts (each is then started in its own account's scope)."""
    rows = conn.execute(
        select(deliveries.c.account_id, deliveries.c.id)
        .where(deliveries.c.state == DeliveryState.SCHEDULED, deliveries.c.scheduled_at <= now)
        .order_by(deliveries.c.scheduled_at, deliveries.c.id)
        .limit(limit)
    )
    return [(row.account_id, row.id) for row in rows]


def take_due(conn: Connection, account_id: int, delivery_id: int, now: datetime) -> Delivery | None:
    """Moves a due scheduled delivery to queued in one conditional UPDATE; None when it is not
    (any more) scheduled and due: another sweep took it, or it was cancelled. On PostgreSQL a
    delivery another sweep is starting right now is skipped, not waited for."""
    due = select(deliveries.c.id).where(
        deliveries.c.account_id == account_id,
        deliveries.c.id == delivery_id,
        deliveries.c.state == DeliveryState.SCHEDULED,
        deliveries.c.scheduled_at <= now,
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    if conn.execute(due).first() is None:
        return None
    row = conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == DeliveryState.SCHEDULED)
        .values(state=DeliveryState.QUEUED, updated_at=now)
        .returning(*deliveries.c)
    ).first()
    return None if row is None else _delivery(row)


def cancel_deliveries(
    conn: Connection, account_id: int, delivery_ids: Sequence[int], now: datetime
) -> list[Delivery]:
    """Cancels those of the deliveries that are not finished, in one conditional UPDATE;
    returns them as they were before."""
    if not delivery_ids:
        return []
    chosen = and_(
        deliveries.c.account_id == account_id,
        deliveries.c.id.in_(list(delivery_ids)),
        deliveries.c.state.in_(_CANCELLABLE),
    )
    before = [
        _delivery(row)
        for row in conn.execute(select(deliveries).where(chosen).order_by(deliveries.c.id))
    ]
    if not before:
        return []
    cancelled = set(
        conn.execute(
            update(deliveries)
            .where(chosen, deliveries.c.id.in_([d.id for d in before]))
            .values(state=DeliveryState.CANCELLED, finished_at=now, updated_at=now)
            .returning(deliveries.c.id)
        ).scalars()
    )
    return [d for d in before if d.id in cancelled]


def cancel_unsent(conn: Connection, delivery_ids: Sequence[int]) -> int:
    """Ledger rows not handed to the transport become cancelled: pending ones, so a send job
    claims none of them, and claimed ones (the job hands over only rows still claimed by it,
    record_wave). Rows in flight and outcomes recorded stay as they are. Returns how many."""
    if not delivery_ids:
        return 0
    return conn.execute(
        update(ledger)
        .where(
            ledger.c.delivery_id.in_(list(delivery_ids)),
            ledger.c.state.in_([State.PENDING, State.CLAIMED]),
        )
        .values(state=State.CANCELLED, claimed_by=None, next_attempt_at=None)
        .execution_options(preserve_rowcount=True)
    ).rowcount


def change_delivery(
    conn: Connection, account_id: int, delivery_id: int, now: datetime, **values
) -> bool:
    return (
        conn.execute(
            update(deliveries)
            .where(deliveries.c.account_id == account_id, deliveries.c.id == delivery_id)
            .values(updated_at=now, **values)
            .execution_options(preserve_rowcount=True)
        ).rowcount
        == 1
    )


def delete_delivery(conn: Connection, account_id: int, delivery_id: int) -> None:
    """The delivery, its ledger and its links; its events stay (what happened, happened)."""
    conn.execute(
        delete(delivery_links).where(
            delivery_links.c.account_id == account_id, delivery_links.c.delivery_id == delivery_id
        )
    )
    conn.execute(
        delete(ledger).where(ledger.c.account_id == account_id, ledger.c.delivery_id == delivery_id)
    )
    conn.execute(
        delete(deliveries).where(
            deliveries.c.account_id == account_id, deliveries.c.id == delivery_id
        )
    )


def list_deliveries(
    conn: Connection,
    account_id: int,
    *,
    delivery_id: int | None = None,
    state: DeliveryState | None = None,
    related_to: int | None = None,
    only_related: bool = False,
) -> list[tuple[Delivery, str, str]]:
    """(delivery, message name, message subject) of the account's deliveries that match,
    in id order (scheduled ones: by their time)."""
    conditions = [deliveries.c.account_id == account_id]
    if delivery_id is not None:
        conditions.append(deliveries.c.id == delivery_id)
    if state is not None:
        conditions.append(deliveries.c.state == state)
    if related_to is not None:
        conditions.append(deliveries.c.related_to == related_to)
    if only_related:
        conditions.append(deliveries.c.related_to.is_not(None))
    order = (
        [deliveries.c.scheduled_at, deliveries.c.id]
        if state is DeliveryState.SCHEDULED
        else [deliveries.c.id]
    )
    found = [
        _delivery(row)
        for row in conn.execute(select(deliveries).where(*conditions).order_by(*order))
    ]
    message_ids = sorted({d.message_id for d in found})
    titles = {
        row.id: (row.name or "", row.subject or "")
        for row in conn.execute(
            select(messages.c.id, messages.c.name, messages.c.subject).where(
                messages.c.account_id == account_id, messages.c.id.in_(message_ids)
            )
        )
    }
    return [(d, *titles.get(d.message_id, ("", ""))) for d in found]


def ledger_counts_of(
    conn: Connection, account_id: int, delivery_ids: Sequence[int]
) -> dict[int, LedgerCounts]:
    """Each delivery's counts per ledger state, grouped in the database (ids in chunks)."""
    tallies: dict[int, dict[str, int]] = {}
    ids = list(delivery_ids)
    for start in range(0, len(ids), 1000):
        rows = conn.execute(
            select(ledger.c.delivery_id, ledger.c.state, func.count().label("n"))
            .where(
                ledger.c.account_id == account_id,
                ledger.c.delivery_id.in_(ids[start : start + 1000]),
            )
            .group_by(ledger.c.delivery_id, ledger.c.state)
        )
        for row in rows:
            tallies.setdefault(row.delivery_id, {})[row.state] = row.n
    return {delivery_id: LedgerCounts(**tallies.get(delivery_id, {})) for delivery_id in ids}


def _of_message(account_id: int, message_id: int):
    return select(deliveries.c.id).where(
        deliveries.c.account_id == account_id, deliveries.c.message_id == message_id
    )


def _clicked_position():
    return events.c.data["link"].as_integer()


def links_with_clicks(
    conn: Connection,
    account_id: int,
    *,
    delivery_id: int | None = None,
    message_id: int | None = None,
) -> list[DeliveryLink]:
    """The tracked links of one delivery, of every delivery of one message, or of the whole
    account, each with its clicks (maillink events naming its position) counted in SQL."""
    link_filter = [delivery_links.c.account_id == account_id]
    click_filter = [
        events.c.account_id == account_id,
        events.c.type == EventType.MAIL_LINK.value,
        events.c.delivery_id.is_not(None),
    ]
    if delivery_id is not None:
        link_filter.append(delivery_links.c.delivery_id == delivery_id)
        click_filter.append(events.c.delivery_id == delivery_id)
    if message_id is not None:
        link_filter.append(delivery_links.c.message_id == message_id)
        click_filter.append(events.c.delivery_id.in_(_of_message(account_id, message_id)))
    clicks = (
        select(
            events.c.delivery_id,
            _clicked_position().label("link_position"),
            func.count().label("clicks"),
            func.count(distinct(events.c.contact_id)).label("clickers"),
        )
        .where(*click_filter)
        # By the label: an expression with a bound key would not match itself on PostgreSQL.
        .group_by(events.c.delivery_id, "link_position")
        .subquery("clicks")
    )
    rows = conn.execute(
        select(delivery_links, clicks.c.clicks, clicks.c.clickers)
        .select_from(
            delivery_links.outerjoin(
                clicks,
                and_(
                    clicks.c.delivery_id == delivery_links.c.delivery_id,
                    clicks.c.link_position == delivery_links.c.position,
                ),
            )
        )
        .where(*link_filter)
        .order_by(delivery_links.c.id)
    )
    return [
        DeliveryLink(
            id=row.id,
            delivery_id=row.delivery_id,
            message_id=row.message_id,
            position=row.position,
            url=row.url,
            clicks=row.clicks or 0,
            clickers=row.clickers or 0,
        )
        for row in rows
    ]


def tracked_mail_events(
    conn: Connection,
    account_id: int,
    message_id: int,
    kind: EventType,
    since: datetime | None,
) -> list[TrackedMailEvent]:
    """Opens or clicks of every delivery of a message (since a moment), oldest first, with
    the contact's address and, for a click, the id of the link followed."""
    conditions = [
        events.c.account_id == account_id,
        events.c.type == kind.value,
        events.c.delivery_id.in_(_of_message(account_id, message_id)),
    ]
    if since is not None:
        conditions.append(events.c.at >= since)
    joined = events.outerjoin(
        contacts, and_(contacts.c.id == events.c.contact_id, contacts.c.account_id == account_id)
    ).outerjoin(
        delivery_links,
        and_(
            delivery_links.c.delivery_id == events.c.delivery_id,
            delivery_links.c.position == _clicked_position(),
        ),
    )
    rows = conn.execute(
        select(
            events.c.delivery_id,
            events.c.contact_id,
            events.c.at,
            events.c.data,
            contacts.c.email,
            delivery_links.c.id.label("link_id"),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(events.c.at, events.c.id)
    )
    return [
        TrackedMailEvent(
            delivery_id=row.delivery_id,
            contact_id=row.contact_id,
            email=row.email,
            at=row.at,
            user_agent=(row.data or {}).get("user_agent"),
            link_id=row.link_id if kind is EventType.MAIL_LINK else None,
        )
        for row in rows
    ]


# What the public web view and the outbox listing read.


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
