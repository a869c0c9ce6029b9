"""The initial schema: accounts, contacts, lists, sites, consents, events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import kirje.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("realm", sa.String(length=32), nullable=False),
        sa.Column(
            "needs_confirmation", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "api_users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("rate_limit_per_second", sa.Integer(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_users_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_users")),
    )
    op.create_table(
        "consent_types",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_revokable", sa.Boolean(), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_consent_types_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_types")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("sms", sa.String(length=32), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("confirmation_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("bounced_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("banned_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("forgotten_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_contacts_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("account_id", "email", name=op.f("uq_contacts_account_id_email")),
        sa.UniqueConstraint("account_id", "sms", name=op.f("uq_contacts_account_id_sms")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_events_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_account_id_at"), ["account_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_events_account_id_type_at"), ["account_id", "type", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_events_contact_id_at"), ["contact_id", "at"], unique=False
        )

    op.create_table(
        "properties",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("visible_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("datatype", sa.String(length=16), nullable=False),
        sa.Column(
            "choices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_required", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column(
            "is_on_subscription_page",
            sa.Boolean(),
            server_default=sa.text("(false)"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_properties_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_properties")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_properties_account_id_name")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("uses_ssl", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column(
            "welcome_delivery_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("redirect", sa.String(length=500), nullable=True),
        sa.Column("replaced_by", sa.String(length=253), nullable=True),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sites_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("account_id", "domain", name=op.f("uq_sites_account_id_domain")),
    )
    op.create_table(
        "consent_texts",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "consent_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_consent_texts_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["consent_type_id"],
            ["consent_types.id"],
            name=op.f("fk_consent_texts_consent_type_id_consent_types"),
        ),
        sa.PrimaryKeyConstraint(
            "consent_type_id", "revision", "lang", name=op.f("pk_consent_texts")
        ),
    )
    op.create_table(
        "mailing_lists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "is_self_service", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("cem_segment", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("is_hidden", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_mailing_lists_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_mailing_lists_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailing_lists")),
    )
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailing_lists_account_id_name"), ["account_id", "name"], unique=False
        )

    op.create_table(
        "member_consents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "consent_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_data", sa.Text(), nullable=True),
        sa.Column("given_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_member_consents_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["consent_type_id"],
            ["consent_types.id"],
            name=op.f("fk_member_consents_consent_type_id_consent_types"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_member_consents_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_consents")),
    )
    with op.batch_alter_table("member_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_consents_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "queued_mails",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_queued_mails_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_queued_mails_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_queued_mails_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queued_mails")),
    )
    with op.batch_alter_table("queued_mails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queued_mails_contact_id_kind"), ["contact_id", "kind"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_queued_mails_state"), ["state"], unique=False)

    op.create_table(
        "site_consents",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "consent_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_site_consents_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["consent_type_id"],
            ["consent_types.id"],
            name=op.f("fk_site_consents_consent_type_id_consent_types"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_consents_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", "consent_type_id", name=op.f("pk_site_consents")),
    )
    op.create_table(
        "list_members",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("joined_at", kirje.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("left_at", kirje.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_list_members_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_list_members_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mailing_lists.id"], name=op.f("fk_list_members_list_id_mailing_lists")
        ),
        sa.PrimaryKeyConstraint("list_id", "contact_id", name=op.f("pk_list_members")),
    )
    with op.batch_alter_table("list_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_list_members_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_list_members_list_id_status"), ["list_id", "status"], unique=False
        )

    op.create_table(
        "site_lists",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_site_lists_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mailing_lists.id"], name=op.f("fk_site_lists_list_id_mailing_lists")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_lists_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", "list_id", name=op.f("pk_site_lists")),
    )


def downgrade() -> None:
    op.drop_table("site_lists")
    with op.batch_alter_table("list_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_members_list_id_status"))
        batch_op.drop_index(batch_op.f("ix_list_members_contact_id"))

    op.drop_table("list_members")
    op.drop_table("site_consents")
    with op.batch_alter_table("queued_mails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queued_mails_state"))
        batch_op.drop_index(batch_op.f("ix_queued_mails_contact_id_kind"))

    op.drop_table("queued_mails")
    with op.batch_alter_table("member_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_consents_contact_id"))

    op.drop_table("member_consents")
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailing_lists_account_id_name"))

    op.drop_table("mailing_lists")
    op.drop_table("consent_texts")
    op.drop_table("sites")
    op.drop_table("properties")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_contact_id_at"))
        batch_op.drop_index(batch_op.f("ix_events_account_id_type_at"))
        batch_op.drop_index(batch_op.f("ix_events_account_id_at"))

    op.drop_table("events")
    op.drop_table("contacts")
    op.drop_table("consent_types")
    op.drop_table("api_users")
    op.drop_table("accounts")
