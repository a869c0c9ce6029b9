"""Brings a database up to the newest schema with Alembic (same migrations for both backends)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from kirje.store.event_partitions import is_event_partition

MIGRATIONS = Path(__file__).parent / "migrations"
# The job queue's own tables (Huey's PostgreSQL storage keeps them in our database).
QUEUE_TABLE_PREFIX = "huey_"


def is_ours(name: str | None, type_: str, parent_names: dict) -> bool:
    """Whether Alembic should compare this object: everything but the job queue's tables and
    the event store's partitions (which the store makes as months come)."""
    if type_ != "table" or name is None:
        return True
    return not (name.startswith(QUEUE_TABLE_PREFIX) or is_event_partition(name))


def alembic_config(engine: Engine, connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(engine, connection), "head")
