"""Account-defined contact properties."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from kirje.domain.properties import Property, PropertyDatatype, PropertyType
from kirje.store.schema import contacts, properties


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


def _path(name: str) -> str:
    # SQLite JSON path of one key; names cannot hold a double quote (check_property_name).
    return f'$."{name}"'


def rename_property(conn: Connection, account_id: int, old: str, new: str) -> None:
    """Renames the definition and moves the value in every contact, in one statement each."""
    conn.execute(
        update(properties)
        .where(properties.c.account_id == account_id, properties.c.name == old)
        .values(name=new, visible_name=new)
    )
    values = contacts.c.properties
    if conn.dialect.name == "postgresql":
        moved = values.op("-")(bindparam("old", old)).op("||")(
            func.jsonb_build_object(bindparam("new", new), values.op("->")(bindparam("key", old)))
        )
        holds = values.op("?", is_comparison=True)(bindparam("has", old))
    else:
        old_path = bindparam("old_path", _path(old))
        moved = func.json_set(
            func.json_remove(values, old_path),
            bindparam("new_path", _path(new)),
            func.json_extract(values, bindparam("extract_path", _path(old))),
        )
        holds = func.json_type(values, bindparam("type_path", _path(old))).is_not(None)
    conn.execute(
        update(contacts).where(contacts.c.account_id == account_id, holds).values(properties=moved)
    )


def delete_property(conn: Connection, account_id: int, name: str) -> None:
    """Drops the definition and the value from every contact."""
    conn.execute(
        delete(properties).where(properties.c.account_id == account_id, properties.c.name == name)
    )
    values = contacts.c.properties
    if conn.dialect.name == "postgresql":
        emptied = values.op("-")(bindparam("name", name))
        holds = values.op("?", is_comparison=True)(bindparam("has", name))
    else:
        emptied = func.json_remove(values, bindparam("path", _path(name)))
        holds = func.json_type(values, bindparam("type_path", _path(name))).is_not(None)
    conn.execute(
        update(contacts)
        .where(contacts.c.account_id == account_id, holds)
        .values(properties=emptied)
    )
