"""Suppressions of forgotten addresses, external list ids, confirmation tasks and job rows.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import kirje.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_contacts_account_id_confirmation_code",
        "contacts",
        ["account_id", "confirmation_code"],
    )
    op.add_column(
        "mailing_lists",
        sa.Column("folder", sa.String(length=500), server_default="", nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("progress_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_jobs_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_jobs_account_id_kind_subject_id"),
            ["account_id", "kind", "subject_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_jobs_state_updated_at"), ["state", "updated_at"], unique=False
        )

    op.create_table(
        "suppressions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_suppressions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "account_id",
            "channel",
            "address_hash",
            name=op.f("uq_suppressions_account_id_channel_address_hash"),
        ),
    )
    op.create_table(
        "confirmation_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "task",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_confirmation_tasks_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_confirmation_tasks_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmation_tasks")),
    )
    with op.batch_alter_table("confirmation_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_confirmation_tasks_account_id_code"),
            ["account_id", "code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_confirmation_tasks_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "list_external_ids",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_list_external_ids_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_lists.id"],
            name=op.f("fk_list_external_ids_list_id_mailing_lists"),
        ),
        sa.PrimaryKeyConstraint("list_id", "type", name=op.f("pk_list_external_ids")),
        sa.UniqueConstraint(
            "account_id",
            "type",
            "external_id",
            name=op.f("uq_list_external_ids_account_id_type_external_id"),
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_account_id_confirmation_code", table_name="contacts")
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        batch_op.drop_column("folder")
    op.drop_table("list_external_ids")
    with op.batch_alter_table("confirmation_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_confirmation_tasks_contact_id"))
        batch_op.drop_index(batch_op.f("ix_confirmation_tasks_account_id_code"))

    op.drop_table("confirmation_tasks")
    op.drop_table("suppressions")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_state_updated_at"))
        batch_op.drop_index(batch_op.f("ix_jobs_account_id_kind_subject_id"))

    op.drop_table("jobs")
