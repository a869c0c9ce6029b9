"""Sending: messages (drafts), deliveries, the per-recipient ledger, DKIM keys.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kirje.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Moment = kirje.store.types.UtcDateTime(timezone=True)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["accounts.id"], name=op.f(f"fk_{table}_account_id_accounts")
    )


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("name", sa.String(200), server_default="", nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_name", sa.String(200), server_default="", nullable=False),
        sa.Column("from_email", sa.String(320), nullable=True),
        sa.Column("reply_to", sa.String(320), nullable=True),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("preheader", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        _account_fk("messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_account_id"), "messages", ["account_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("message_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("overrides", Json, nullable=False),
        sa.Column("list_ids", Json, nullable=False),
        sa.Column(
            "recipients_reset", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("resends_unknown", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("scheduled_at", Moment, nullable=True),
        sa.Column("started_at", Moment, nullable=True),
        sa.Column("finished_at", Moment, nullable=True),
        sa.Column("job_id", Id, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        _account_fk("deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_account_id_state"), "deliveries", ["account_id", "state"])
    op.create_index(
        op.f("ix_deliveries_state_scheduled_at"), "deliveries", ["state", "scheduled_at"]
    )
    op.create_table(
        "delivery_recipients",
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("properties", Json, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", Moment, nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", Moment, nullable=True),
        sa.Column("sent_at", Moment, nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("delivery_id", "contact_id", name=op.f("pk_delivery_recipients")),
    )
    op.create_index(
        op.f("ix_delivery_recipients_delivery_id_state"),
        "delivery_recipients",
        ["delivery_id", "state"],
    )
    op.create_index(
        op.f("ix_delivery_recipients_contact_id"), "delivery_recipients", ["contact_id"]
    )
    op.create_table(
        "dkim_keys",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("selector", sa.String(63), nullable=False),
        sa.Column("private_key_ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        _account_fk("dkim_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dkim_keys")),
        sa.UniqueConstraint("account_id", "domain", name=op.f("uq_dkim_keys_account_id_domain")),
    )


def downgrade() -> None:
    op.drop_table("dkim_keys")
    op.drop_index(op.f("ix_delivery_recipients_contact_id"), "delivery_recipients")
    op.drop_index(op.f("ix_delivery_recipients_delivery_id_state"), "delivery_recipients")
    op.drop_table("delivery_recipients")
    op.drop_index(op.f("ix_deliveries_state_scheduled_at"), "deliveries")
    op.drop_index(op.f("ix_deliveries_account_id_state"), "deliveries")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_messages_account_id"), "messages")
    op.drop_table("messages")
