"""The Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kirje.store.migrate import is_ours
from kirje.store.schema import metadata


def test_migrations_match_the_declared_schema(system) -> None:
    with system.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": is_ours})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_json_columns_are_jsonb_on_postgresql(system, backend) -> None:
    columns = {c["name"]: c for c in inspect(system.db.engine).get_columns("contacts")}
    kind = type(columns["properties"]["type"]).__name__
    assert kind == ("JSONB" if backend == "postgresql" else "JSON")


def test_migrating_again_changes_nothing(system) -> None:
    system.migrate()
    with system.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": is_ours})
        assert compare_metadata(context, metadata) == []
