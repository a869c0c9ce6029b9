"""Delivery reports read from the ledger, the mail events and the tracked links.

Every number is counted by grouped statements over all the deliveries asked for at once (one
per kind of source: the ledger, the events, the unsubscribes), never by a statement per
delivery or per recipient. Events are found through their delivery (index delivery_id, type)
and joined to the ledger by its primary key (delivery_id, contact_id). Groups of recipients
that exclude others (non-openers, recipients without a bounce) use NOT IN over a subquery that
does not depend on the row, which both backends run once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.engine import Row

from kirje.domain.deliveries import Delivery, DeliveryKind, DeliveryState
from kirje.domain.deliveries import RecipientState as State
from kirje.domain.delivery_reports import (
    AccountStatistics,
    Click,
    ClickPage,
    DeliveryReport,
    DeliveryTotals,
    GroupMember,
    LinkClick,
    LinkSummary,
    OpenerSummary,
    ReceivedMail,
    RecipientGroup,
    ReportList,
    ReportOrder,
    ReportRange,
    SentMailSearch,
    TrackedLink,
)
from kirje.domain.events import EventType
from kirje.store.schema import (
    contacts,
    deliveries,
    delivery_links,
    delivery_recipients,
    events,
    mailing_lists,
    messages,
)

ledger = delivery_recipients

OPEN = EventType.MAIL_OPEN.value
CLICK = EventType.MAIL_LINK.value
BOUNCE = EventType.MAIL_BOUNCE.value
UNSUBSCRIBE = EventType.UNSUBSCRIBED.value
LIST_QUIT = EventType.LIST_QUIT.value
SENT = EventType.MAIL_SENT.value

_WAITING = (State.PENDING.value, State.CLAIMED.value, State.SENDING.value)
_DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery))


# Listing


def page_ids(
    conn: Connection,
    account_id: int,
    chosen: ReportRange,
    *,
    kinds: Sequence[DeliveryKind] | None = None,
    archive: str | None = None,
) -> list[int]:
    """Ids of one page of the account's deliveries shown in reports (not hidden), in order:
    created within the range, of the given kinds, on the given archive (RSS feed)."""
    query = (
        select(deliveries.c.id)
        .select_from(_with_message(deliveries))
        .where(deliveries.c.account_id == account_id, deliveries.c.hidden == false())
    )
    if chosen.since is not None:
        query = query.where(deliveries.c.created_at >= chosen.since)
    if chosen.until is not None:
        query = query.where(deliveries.c.created_at < chosen.until)
    if kinds is not None:
        query = query.where(deliveries.c.kind.in_([kind.value for kind in kinds]))
    if archive is not None:
        query = query.where(_array_holds(conn, deliveries.c.archives, archive))
    key = _sort_key(chosen.order, account_id)
    direction = (lambda c: c.desc()) if chosen.descending else (lambda c: c.asc())
    # Nulls last either way (the backends differ by default): a delivery without a list.
    query = query.order_by(key.is_(None), direction(key), direction(deliveries.c.id))
    return list(conn.execute(query.offset(chosen.offset).limit(chosen.limit)).scalars())


def _with_message(base):
    return base.outerjoin(
        messages,
        and_(
            messages.c.id == deliveries.c.message_id,
            messages.c.account_id == deliveries.c.account_id,
        ),
    )


def _sort_key(order: ReportOrder, account_id: int) -> ColumnElement:
    if order is ReportOrder.CREATED:
        return deliveries.c.created_at
    if order is ReportOrder.ID:
        return deliveries.c.id
    if order is ReportOrder.SCHEDULED:
        return func.coalesce(deliveries.c.scheduled_at, deliveries.c.created_at)
    if order is ReportOrder.SUBJECT:
        return func.coalesce(deliveries.c.overrides["subject"].as_string(), messages.c.subject)
    if order is ReportOrder.MESSAGE_NAME:
        return messages.c.name
    if order is ReportOrder.LIST_ID:
        return deliveries.c.list_ids[0].as_integer()
    if order is ReportOrder.MEMBERS:
        return select(func.count()).where(ledger.c.delivery_id == deliveries.c.id).scalar_subquery()
    return (
        select(func.count(distinct(events.c.contact_id)))
        .where(
            events.c.delivery_id == deliveries.c.id,
            events.c.type == BOUNCE,
            events.c.account_id == account_id,
        )
        .scalar_subquery()
    )


def _array_holds(conn: Connection, document, value: str) -> ColumnElement:
    """Whether a JSON array column holds the string value (None holds nothing)."""
    if conn.dialect.name == "postgresql":
        elements = func.jsonb_array_elements_text(document).table_valued("value")
    else:
        elements = func.json_each(document).table_valued("value")
    return select(1).select_from(elements).where(elements.c.value == value).exists()


# Reports


def reports(conn: Connection, account_id: int, ids: Sequence[int]) -> dict[int, DeliveryReport]:
    """The reports of the account's deliveries among ids (hidden ones too), by id."""
    if not ids:
        return {}
    ids = list(dict.fromkeys(ids))
    rows = conn.execute(
        select(
            deliveries,
            messages.c.subject.label("message_subject"),
            messages.c.name.label("message_name"),
        )
        .select_from(_with_message(deliveries))
        .where(deliveries.c.account_id == account_id, deliveries.c.id.in_(ids))
    ).all()
    found = [_delivery(row) for row in rows]
    totals = _totals(conn, account_id, found)
    lists = _first_lists(conn, account_id, found)
    return {
        delivery.id: DeliveryReport(
            delivery=delivery,
            subject=delivery.overrides.get("subject") or row.message_subject or "",
            message_name=row.message_name or "",
            mailing_list=lists.get(delivery.list_ids[0]) if delivery.list_ids else None,
            totals=totals.get(delivery.id, DeliveryTotals()),
        )
        for row, delivery in zip(rows, found, strict=True)
    }


def _delivery(row: Row) -> Delivery:
    values = {name: getattr(row, name) for name in _DELIVERY_FIELDS}
    values["kind"] = DeliveryKind(values["kind"])
    values["state"] = DeliveryState(values["state"])
    return Delivery(**values)


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _contacts_if(condition: ColumnElement) -> ColumnElement:
    return func.count(distinct(case((condition, events.c.contact_id))))


def _tried() -> ColumnElement:
    """A ledger row a receiving server answered: accepted once, or refused after trying."""
    return or_(ledger.c.attempts > 0, ledger.c.sent_at.is_not(None))


def _totals(
    conn: Connection, account_id: int, found: Sequence[Delivery]
) -> dict[int, DeliveryTotals]:
    ids = [delivery.id for delivery in found]
    if not ids:
        return {}
    values: dict[int, dict[str, int]] = {delivery_id: {} for delivery_id in ids}
    failed = ledger.c.state == State.FAILED.value
    ledger_rows = conn.execute(
        select(
            ledger.c.delivery_id,
            func.count().label("members"),
            _count_if(ledger.c.state == State.SENT.value).label("delivered"),
            _count_if(and_(failed, _tried())).label("failed"),
            _count_if(and_(failed, not_(_tried()))).label("excluded"),
            _count_if(ledger.c.state == State.UNKNOWN.value).label("in_doubt"),
            _count_if(ledger.c.state.in_(_WAITING)).label("waiting"),
        )
        .where(ledger.c.account_id == account_id, ledger.c.delivery_id.in_(ids))
        .group_by(ledger.c.delivery_id)
    )
    for row in ledger_rows:
        values[row.delivery_id].update(row._asdict())
    kind = events.c.type
    was_delivered = ledger.c.state == State.SENT.value
    event_rows = conn.execute(
        select(
            events.c.delivery_id,
            _count_if(kind == OPEN).label("opens"),
            _contacts_if(kind == OPEN).label("openers"),
            _contacts_if(and_(kind == OPEN, was_delivered)).label("delivered_openers"),
            _count_if(kind == CLICK).label("clicks"),
            _contacts_if(kind == CLICK).label("clickers"),
            _contacts_if(kind == BOUNCE).label("bounced"),
            _contacts_if(and_(kind == BOUNCE, was_delivered)).label("delivered_bounced"),
            _contacts_if(kind == UNSUBSCRIBE).label("unsubscribed_by_link"),
        )
        .select_from(
            events.outerjoin(
                ledger,
                and_(
                    ledger.c.delivery_id == events.c.delivery_id,
                    ledger.c.contact_id == events.c.contact_id,
                ),
            )
        )
        .where(
            events.c.account_id == account_id,
            events.c.delivery_id.in_(ids),
            kind.in_([OPEN, CLICK, BOUNCE, UNSUBSCRIBE]),
        )
        .group_by(events.c.delivery_id)
    )
    for row in event_rows:
        values[row.delivery_id].update(row._asdict())
    unsubscribed = _unsubscribers(account_id, found)
    counted = select(unsubscribed.c.delivery_id, func.count().label("unsubscribed")).group_by(
        unsubscribed.c.delivery_id
    )
    for row in conn.execute(counted):
        values[row.delivery_id]["unsubscribed"] = row.unsubscribed
    for counts in values.values():
        counts.pop("delivery_id", None)
    return {delivery_id: DeliveryTotals(**counts) for delivery_id, counts in values.items()}


def _unsubscribers(account_id: int, found: Sequence[Delivery]):
    """(delivery, contact) once for each recipient who, since the delivery was made, used its
    unsubscribe link or left one of its lists by their own action."""
    by_link = select(events.c.delivery_id, events.c.contact_id).where(
        events.c.account_id == account_id,
        events.c.delivery_id.in_([delivery.id for delivery in found]),
        events.c.type == UNSUBSCRIBE,
    )
    pairs = [(delivery.id, list_id) for delivery in found for list_id in delivery.list_ids]
    if not pairs:
        return by_link.distinct().subquery()
    left_lists = (
        select(ledger.c.delivery_id, ledger.c.contact_id)
        .select_from(
            events.join(
                ledger,
                and_(ledger.c.contact_id == events.c.contact_id, ledger.c.account_id == account_id),
            ).join(deliveries, deliveries.c.id == ledger.c.delivery_id)
        )
        .where(
            events.c.account_id == account_id,
            events.c.type == LIST_QUIT,
            events.c.data["admin"].as_boolean() == false(),
            events.c.at >= deliveries.c.created_at,
            tuple_(ledger.c.delivery_id, events.c.list_id).in_(pairs),
        )
    )
    return union(by_link, left_lists).subquery()


def _first_lists(
    conn: Connection, account_id: int, found: Sequence[Delivery]
) -> dict[int, ReportList]:
    list_ids = {delivery.list_ids[0] for delivery in found if delivery.list_ids}
    if not list_ids:
        return {}
    rows = conn.execute(
        select(
            mailing_lists.c.id,
            mailing_lists.c.name,
            mailing_lists.c.deleted_at,
            mailing_lists.c.is_hidden,
        ).where(mailing_lists.c.account_id == account_id, mailing_lists.c.id.in_(list_ids))
    )
    return {
        row.id: ReportList(row.id, row.name, row.deleted_at is not None, row.is_hidden)
        for row in rows
    }


# Links


def links_of(conn: Connection, account_id: int, delivery_id: int) -> list[TrackedLink]:
    rows = conn.execute(
        select(delivery_links)
        .where(
            delivery_links.c.account_id == account_id,
            delivery_links.c.delivery_id == delivery_id,
        )
        .order_by(delivery_links.c.position)
    )
    return [_link(row) for row in rows]


def find_link(conn: Connection, account_id: int, link_id: int) -> TrackedLink | None:
    row = conn.execute(
        select(delivery_links).where(
            delivery_links.c.account_id == account_id, delivery_links.c.id == link_id
        )
    ).first()
    return None if row is None else _link(row)


def _link(row: Row) -> TrackedLink:
    return TrackedLink(row.id, row.delivery_id, row.position, row.url)


def _is_click_on(link: TrackedLink) -> ColumnElement:
    return and_(
        events.c.delivery_id == link.delivery_id,
        events.c.type == CLICK,
        events.c.data["link"].as_integer() == link.position,
    )


def link_clicks(conn: Connection, account_id: int, link: TrackedLink) -> list[LinkClick]:
    """Every click of the link, oldest first."""
    rows = conn.execute(
        select(
            events.c.contact_id,
            contacts.c.email,
            events.c.at,
            events.c.data["user_agent"].as_string().label("user_agent"),
        )
        .select_from(events.outerjoin(contacts, _contact_of_event(account_id)))
        .where(events.c.account_id == account_id, _is_click_on(link))
        .order_by(events.c.at, events.c.id)
    )
    return [LinkClick(link.id, row.contact_id, row.email, row.at, row.user_agent) for row in rows]


def link_summary(conn: Connection, account_id: int, link: TrackedLink) -> LinkSummary:
    row = conn.execute(
        select(func.count(), func.count(distinct(events.c.contact_id))).where(
            events.c.account_id == account_id, _is_click_on(link)
        )
    ).one()
    return LinkSummary(link, row[0], row[1])


def _contact_of_event(account_id: int) -> ColumnElement:
    return and_(contacts.c.id == events.c.contact_id, contacts.c.account_id == account_id)


# Groups of recipients


def group_members(
    conn: Connection,
    account_id: int,
    delivery: Delivery,
    group: RecipientGroup,
    *,
    positions: Sequence[int] = (),
    links_by_position: Mapping[int, TrackedLink] | None = None,
) -> list[GroupMember]:
    """The delivery's recipients in the group, by contact id: one row each, or for clickers
    with links_by_position, one per recipient and link clicked. Clickers count only clicks
    on the links at the given positions, when some are given. Erased (forgotten) contacts
    name no one and are left out."""
    per_link = links_by_position is not None and group is RecipientGroup.CLICKED
    hits = _group_hits(account_id, delivery, group, positions, per_link)
    query = (
        select(
            contacts.c.id,
            contacts.c.email,
            contacts.c.sms,
            contacts.c.properties,
            ledger.c.properties.label("given"),
            ledger.c.state,
            ledger.c.reply,
            hits.c.first_at,
            hits.c.times,
            hits.c.bounce_kind,
            hits.c.position,
        )
        .select_from(
            hits.join(
                ledger,
                and_(ledger.c.delivery_id == delivery.id, ledger.c.contact_id == hits.c.contact_id),
            ).join(
                contacts,
                and_(contacts.c.id == hits.c.contact_id, contacts.c.account_id == account_id),
            )
        )
        .where(contacts.c.forgotten_at.is_(None))
        .order_by(contacts.c.id, hits.c.position)
    )
    return [
        GroupMember(
            contact_id=row.id,
            email=row.email,
            sms=row.sms,
            properties={**(row.properties or {}), **(row.given or {})},
            state=row.state,
            reply=row.reply,
            first_at=row.first_at,
            times=row.times,
            bounce_kind=row.bounce_kind,
            link=links_by_position.get(row.position) if per_link else None,
        )
        for row in conn.execute(query)
    ]


def _group_hits(
    account_id: int,
    delivery: Delivery,
    group: RecipientGroup,
    positions: Sequence[int],
    per_link: bool,
):
    """(contact_id, first_at, times, bounce_kind, position) of the group's members."""
    if group is RecipientGroup.OPENED:
        return _event_hits(account_id, delivery.id, OPEN)
    if group is RecipientGroup.CLICKED:
        return _event_hits(account_id, delivery.id, CLICK, positions=positions, per_link=per_link)
    if group is RecipientGroup.BOUNCED:
        return _event_hits(account_id, delivery.id, BOUNCE)
    if group is RecipientGroup.UNSUBSCRIBED_BY_LINK:
        return _event_hits(account_id, delivery.id, UNSUBSCRIBE)
    if group is RecipientGroup.UNSUBSCRIBED:
        return _unsubscribe_hits(account_id, delivery)
    return _ledger_hits(account_id, delivery.id, group)


def _event_hits(
    account_id: int,
    delivery_id: int,
    kind: str,
    *,
    positions: Sequence[int] = (),
    per_link: bool = False,
):
    position = events.c.data["link"].as_integer()
    query = select(
        events.c.contact_id,
        func.min(events.c.at).label("first_at"),
        func.count().label("times"),
        (func.min(events.c.data["kind"].as_string()) if kind == BOUNCE else null()).label(
            "bounce_kind"
        ),
        (position if per_link else null()).label("position"),
    ).where(
        events.c.account_id == account_id,
        events.c.delivery_id == delivery_id,
        events.c.type == kind,
        events.c.contact_id.is_not(None),
    )
    if positions:
        query = query.where(position.in_(list(positions)))
    grouping = [events.c.contact_id, position] if per_link else [events.c.contact_id]
    return query.group_by(*grouping).subquery("hits")


def _unsubscribe_hits(account_id: int, delivery: Delivery):
    moments = [
        select(events.c.contact_id, events.c.at).where(
            events.c.account_id == account_id,
            events.c.delivery_id == delivery.id,
            events.c.type == UNSUBSCRIBE,
        )
    ]
    if delivery.list_ids:
        moments.append(
            select(events.c.contact_id, events.c.at).where(
                events.c.account_id == account_id,
                events.c.type == LIST_QUIT,
                events.c.data["admin"].as_boolean() == false(),
                events.c.at >= delivery.created_at,
                events.c.list_id.in_(list(delivery.list_ids)),
                events.c.contact_id.in_(_ledger_contacts(delivery.id)),
            )
        )
    both = union_all(*moments).subquery("moments")
    return (
        select(
            both.c.contact_id,
            func.min(both.c.at).label("first_at"),
            func.count().label("times"),
            null().label("bounce_kind"),
            null().label("position"),
        )
        .group_by(both.c.contact_id)
        .subquery("hits")
    )


def _ledger_contacts(delivery_id: int) -> Select:
    return select(ledger.c.contact_id).where(ledger.c.delivery_id == delivery_id)


def _contacts_with(account_id: int, delivery_id: int, kind: str) -> Select:
    return select(events.c.contact_id).where(
        events.c.account_id == account_id,
        events.c.delivery_id == delivery_id,
        events.c.type == kind,
        events.c.contact_id.is_not(None),
    )


def _ledger_hits(account_id: int, delivery_id: int, group: RecipientGroup):
    state = ledger.c.state
    failed = state == State.FAILED.value
    conditions = {
        RecipientGroup.DELIVERED: state == State.SENT.value,
        RecipientGroup.UNDELIVERED: state != State.SENT.value,
        RecipientGroup.FAILED: and_(failed, _tried()),
        RecipientGroup.EXCLUDED: and_(failed, not_(_tried())),
        RecipientGroup.NOT_OPENED: and_(
            state == State.SENT.value,
            ledger.c.contact_id.not_in(_contacts_with(account_id, delivery_id, OPEN)),
        ),
        RecipientGroup.SUCCEEDED: and_(
            state == State.SENT.value,
            ledger.c.contact_id.not_in(_contacts_with(account_id, delivery_id, BOUNCE)),
        ),
    }
    return (
        select(
            ledger.c.contact_id,
            ledger.c.sent_at.label("first_at"),
            literal(1).label("times"),
            null().label("bounce_kind"),
            null().label("position"),
        )
        .where(
            ledger.c.account_id == account_id,
            ledger.c.delivery_id == delivery_id,
            conditions[group],
        )
        .subquery("hits")
    )


def opener_summaries(
    conn: Connection, account_id: int, delivery_id: int, *, opened: bool
) -> list[OpenerSummary]:
    """The delivery's openers with their opens, or its delivered recipients who never
    opened, by contact id; erased contacts left out."""
    if opened:
        hits = (
            select(
                events.c.contact_id,
                func.count().label("opens"),
                func.min(events.c.at).label("first_open"),
                func.max(events.c.at).label("last_open"),
            )
            .where(
                events.c.account_id == account_id,
                events.c.delivery_id == delivery_id,
                events.c.type == OPEN,
                events.c.contact_id.is_not(None),
            )
            .group_by(events.c.contact_id)
            .subquery("hits")
        )
    else:
        hits = (
            select(
                ledger.c.contact_id,
                literal(0).label("opens"),
                null().label("first_open"),
                null().label("last_open"),
            )
            .where(
                ledger.c.account_id == account_id,
                ledger.c.delivery_id == delivery_id,
                ledger.c.state == State.SENT.value,
                ledger.c.contact_id.not_in(_contacts_with(account_id, delivery_id, OPEN)),
            )
            .subquery("hits")
        )
    rows = conn.execute(
        select(contacts.c.id, contacts.c.email, hits.c.opens, hits.c.first_open, hits.c.last_open)
        .select_from(
            hits.join(
                contacts,
                and_(contacts.c.id == hits.c.contact_id, contacts.c.account_id == account_id),
            )
        )
        .where(contacts.c.forgotten_at.is_(None))
        .order_by(contacts.c.id)
    )
    return [OpenerSummary(*row) for row in rows]


# The account


def account_statistics(conn: Connection, account_id: int) -> AccountStatistics:
    contact_count = conn.execute(
        select(func.count()).where(
            contacts.c.account_id == account_id,
            contacts.c.deleted_at.is_(None),
            contacts.c.forgotten_at.is_(None),
        )
    ).scalar_one()
    list_count = conn.execute(
        select(func.count()).where(
            mailing_lists.c.account_id == account_id, mailing_lists.c.deleted_at.is_(None)
        )
    ).scalar_one()
    delivery_count = conn.execute(
        select(func.count()).where(deliveries.c.account_id == account_id)
    ).scalar_one()
    kinds = [SENT, OPEN, CLICK, BOUNCE, UNSUBSCRIBE]
    by_kind = dict(
        conn.execute(
            select(events.c.type, func.count())
            .where(events.c.account_id == account_id, events.c.type.in_(kinds))
            .group_by(events.c.type)
        ).all()
    )
    return AccountStatistics(
        contacts=contact_count,
        lists=list_count,
        deliveries=delivery_count,
        sent=by_kind.get(SENT, 0),
        opens=by_kind.get(OPEN, 0),
        clicks=by_kind.get(CLICK, 0),
        bounces=by_kind.get(BOUNCE, 0),
        unsubscribes=by_kind.get(UNSUBSCRIBE, 0),
    )


# The account's mail over time


def sent_count(conn: Connection, account_id: int, search: SentMailSearch) -> int:
    """Messages of the account's deliveries that a receiving server accepted (the ledger's
    sent_at, kept when a hard bounce later fails the row), found through the deliveries
    (index account_id) and their ledgers (index delivery_id, state)."""
    query = (
        select(func.count())
        .select_from(ledger.join(deliveries, deliveries.c.id == ledger.c.delivery_id))
        .where(
            deliveries.c.account_id == account_id,
            ledger.c.account_id == account_id,
            ledger.c.sent_at.is_not(None),
        )
    )
    if search.since is not None:
        query = query.where(ledger.c.sent_at >= search.since)
    if search.until is not None:
        query = query.where(ledger.c.sent_at < search.until)
    if search.delivery_id is not None:
        query = query.where(deliveries.c.id == search.delivery_id)
    if search.list_id is not None:
        query = query.where(_array_holds_id(conn, deliveries.c.list_ids, search.list_id))
    return conn.execute(query).scalar_one()


def _array_holds_id(conn: Connection, document, value: int) -> ColumnElement:
    """Whether a JSON array of numbers holds the number (the backends' elements differ in
    type: text on PostgreSQL, the number itself on SQLite)."""
    if conn.dialect.name == "postgresql":
        return _array_holds(conn, document, str(value))
    elements = func.json_each(document).table_valued("value")
    return select(1).select_from(elements).where(elements.c.value == value).exists()


def _clicks_since(account_id: int, since: datetime) -> Select:
    """The clicks since the moment by contacts not erased, through the index (account_id,
    type, at); an erased contact's events have lost their link and name no one."""
    return (
        select(events.c.id)
        .select_from(events.join(contacts, _contact_of_event(account_id)))
        .where(
            events.c.account_id == account_id,
            events.c.type == CLICK,
            events.c.at >= since,
            events.c.delivery_id.is_not(None),
            contacts.c.forgotten_at.is_(None),
        )
    )


def clicks_since(
    conn: Connection, account_id: int, since: datetime, *, offset: int, limit: int
) -> ClickPage:
    """One page of the clicks since the moment, oldest first (ties by event id)."""
    counted = _clicks_since(account_id, since).with_only_columns(func.count())
    total = conn.execute(counted).scalar_one()
    position = events.c.data["link"].as_integer()
    link = and_(
        delivery_links.c.delivery_id == events.c.delivery_id,
        delivery_links.c.position == position,
        delivery_links.c.account_id == account_id,
    )
    query = (
        _clicks_since(account_id, since)
        .with_only_columns(
            events.c.contact_id,
            contacts.c.email,
            events.c.delivery_id,
            delivery_links.c.id.label("link_id"),
            func.coalesce(delivery_links.c.url, events.c.data["url"].as_string()).label("url"),
            events.c.at,
            events.c.data["user_agent"].as_string().label("user_agent"),
        )
        .outerjoin(delivery_links, link)
        .order_by(events.c.at, events.c.id)
        .offset(offset)
        .limit(limit)
    )
    return ClickPage(total, offset, [Click(*row) for row in conn.execute(query)])


def received_mails(
    conn: Connection, account_id: int, contact_id: int, *, limit: int | None
) -> list[ReceivedMail]:
    """The messages the contact's server accepted, newest first (ties by delivery id), with
    what the contact did with each: one statement, the ledger read by its index (contact_id)
    and the contact's mail events by theirs (contact_id, at), grouped by delivery."""
    kind = events.c.type
    done = (
        select(
            events.c.delivery_id,
            func.min(case((kind == OPEN, events.c.at))).label("first_open"),
            _count_if(kind == OPEN).label("opens"),
            _count_if(kind == CLICK).label("clicks"),
            _count_if(kind == BOUNCE).label("bounces"),
        )
        .where(
            events.c.contact_id == contact_id,
            events.c.account_id == account_id,
            kind.in_([OPEN, CLICK, BOUNCE]),
            events.c.delivery_id.is_not(None),
        )
        .group_by(events.c.delivery_id)
        .subquery("done")
    )
    query = (
        select(
            ledger.c.delivery_id,
            deliveries.c.message_id,
            func.coalesce(
                deliveries.c.overrides["subject"].as_string(), messages.c.subject, ""
            ).label("subject"),
            ledger.c.sent_at,
            done.c.first_open,
            func.coalesce(done.c.opens, 0).label("opens"),
            func.coalesce(done.c.clicks, 0).label("clicks"),
            (func.coalesce(done.c.bounces, 0) > 0).label("is_bounced"),
        )
        .select_from(
            _with_message(
                ledger.join(
                    deliveries,
                    and_(
                        deliveries.c.id == ledger.c.delivery_id,
                        deliveries.c.account_id == account_id,
                    ),
                )
            ).outerjoin(done, done.c.delivery_id == ledger.c.delivery_id)
        )
        .where(
            ledger.c.contact_id == contact_id,
            ledger.c.account_id == account_id,
            ledger.c.sent_at.is_not(None),
        )
        .order_by(ledger.c.sent_at.desc(), ledger.c.delivery_id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [ReceivedMail(*row) for row in conn.execute(query)]
