"""Delivery reports: events name their delivery, deliveries can be hidden, related and
archived, and each delivery's tracked links have ids.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kirje.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Moment = kirje.store.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    # On PostgreSQL, events is partitioned: the column and the index reach every partition.
    op.add_column("events", sa.Column("delivery_id", Id, nullable=True))
    op.create_index(op.f("ix_events_delivery_id_type"), "events", ["delivery_id", "type"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column("hidden", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch.add_column(sa.Column("related_to", Id, nullable=True))
        batch.add_column(sa.Column("archives", Json, nullable=True))
    op.create_index(op.f("ix_deliveries_related_to"), "deliveries", ["related_to"])
    op.create_table(
        "delivery_links",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("message_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_delivery_links_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_links")),
        sa.UniqueConstraint(
            "delivery_id", "position", name=op.f("uq_delivery_links_delivery_id_position")
        ),
    )
    op.create_index(
        op.f("ix_delivery_links_account_id_message_id"),
        "delivery_links",
        ["account_id", "message_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_links_account_id_message_id"), "delivery_links")
    op.drop_table("delivery_links")
    op.drop_index(op.f("ix_deliveries_related_to"), "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("archives")
        batch.drop_column("related_to")
        batch.drop_column("hidden")
    op.drop_index(op.f("ix_events_delivery_id_type"), "events")
    op.drop_column("events", "delivery_id")
