"""Every table, as SQLAlchemy Core. Each one holding tenant data carries account_id."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kirje.store.types import Id, JsonDocument, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


def _account_id() -> Column:
    return Column("account_id", Id, ForeignKey("accounts.id"), nullable=False)


# Contacts, memberships and events grow by a row per person per import, send or hit, so they
# carry no foreign keys: PostgreSQL checks a key with a locking lookup per row, and three such
# checks made a membership insert four times slower (0.8 s against 3.7 s for 200,000 rows).
# Their references are kept by the store, which writes them only with ids it has just read
# or written, in the same transaction, and which never deletes an account, contact or list
# with memberships (contacts are erased in place, lists lose their memberships first).
def _high_volume_account_id() -> Column:
    return Column("account_id", Id, nullable=False)


def _where(condition: str) -> dict:
    """A partial index's condition, on both backends."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


def _created_at() -> Column:
    return Column("created_at", UtcDateTime, nullable=False)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("realm", String(32), nullable=False),
    Column("needs_confirmation", Boolean, nullable=False, server_default=text("false")),
    Column("settings", JsonDocument, nullable=False),
    _created_at(),
)

api_users = Table(
    "api_users",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    # Fernet token of the HMAC secret: it is needed in clear to verify signatures.
    Column("secret_ciphertext", Text, nullable=False),
    Column("rate_limit_per_second", Integer, nullable=False),
    Column("is_enabled", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    Column("updated_at", UtcDateTime, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    _high_volume_account_id(),
    Column("email", String(320)),
    Column("sms", String(32)),
    # Property values by property name, as text: one row per contact keeps bulk loads
    # at COPY speed and lets conditions compile to expressions over one table.
    Column("properties", JsonDocument, nullable=False),
    Column("is_enabled", Boolean, nullable=False, server_default=text("true")),
    Column("confirmation_code", String(32)),
    _created_at(),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    Column("bounced_at", UtcDateTime),
    Column("banned_at", UtcDateTime),
    Column("forgotten_at", UtcDateTime),
    # Set when an import linked this contact's identifiers to another one, which holds its
    # events and identifiers since; this row stays as a deleted tombstone.
    Column("merged_into", Id),
    UniqueConstraint("account_id", "email"),
    # Most contacts have no SMS number or pending code: partial indexes skip them.
    Index(None, "account_id", "sms", unique=True, **_where("sms IS NOT NULL")),
    Index(None, "account_id", "confirmation_code", **_where("confirmation_code IS NOT NULL")),
)

properties = Table(
    "properties",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("name", String(100), nullable=False),
    Column("visible_name", String(200), nullable=False),
    Column("language", String(8), nullable=False),
    Column("type", String(16), nullable=False),
    Column("datatype", String(16), nullable=False),
    Column("choices", JsonDocument, nullable=False),
    Column("is_required", Boolean, nullable=False, server_default=text("false")),
    Column("is_on_subscription_page", Boolean, nullable=False, server_default=text("false")),
    Column("position", Integer, nullable=False, server_default=text("0")),
    _created_at(),
    UniqueConstraint("account_id", "name"),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("domain", String(253), nullable=False),
    Column("language", String(8), nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("uses_ssl", Boolean, nullable=False, server_default=text("true")),
    Column("welcome_delivery_id", Id),
    Column("redirect", String(500)),
    Column("replaced_by", String(253)),
    Column("settings", JsonDocument, nullable=False),
    _created_at(),
    UniqueConstraint("account_id", "domain"),
)

mailing_lists = Table(
    "mailing_lists",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("kind", String(16), nullable=False),
    Column("is_self_service", Boolean, nullable=False, server_default=text("false")),
    Column("condition", Text),
    Column("cem_segment", Integer),
    Column("site_id", Id, ForeignKey("sites.id")),
    Column("is_hidden", Boolean, nullable=False, server_default=text("false")),
    # Folder path as the admin and the v2 import write it ("/" or "" = the root folder).
    Column("folder", String(500), nullable=False, server_default=""),
    _created_at(),
    Column("deleted_at", UtcDateTime),
    Index(None, "account_id", "name"),
)

list_members = Table(
    "list_members",
    metadata,
    _high_volume_account_id(),
    Column("list_id", Id, primary_key=True),
    Column("contact_id", Id, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=text("true")),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("left_at", UtcDateTime),
    Column("reason", Text),
    Column("origin", Text),
    Index(None, "contact_id"),
    Index(None, "list_id", "status"),
)

site_lists = Table(
    "site_lists",
    metadata,
    _account_id(),
    Column("site_id", Id, ForeignKey("sites.id"), primary_key=True),
    Column("list_id", Id, ForeignKey("mailing_lists.id"), primary_key=True),
)

consent_types = Table(
    "consent_types",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("name", String(200), nullable=False),
    Column("is_revokable", Boolean, nullable=False),
    _created_at(),
    Column("deleted_at", UtcDateTime),
)

# Each revision is a full snapshot of a consent's texts in every language it has.
consent_texts = Table(
    "consent_texts",
    metadata,
    _account_id(),
    Column("consent_type_id", Id, ForeignKey("consent_types.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("lang", String(8), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    _created_at(),
)

site_consents = Table(
    "site_consents",
    metadata,
    _account_id(),
    Column("site_id", Id, ForeignKey("sites.id"), primary_key=True),
    Column("consent_type_id", Id, ForeignKey("consent_types.id"), primary_key=True),
)

member_consents = Table(
    "member_consents",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False),
    Column("consent_type_id", Id, ForeignKey("consent_types.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("lang", String(8), nullable=False),
    Column("source", String(100), nullable=False),
    Column("source_data", Text),
    Column("given_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Index(None, "contact_id"),
)

# Append-only: the one event store that v3 events, reports and automations read. On
# PostgreSQL it is partitioned by month of `at` (see kirje.store.event_partitions), so its
# primary key there is (id, at); ids come from one sequence either way.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    _high_volume_account_id(),
    Column("contact_id", Id),
    # The LianaAutomation verb, or one of Kirje's own event types (EventType).
    Column("type", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("list_id", Id),
    # The LianaAutomation channel an imported event came in through.
    Column("channel_id", Id),
    # The job (import handle) that wrote the event, for imports that have one.
    Column("job_id", Id),
    # The delivery a mail event (sent, open, click, bounce, unsubscribe) belongs to.
    Column("delivery_id", Id),
    # Kirje's own event data, or an imported event's items.
    Column("data", JsonDocument, nullable=False),
    Index(None, "account_id", "at"),
    Index(None, "account_id", "type", "at"),
    Index(None, "contact_id", "at"),
    # Mail events only: the others (list joins, imported events, page views) are most of the
    # table, and each would cost an index entry for nothing.
    Index(None, "delivery_id", "type", **_where("delivery_id IS NOT NULL")),
)

# System mails (welcome, confirmation) asked for: the record of each request, linked to the
# delivery that sends it (kirje.services.system_mails).
queued_mails = Table(
    "queued_mails",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("site_id", Id, ForeignKey("sites.id")),
    Column("properties", JsonDocument, nullable=False),
    # queued (handed to the sending pipeline), failed (no delivery could be made)
    Column("state", String(16), nullable=False),
    _created_at(),
    # The delivery sending it; None until it is made, and for requests from before 0008.
    Column("delivery_id", Id),
    Index(None, "contact_id", "kind"),
    Index(None, "state"),
)

# Addresses erased at the person's request (GDPR). Only a keyed hash is kept, so a forgotten
# address can be recognised and never mailed again without the address being stored.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("channel", String(8), nullable=False),
    Column("address_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    _created_at(),
    UniqueConstraint("account_id", "channel", "address_hash"),
)

# A list's ids in outside systems (a CRM's segment id, say): one per type.
list_external_ids = Table(
    "list_external_ids",
    metadata,
    _account_id(),
    Column("list_id", Id, ForeignKey("mailing_lists.id"), primary_key=True),
    Column("type", String(100), primary_key=True),
    Column("external_id", String(200), nullable=False),
    UniqueConstraint("account_id", "type", "external_id"),
)

# Work a recipient's confirmation completes: a consent, a list membership or property values
# that take effect only when the person clicks the confirmation link.
confirmation_tasks = Table(
    "confirmation_tasks",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("task", JsonDocument, nullable=False),
    _created_at(),
    Column("done_at", UtcDateTime),
    Index(None, "account_id", "code"),
    Index(None, "contact_id"),
)

# One row per asynchronous operation: its id is the handle the APIs return, and the row, not
# a queue message, is the truth about its state.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("subject_id", Id),
    Column("progress_done", Integer, nullable=False, server_default=text("0")),
    Column("progress_total", Integer),
    # What the job works on (file, options): enough for any worker to run or resume it.
    Column("payload", JsonDocument),
    # How far the job has committed, written in the same transaction as the work it covers.
    Column("checkpoint", JsonDocument),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("worker", String(100)),
    Column("result", JsonDocument),
    Column("error", Text),
    _created_at(),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "account_id", "kind", "subject_id"),
    Index(None, "state", "updated_at"),
)

# An import's parsed rows, written in bulk (COPY on PostgreSQL) before they are merged into
# contacts and memberships with set-based statements. Rows of finished imports are deleted.
import_staging = Table(
    "import_staging",
    metadata,
    Column("job_id", Id, primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("email", String(320)),
    Column("sms", String(32)),
    Column("properties", JsonDocument, nullable=False),
    # A later line of the same file has the same address: only the last one counts.
    Column("superseded", Boolean, nullable=False, server_default=text("false")),
)

# Files that jobs read (import uploads), in the database so that a worker on any machine can
# read them: written in chunks, complete once `size` is set; deleted when their job has ended.
uploads = Table(
    "uploads",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    # The file's kind, as its name ends: csv, xls, json.
    Column("suffix", String(16), nullable=False),
    Column("size", BigInteger),
    Column("job_id", Id),
    _created_at(),
    Index(None, "job_id"),
)

upload_chunks = Table(
    "upload_chunks",
    metadata,
    Column("upload_id", Id, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Lines an import did not apply, with the log section and the reason: getImportLog's details.
import_rejections = Table(
    "import_rejections",
    metadata,
    Column("job_id", Id, primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("section", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("value", Text, nullable=False),
)


# LianaAutomation channels: where imported events come from. Users make untyped ones
# (type "empty"); typed ones (system, shop integrations) are made by Kirje or an operator.
channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("name", String(200), nullable=False),
    Column("color", String(32), nullable=False, server_default=""),
    Column("icon", Text, nullable=False, server_default=""),
    Column("tracking_enabled", Boolean, nullable=False, server_default=text("false")),
    Column("notes", Text, nullable=False, server_default=""),
    Column("system_name", String(64), nullable=False, server_default=""),
    Column("type", String(32), nullable=False, server_default="empty"),
    Column("tracking_js", Text, nullable=False, server_default=""),
    Column("import_js", Text, nullable=False, server_default=""),
    Column("default_url", Text, nullable=False, server_default=""),
    # The unguessable part of the channel's site-tracking URLs (/t/<key>/gtm).
    Column("public_key", String(32), nullable=False),
    _created_at(),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("public_key"),
    Index(None, "account_id", "system_name"),
)

# The verbs a channel has received, with how many of its events each has: the channel
# object's `verbs` and `events` without counting the event store on every read.
channel_verbs = Table(
    "channel_verbs",
    metadata,
    Column("channel_id", Id, primary_key=True),
    Column("verb", String(64), primary_key=True),
    _high_volume_account_id(),
    Column("is_enabled", Boolean, nullable=False, server_default=text("true")),
    Column("events", Integer, nullable=False, server_default=text("0")),
)

# Identifiers of a contact other than its email and SMS number (which live on the contact):
# LianaAutomation's extra1, extra2 and tracking tokens. A value names one contact at most.
contact_identities = Table(
    "contact_identities",
    metadata,
    Column("account_id", Id, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("contact_id", Id, nullable=False),
    _created_at(),
    Index(None, "contact_id"),
)


# Messages: drafts with their content; a delivery sends one (with the letter's overrides).
messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("name", String(200), nullable=False, server_default=""),
    Column("subject", Text, nullable=False),
    Column("from_name", String(200), nullable=False, server_default=""),
    Column("from_email", String(320)),
    Column("reply_to", String(320)),
    Column("html", Text, nullable=False),
    # None: the text part is made from the HTML when the message is rendered.
    Column("text", Text),
    Column("preheader", Text, nullable=False, server_default=""),
    _created_at(),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "account_id"),
)

# Deliveries: one sending of a message to an audience (lists, explicit recipients, or both).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("message_id", Id, nullable=False),
    # batch, event (transactional), webpage, welcome, confirmation
    Column("kind", String(16), nullable=False),
    # scheduled, queued, sending, done, cancelled, failed
    Column("state", String(16), nullable=False),
    # The letter's overrides of the message (subject, html...), as given.
    Column("overrides", JsonDocument, nullable=False),
    Column("list_ids", JsonDocument, nullable=False),
    # Whether a recipient who already got this message may get it again (event-send).
    Column("recipients_reset", Boolean, nullable=False, server_default=text("false")),
    # Whether messages left in doubt by a crash are sent again (transactional) or not.
    Column("resends_unknown", Boolean, nullable=False, server_default=text("false")),
    Column("scheduled_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("job_id", Id),
    # Hidden from the report view (LianaMailer hideDelivery); still counted and tracked.
    Column("hidden", Boolean, nullable=False, server_default=text("false")),
    # The delivery this one was made from (a reschedule): getRelatedDeliveries.
    Column("related_to", Id),
    # The RSS feeds (archives) the delivery is shown on; None: none.
    Column("archives", JsonDocument),
    _created_at(),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "account_id", "state"),
    Index(None, "state", "scheduled_at"),
    Index(None, "related_to"),
)

# The ledger: one row per recipient of a delivery, the truth of who was mailed. A worker claims
# pending rows, sends, and records each outcome as soon as the SMTP server answers.
delivery_recipients = Table(
    "delivery_recipients",
    metadata,
    Column("delivery_id", Id, primary_key=True),
    Column("contact_id", Id, primary_key=True),
    _high_volume_account_id(),
    Column("email", String(320), nullable=False),
    # An explicit recipient's property values for this delivery, over the contact's own.
    Column("properties", JsonDocument),
    # pending, sending, sent, failed, unknown
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime),
    Column("claimed_by", String(100)),
    Column("claimed_at", UtcDateTime),
    Column("sent_at", UtcDateTime),
    # The SMTP server's last reply for a failure or a retry.
    Column("reply", Text),
    # Claims take pending rows in contact order, read off this index (no sort).
    Index(None, "delivery_id", "state", "contact_id"),
    Index(None, "contact_id"),
)

# The tracked links of a delivery's message, by their position in it: a click event names the
# position, reports name the link by this row's id (LianaMailer's link id).
delivery_links = Table(
    "delivery_links",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("delivery_id", Id, nullable=False),
    Column("message_id", Id, nullable=False),
    Column("position", Integer, nullable=False),
    Column("url", Text, nullable=False),
    _created_at(),
    UniqueConstraint("delivery_id", "position"),
    Index(None, "account_id", "message_id"),
)

# DKIM keys per sending domain; the private key is sealed like API secrets.
dkim_keys = Table(
    "dkim_keys",
    metadata,
    Column("id", Id, primary_key=True),
    _account_id(),
    Column("domain", String(253), nullable=False),
    Column("selector", String(63), nullable=False),
    Column("private_key_ciphertext", Text, nullable=False),
    _created_at(),
    UniqueConstraint("account_id", "domain"),
)
