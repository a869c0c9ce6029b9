"""Contacts, memberships and events lose their foreign keys; SMS and code indexes go partial.

Why: see `_high_volume_account_id` in kirje/store/schema.py. On SQLite, Alembic's batch mode
rebuilds each table (SQLite cannot drop a constraint in place).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DROPPED_FOREIGN_KEYS = {
    "contacts": ["fk_contacts_account_id_accounts"],
    "events": ["fk_events_account_id_accounts"],
    "list_members": [
        "fk_list_members_account_id_accounts",
        "fk_list_members_list_id_mailing_lists",
        "fk_list_members_contact_id_contacts",
    ],
}
SMS_INDEX = "ix_contacts_account_id_sms"
CODE_INDEX = "ix_contacts_account_id_confirmation_code"


def _where(condition: str) -> dict:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    for table, names in DROPPED_FOREIGN_KEYS.items():
        with op.batch_alter_table(table) as batch:
            for name in names:
                batch.drop_constraint(name, type_="foreignkey")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("uq_contacts_account_id_sms", type_="unique")
        batch.drop_index(CODE_INDEX)
    op.create_index(
        SMS_INDEX, "contacts", ["account_id", "sms"], unique=True, **_where("sms IS NOT NULL")
    )
    op.create_index(
        CODE_INDEX,
        "contacts",
        ["account_id", "confirmation_code"],
        **_where("confirmation_code IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(CODE_INDEX, "contacts")
    op.drop_index(SMS_INDEX, "contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.create_index(CODE_INDEX, ["account_id", "confirmation_code"])
        batch.create_unique_constraint("uq_contacts_account_id_sms", ["account_id", "sms"])
    referred = {"account_id": "accounts", "list_id": "mailing_lists", "contact_id": "contacts"}
    for table, names in DROPPED_FOREIGN_KEYS.items():
        with op.batch_alter_table(table) as batch:
            for name in names:
                column = next(c for c in referred if f"_{c}_" in name)
                batch.create_foreign_key(name, referred[column], [column], ["id"])
