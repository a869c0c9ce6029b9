"""Account-defined contact properties."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from kirje.domain.properties import Property, PropertyDatatype, PropertyType
from kirje.store.schema import properties


def insert_property(conn: Connection, *, account_id: int, now: datetime, **values) -> int:
    return conn.execute(
        insert(properties)
        .values(account_id=account_id, created_at=now, **values)
        .returning(properties.c.id)
    ).scalar_one()


def all_properties(conn: Connection, account_id: int) -> list[Property]:
    rows = conn.execute(
        select(properties)
        .where(properties.c.account_id == account_id)
        .order_by(properties.c.position, properties.c.id)
    )
    return [
        Property(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            visible_name=r.visible_name,
            language=r.language,
            type=PropertyType(r.type),
            datatype=PropertyDatatype(r.datatype),
            choices=list(r.choices or []),
            is_required=r.is_required,
            is_on_subscription_page=r.is_on_subscription_page,
            position=r.position,
        )
        for r in rows
    ]


def next_position(conn: Connection, account_id: int) -> int:
    highest = conn.execute(
        select(func.max(properties.c.position)).where(properties.c.account_id == account_id)
    ).scalar()
    return (highest or 0) + 1
