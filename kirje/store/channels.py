"""Channels and their verb counters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from kirje.domain.channels import Channel
from kirje.store.schema import channel_verbs, channels, events


def _channel(row: Row, verbs: dict[str, bool], count: int) -> Channel:
    return Channel(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        color=row.color,
        icon=row.icon,
        tracking_enabled=row.tracking_enabled,
        notes=row.notes,
        system_name=row.system_name,
        type=row.type,
        tracking_js=row.tracking_js,
        import_js=row.import_js,
        default_url=row.default_url,
        public_key=row.public_key,
        verbs=verbs,
        events=count,
    )


def _with_verbs(conn: Connection, account_id: int, rows: list[Row]) -> list[Channel]:
    verbs: dict[int, dict[str, bool]] = {}
    counts: dict[int, int] = {}
    if rows:
        found = conn.execute(
            select(channel_verbs)
            .where(
                channel_verbs.c.account_id == account_id,
                channel_verbs.c.channel_id.in_([row.id for row in rows]),
            )
            .order_by(channel_verbs.c.verb)
        )
        for verb in found:
            verbs.setdefault(verb.channel_id, {})[verb.verb] = verb.is_enabled
            counts[verb.channel_id] = counts.get(verb.channel_id, 0) + verb.events
    return [_channel(row, verbs.get(row.id, {}), counts.get(row.id, 0)) for row in rows]


def list_channels(conn: Connection, account_id: int) -> list[Channel]:
    rows = conn.execute(
        select(channels).where(channels.c.account_id == account_id).order_by(channels.c.id)
    ).all()
    return _with_verbs(conn, account_id, rows)


def find_channel(conn: Connection, account_id: int, channel_id: int) -> Channel | None:
    rows = conn.execute(
        select(channels).where(channels.c.account_id == account_id, channels.c.id == channel_id)
    ).all()
    return next(iter(_with_verbs(conn, account_id, rows)), None)


def id_named(conn: Connection, account_id: int, reference: str) -> int | None:
    """The id of the account's channel with this id or, failing that, this system name (the
    lowest id when several share it)."""
    if not reference:
        return None
    of_account = channels.c.account_id == account_id
    by_name = channels.c.system_name == reference
    matches = by_name if not reference.isdigit() else or_(channels.c.id == int(reference), by_name)
    rows = conn.execute(
        select(channels.c.id, channels.c.system_name)
        .where(of_account, matches)
        .order_by(channels.c.id)
    ).all()
    by_id = [row.id for row in rows if str(row.id) == reference]
    return (by_id or [row.id for row in rows] or [None])[0]


def find_by_public_key(conn: Connection, public_key: str) -> Channel | None:
    """The channel of a tracking URL, whatever its account (the key is the secret)."""
    row = conn.execute(select(channels).where(channels.c.public_key == public_key)).first()
    return None if row is None else _with_verbs(conn, row.account_id, [row])[0]


def insert_channel(conn: Connection, *, account_id: int, now: datetime, **values) -> int:
    return conn.execute(
        insert(channels)
        .values(account_id=account_id, created_at=now, updated_at=now, **values)
        .returning(channels.c.id)
    ).scalar_one()


def update_channel(
    conn: Connection, account_id: int, channel_id: int, now: datetime, **values
) -> None:
    conn.execute(
        update(channels)
        .where(channels.c.account_id == account_id, channels.c.id == channel_id)
        .values(updated_at=now, **values)
    )


def delete_channel(conn: Connection, account_id: int, channel_id: int) -> None:
    conn.execute(
        delete(channel_verbs).where(
            channel_verbs.c.account_id == account_id, channel_verbs.c.channel_id == channel_id
        )
    )
    conn.execute(
        delete(channels).where(channels.c.account_id == account_id, channels.c.id == channel_id)
    )


def has_events(conn: Connection, account_id: int, channel_id: int) -> bool:
    """Whether any event came in through the channel (the counters can lag a delete job)."""
    query = select(events.c.id).where(
        events.c.account_id == account_id, events.c.channel_id == channel_id
    )
    return conn.execute(query.limit(1)).first() is not None


def count_verbs(
    conn: Connection, account_id: int, channel_id: int, counts: Mapping[str, int]
) -> None:
    """Adds to the channel's per-verb event counters (a verb seen first is enabled)."""
    if not counts:
        return
    build = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    rows = [
        dict(channel_id=channel_id, verb=verb, account_id=account_id, events=count)
        for verb, count in sorted(counts.items())
    ]
    statement = build(channel_verbs)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[channel_verbs.c.channel_id, channel_verbs.c.verb],
            set_={"events": channel_verbs.c.events + statement.excluded.events},
        ),
        rows,
    )


def uncount_verbs(
    conn: Connection, account_id: int, channel_id: int, counts: Mapping[str, int]
) -> None:
    """Takes deleted events off the channel's counters."""
    for verb, count in counts.items():
        conn.execute(
            update(channel_verbs)
            .where(
                channel_verbs.c.account_id == account_id,
                channel_verbs.c.channel_id == channel_id,
                channel_verbs.c.verb == verb,
            )
            .values(events=channel_verbs.c.events - count)
        )
