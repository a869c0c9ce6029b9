"""LianaAutomation: channels and their verbs, contact identities, events with channel and job;
contacts remember a merge; on PostgreSQL the event store becomes partitioned by month.

Revision ID: 0005
Revises: 0004
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kirje.store.types
from kirje.store.event_partitions import ensure_event_partitions

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Moment = kirje.store.types.UtcDateTime(timezone=True)
EVENT_INDEXES = {
    "ix_events_account_id_at": ("account_id", "at"),
    "ix_events_account_id_type_at": ("account_id", "type", "at"),
    "ix_events_contact_id_at": ("contact_id", "at"),
}


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("merged_into", Id, nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.alter_column("type", type_=sa.String(64), existing_nullable=False)
        batch.add_column(sa.Column("channel_id", Id, nullable=True))
        batch.add_column(sa.Column("job_id", Id, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _partition_events_by_month()
    _create_channels()
    op.create_table(
        "contact_identities",
        sa.Column("account_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "kind", "value", name=op.f("pk_contact_identities")),
    )
    op.create_index(op.f("ix_contact_identities_contact_id"), "contact_identities", ["contact_id"])


def _create_channels() -> None:
    text_default = {"nullable": False, "server_default": ""}
    op.create_table(
        "channels",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("color", sa.String(length=32), **text_default),
        sa.Column("icon", sa.Text(), **text_default),
        sa.Column(
            "tracking_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("notes", sa.Text(), **text_default),
        sa.Column("system_name", sa.String(length=64), **text_default),
        sa.Column("type", sa.String(length=32), server_default="empty", nullable=False),
        sa.Column("tracking_js", sa.Text(), **text_default),
        sa.Column("import_js", sa.Text(), **text_default),
        sa.Column("default_url", sa.Text(), **text_default),
        sa.Column("public_key", sa.String(length=32), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_channels_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("public_key", name=op.f("uq_channels_public_key")),
    )
    op.create_index(
        op.f("ix_channels_account_id_system_name"), "channels", ["account_id", "system_name"]
    )
    op.create_table(
        "channel_verbs",
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("verb", sa.String(length=64), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("events", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "verb", name=op.f("pk_channel_verbs")),
    )


def _partition_events_by_month() -> None:
    """Moves the event store into a table partitioned by month of `at`, keeping its ids
    and its id sequence. A partitioned table's primary key must hold the partition key."""
    execute = op.get_bind().exec_driver_sql
    execute("ALTER TABLE events RENAME TO events_unpartitioned")
    execute(
        "ALTER TABLE events_unpartitioned RENAME CONSTRAINT pk_events TO pk_events_unpartitioned"
    )
    for name in EVENT_INDEXES:
        execute(f"ALTER INDEX {name} RENAME TO {name}_unpartitioned")
    execute("ALTER SEQUENCE events_id_seq OWNED BY NONE")
    execute(
        "CREATE TABLE events ("
        " id BIGINT NOT NULL DEFAULT nextval('events_id_seq'),"
        " account_id BIGINT NOT NULL, contact_id BIGINT, type VARCHAR(64) NOT NULL,"
        " at TIMESTAMP WITH TIME ZONE NOT NULL, list_id BIGINT, channel_id BIGINT,"
        " job_id BIGINT, data JSONB NOT NULL,"
        " CONSTRAINT pk_events PRIMARY KEY (id, at)"
        ") PARTITION BY RANGE (at)"
    )
    execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    oldest = op.get_bind().execute(sa.text("SELECT min(at) FROM events_unpartitioned")).scalar()
    now = datetime.now(UTC)
    ensure_event_partitions(op.get_bind(), now, since=min(oldest or now, now))
    execute(
        "INSERT INTO events (id, account_id, contact_id, type, at, list_id, channel_id, job_id,"
        " data) SELECT id, account_id, contact_id, type, at, list_id, channel_id, job_id, data"
        " FROM events_unpartitioned"
    )
    execute("DROP TABLE events_unpartitioned")
    for name, columns in EVENT_INDEXES.items():
        execute(f"CREATE INDEX {name} ON events ({', '.join(columns)})")


def downgrade() -> None:
    op.drop_table("channel_verbs")
    op.drop_index(op.f("ix_channels_account_id_system_name"), "channels")
    op.drop_table("channels")
    op.drop_index(op.f("ix_contact_identities_contact_id"), "contact_identities")
    op.drop_table("contact_identities")
    if op.get_bind().dialect.name == "postgresql":
        raise NotImplementedError("the partitioned event store is not turned back")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("job_id")
        batch.drop_column("channel_id")
        batch.alter_column("type", type_=sa.String(32), existing_nullable=False)
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("merged_into")
