"""The events' delivery index holds mail events only: list joins, imported events and page views
(most of the table) no longer each write an index entry that no query reads.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_MAIL_EVENTS = sa.text("delivery_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index(op.f("ix_events_delivery_id_type"), "events")
    op.create_index(
        op.f("ix_events_delivery_id_type"),
        "events",
        ["delivery_id", "type"],
        postgresql_where=_MAIL_EVENTS,
        sqlite_where=_MAIL_EVENTS,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_events_delivery_id_type"), "events")
    op.create_index(op.f("ix_events_delivery_id_type"), "events", ["delivery_id", "type"])
