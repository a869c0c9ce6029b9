"""The ledger's claim index carries the order claims take: a claim of the next rows reads them
off the index instead of sorting every pending row of the delivery.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_delivery_recipients_delivery_id_state"), "delivery_recipients")
    op.create_index(
        op.f("ix_delivery_recipients_delivery_id_state_contact_id"),
        "delivery_recipients",
        ["delivery_id", "state", "contact_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_delivery_recipients_delivery_id_state_contact_id"), "delivery_recipients"
    )
    op.create_index(
        op.f("ix_delivery_recipients_delivery_id_state"),
        "delivery_recipients",
        ["delivery_id", "state"],
    )
