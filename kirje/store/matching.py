"""`column IN (values)` written so that PostgreSQL can reuse its plan.

An IN list is rendered with one parameter per value, so every batch size is a new statement
that PostgreSQL parses and plans again. On the hot paths (an event import looks identities up
on every request) that planning cost more CPU than the lookups; `column = ANY(:array)` is one
statement text whatever the count, which psycopg prepares after a few runs. SQLite has no
arrays and plans cheaply: it keeps IN.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement


def one_of(conn: Connection, column, values: Collection) -> ColumnElement:
    if conn.dialect.name != "postgresql":
        return column.in_(list(values))
    array = bindparam(None, list(values), type_=ARRAY(column.type))
    return column == any_(array)
