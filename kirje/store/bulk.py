"""Bulk loads at the speed of each database's own bulk path: COPY on PostgreSQL,
one executemany inside one transaction on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Connection, text

from kirje.store import contacts as contact_store

COPY_CONTACTS = (
    "COPY contacts (account_id, email, sms, properties, is_enabled, created_at, updated_at) "
    "FROM STDIN"
)
SQLITE_BATCH = 10_000


def load_contacts(
    conn: Connection,
    account_id: int,
    rows: Iterable[tuple[str | None, str | None, dict[str, str]]],
    now: datetime,
) -> int:
    """New contacts from (email, sms, properties) rows, already normalised; returns the count."""
    if conn.dialect.name == "postgresql":
        return _copy(conn, account_id, rows, now)
    count, batch = 0, []
    for email, sms, properties in rows:
        batch.append({"email": email, "sms": sms, "properties": properties})
        if len(batch) == SQLITE_BATCH:
            contact_store.insert_contacts_bulk(conn, account_id, batch, now)
            count, batch = count + len(batch), []
    contact_store.insert_contacts_bulk(conn, account_id, batch, now)
    return count + len(batch)


def _copy(conn: Connection, account_id: int, rows, now: datetime) -> int:
    count = 0
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(COPY_CONTACTS) as copy:
        for email, sms, properties in rows:
            copy.write_row(
                (account_id, email, sms, orjson.dumps(properties).decode(), True, now, now)
            )
            count += 1
    return count


def next_ids(conn: Connection, table: str, count: int) -> list[int]:
    """`count` ids drawn from the table's id sequence (PostgreSQL): rows that are then written
    by COPY know their ids without an INSERT ... RETURNING."""
    statement = text(f"SELECT nextval('{_SEQUENCES[table]}') FROM generate_series(1, :count)")
    return list(conn.execute(statement, {"count": count}).scalars())


def copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Writes rows by COPY (PostgreSQL). JSON values must be given as text."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {_TABLES[table]} ({', '.join(_checked(columns))}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def copy_text(conn: Connection, table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """Writes rows already rendered in COPY's text format (see copy_field) by COPY: for hot
    paths, where handing psycopg a tuple per row cost more than the row's own write."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {_TABLES[table]} ({', '.join(_checked(columns))}) FROM STDIN") as copy:
        copy.write("".join(lines))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value: str | int | None) -> str:
    """One value in COPY's text format: NULL as \\N, and the characters COPY reads specially
    escaped, so no value can end a field or a row early."""
    if value is None:
        return "\\N"
    if isinstance(value, int):
        return str(value)
    return value.translate(_COPY_ESCAPES)


# Our own names only: the statements above are built from these, never from input.
_SEQUENCES = {"events": "events_id_seq", "contacts": "contacts_id_seq"}
_TABLES = {name: name for name in ("events", "contacts", "contact_identities")}


def _checked(columns: Sequence[str]) -> Sequence[str]:
    for column in columns:
        if not column.isidentifier():
            raise ValueError(f"not a column name: {column!r}")
    return columns
