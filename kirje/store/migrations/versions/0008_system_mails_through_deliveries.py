"""System mails go through deliveries: a queued welcome or confirmation mail names the
delivery that sends it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("queued_mails") as batch:
        batch.add_column(sa.Column("delivery_id", Id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queued_mails") as batch:
        batch.drop_column("delivery_id")
