"""Import SQL: parsed rows staged in bulk, then merged into contacts, list memberships,
consents and events by set-based statements, one range of lines at a time.

Every step of a merge reads the range's lines that are neither superseded nor already refused
(a row in import_rejections), and each refusing step writes its rows there, so the steps
compose; every write is conditioned on the change it makes, so a range merged twice changes
nothing the second time. Staged and refused rows belong to a job, and a job to one account:
they are scoped by job id, everything else by account id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Select,
    Subquery,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from kirje.domain.errors import NotFound
from kirje.domain.events import EventType
from kirje.domain.imports import (
    ImportCounts,
    ImportOptions,
    ImportRow,
    LogSection,
    MergeOutcome,
    RejectedLine,
)
from kirje.domain.lists import MembershipStatus
from kirje.domain.privacy import Channel, address_hash
from kirje.store import consents as consent_store
from kirje.store import statistics
from kirje.store.privacy import suppressed_hashes
from kirje.store.schema import (
    contacts,
    events,
    import_rejections,
    import_staging,
    list_members,
    member_consents,
    suppressions,
)
from kirje.store.staging_copy import COPY_STAGING, encode_staging_rows, given_values
from kirje.store.types import JsonDocument, UtcDateTime

# Rows per statement where a list of values is bound (SQLite allows 32,766 variables).
CHUNK = 5_000
ORIGIN = "import"

ACTIVE = MembershipStatus.ACTIVE.value
UNSUBSCRIBED = MembershipStatus.UNSUBSCRIBED.value
REMOVED = MembershipStatus.REMOVED.value

DUPLICATE_REASON = "a later line has the same address"
DELETED_REASON = "recipient is deleted"
FORGOTTEN_REASON = "address was erased at the person's request"
BANNED_REASON = "recipient is banned"
UNSUBSCRIBED_REASON = "recipient unsubscribed from the list"

_REJECTION_COLUMNS = ["job_id", "line", "section", "reason", "value"]
_EVENT_COLUMNS = ["account_id", "contact_id", "type", "at", "list_id", "data"]

# Phase 1: staging


def stage_rows(conn: Connection, job_id: int, rows: Sequence[ImportRow] | bytes) -> None:
    """Writes parsed rows to the staging table: on PostgreSQL by COPY, of the rows or of their
    encoding (encode_staging_rows, made beforehand by a reader process)."""
    if conn.dialect.name == "postgresql":
        encoded = rows if isinstance(rows, bytes) else encode_staging_rows(job_id, rows)
        if encoded:
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(COPY_STAGING) as copy:
                copy.write(encoded)
        return
    if rows:
        conn.execute(
            insert(import_staging),
            [
                dict(
                    job_id=job_id,
                    line=row.line,
                    email=row.email,
                    sms=row.sms,
                    properties=given_values(row.properties),
                    superseded=False,
                )
                for row in rows
            ],
        )


def record_rejections(conn: Connection, job_id: int, rejected: Sequence[RejectedLine]) -> None:
    if rejected:
        conn.execute(
            insert(import_rejections),
            [
                dict(
                    job_id=job_id,
                    line=line.line,
                    section=line.section.value,
                    reason=line.reason,
                    value=line.value,
                )
                for line in rejected
            ],
        )


def discard_staged_after(conn: Connection, job_id: int, line: int) -> None:
    """Drops what was staged or refused past a checkpoint, before a resumed job re-reads it."""
    for written in (import_staging, import_rejections):
        conn.execute(delete(written).where(written.c.job_id == job_id, written.c.line > line))


# Between the phases


def mark_superseded(conn: Connection, job_id: int, *, keep_all: bool = False) -> int:
    """Marks every line whose address a later line repeats; returns how many are superseded.

    An address is the email, or the SMS number of a line without email. Of the lines that give
    the same SMS number, only the last keeps it (an SMS-only line giving it earlier is
    superseded, a line with an email loses the number), so no merge hands one number to two
    contacts. Superseded lines are logged as duplicates; with keep_all (LianaMailer's
    use_duplicates) they are not, and their values are folded, in line order, into the line
    that is applied.
    """
    refresh_statistics(conn, always=[import_staging.name])
    staged = import_staging
    of_job = staged.c.job_id == job_id
    last_email = _last_of_repeated(of_job, staged.c.email)
    conn.execute(
        update(staged)
        .where(of_job, staged.c.email == last_email.c.value, staged.c.line < last_email.c.last)
        .values(superseded=True)
    )
    for has_email in (False, True):
        last_sms = _last_of_repeated(and_(of_job, staged.c.superseded == false()), staged.c.sms)
        earlier = (
            of_job,
            staged.c.superseded == false(),
            staged.c.sms == last_sms.c.value,
            staged.c.line < last_sms.c.last,
        )
        if has_email:
            conn.execute(
                update(staged).where(*earlier, staged.c.email.is_not(None)).values(sms=None)
            )
        else:
            conn.execute(
                update(staged).where(*earlier, staged.c.email.is_(None)).values(superseded=True)
            )
    if keep_all:
        _fold_superseded(conn, job_id)
    else:
        _log_duplicates(conn, job_id)
    return conn.execute(
        select(func.count()).where(of_job, staged.c.superseded == true())
    ).scalar_one()


def _last_of_repeated(condition: ColumnElement, column) -> Subquery:
    """The values of column that several lines share, with the last such line."""
    return (
        select(column.label("value"), func.max(import_staging.c.line).label("last"))
        .where(condition, column.is_not(None))
        .group_by(column)
        .having(func.count() > 1)
        .subquery()
    )


def _log_duplicates(conn: Connection, job_id: int) -> None:
    staged = import_staging
    conn.execute(
        insert(import_rejections).from_select(
            _REJECTION_COLUMNS,
            select(
                staged.c.job_id,
                staged.c.line,
                literal(LogSection.DUPLICATE.value),
                literal(DUPLICATE_REASON),
                func.coalesce(staged.c.email, staged.c.sms, ""),
            ).where(
                staged.c.job_id == job_id,
                staged.c.superseded == true(),
                ~_is_refused(staged),
            ),
        )
    )


def _fold_superseded(conn: Connection, job_id: int) -> None:
    """Gives each applied line the values of its superseded lines under its own."""
    earlier, winner = import_staging.alias("earlier"), import_staging.alias("winner")
    pairs = [
        select(winner.c.line.label("winner"), earlier.c.line, earlier.c.properties)
        .join_from(earlier, winner, and_(winner.c.job_id == earlier.c.job_id, same))
        .where(
            earlier.c.job_id == job_id,
            earlier.c.superseded == true(),
            winner.c.superseded == false(),
            *extra,
        )
        for same, extra in (
            (winner.c.email == earlier.c.email, ()),
            (winner.c.sms == earlier.c.sms, (earlier.c.email.is_(None),)),
        )
    ]
    both = union_all(*pairs).subquery()
    folded: dict[int, dict] = {}
    for row in conn.execute(select(both).order_by(both.c.winner, both.c.line)):
        folded.setdefault(row.winner, {}).update(row.properties or {})
    if not folded:
        return
    winners, own = list(folded), {}
    for start in range(0, len(winners), CHUNK):
        own.update(
            conn.execute(
                select(import_staging.c.line, import_staging.c.properties).where(
                    import_staging.c.job_id == job_id,
                    import_staging.c.line.in_(winners[start : start + CHUNK]),
                )
            ).all()
        )
    conn.execute(
        update(import_staging)
        .where(
            import_staging.c.job_id == job_id,
            import_staging.c.line == bindparam("winner_line"),
        )
        .values(properties=bindparam("folded", type_=JsonDocument)),
        [
            {"winner_line": line, "folded": {**values, **(own[line] or {})}}
            for line, values in folded.items()
        ],
    )


def truncate_list_for_import(
    conn: Connection, account_id: int, list_id: int, job_id: int, now: datetime
) -> int:
    """Ends the list's active memberships that the import will not keep; returns how many.

    Kept are the members a staged line names (by email, or by SMS for a line without email)
    who can be members after it: not banned, not deleted. Members the file names stay as they
    are (no leave-and-join churn); those who left on their own stay left.
    """
    refresh_statistics(conn)
    member = list_members
    of_account = contacts.c.account_id == account_id
    kept_out = select(contacts.c.id).where(
        of_account, or_(contacts.c.banned_at.is_not(None), contacts.c.deleted_at.is_not(None))
    )
    leaving_groups = (
        member.c.contact_id.in_(kept_out),
        _not_named_by_file(conn, account_id, job_id),
    )
    ended = 0
    for leaving in leaving_groups:
        members = (
            member.c.account_id == account_id,
            member.c.list_id == list_id,
            member.c.status == ACTIVE,
            leaving,
        )
        quit_data = _action_data(job_id)
        conn.execute(
            insert(events).from_select(
                _EVENT_COLUMNS,
                select(
                    member.c.account_id,
                    member.c.contact_id,
                    literal(EventType.LIST_QUIT.value),
                    literal(now, UtcDateTime()),
                    member.c.list_id,
                    literal(quit_data, JsonDocument),
                ).where(*members),
            )
        )
        ended += conn.execute(
            update(member)
            .where(*members)
            .values(status=REMOVED, left_at=now, reason=str(job_id), origin=ORIGIN)
        ).rowcount
    return ended


def _not_named_by_file(conn: Connection, account_id: int, job_id: int) -> ColumnElement:
    """True for a list member (of the enclosing query) no applied staged line names."""
    staged = import_staging
    applied = (staged.c.job_id == job_id, staged.c.superseded == false())
    of_account = contacts.c.account_id == account_id
    if conn.dialect.name == "postgresql":
        # NOT EXISTS plans as a hash anti-join; NOT IN over a million ids would not.
        by_email = select(1).where(*applied, staged.c.email == contacts.c.email).exists()
        by_sms = select(1).where(*applied, staged.c.email.is_(None), staged.c.sms == contacts.c.sms)
        unnamed = select(contacts.c.id).where(of_account, ~by_email, ~by_sms.exists())
        return list_members.c.contact_id.in_(unnamed)
    # SQLite has no index on the staged addresses: it would search them once per member, but
    # builds the list of named ids once, through the contacts' own address indexes.
    named = union_all(
        select(contacts.c.id)
        .join_from(staged, contacts, and_(of_account, contacts.c.email == staged.c.email))
        .where(*applied),
        select(contacts.c.id)
        .join_from(staged, contacts, and_(of_account, contacts.c.sms == staged.c.sms))
        .where(*applied, staged.c.email.is_(None)),
    )
    return list_members.c.contact_id.not_in(named)


# Phase 2: merging a range of lines


# The tables an import's statements join, with the columns they join and filter on: the
# statistics its plans need (a contact's properties are never joined on, and the most costly
# to analyze).
_JOIN_COLUMNS = {
    contacts.name: ("id", "account_id", "email", "sms", "deleted_at", "banned_at"),
    list_members.name: ("account_id", "list_id", "contact_id", "status"),
    member_consents.name: ("account_id", "contact_id", "consent_type_id", "revision", "revoked_at"),
    import_rejections.name: ("job_id", "line", "section"),
    import_staging.name: ("job_id", "line", "email", "sms", "superseded"),
}


def refresh_statistics(conn: Connection, *, always: Sequence[str] = ()) -> list[str]:
    """Fresh statistics for the tables a merge joins (see kirje.store.statistics)."""
    return statistics.refresh_join_statistics(conn, _JOIN_COLUMNS, always=always)


def has_lines_without_email(conn: Connection, job_id: int) -> bool:
    """Whether a line to apply gives no email (an SMS number only)."""
    staged = import_staging
    return conn.execute(
        select(
            exists().where(
                staged.c.job_id == job_id,
                staged.c.superseded == false(),
                staged.c.email.is_(None),
            )
        )
    ).scalar_one()


def merge_staged(
    conn: Connection,
    *,
    account_id: int,
    job_id: int,
    list_id: int,
    first_line: int,
    last_line: int,
    now: datetime,
    options: ImportOptions,
) -> MergeOutcome:
    """Applies the staged lines first_line..last_line (superseded ones excepted).

    Deleted and forgotten contacts are left alone (DELETED); banned contacts and those who left
    the list on their own are not joined or changed (UNSUBSCRIBED). The others are created
    (confirmed) or get the line's values over theirs, and become active members of the list,
    with the events of what changed and, when asked, the import's consent.

    Fresh statistics (refresh_statistics, in a transaction of its own) make its plans.
    """
    with _planned_for_ranges(conn):
        merge = _RangeMerge(conn, account_id, job_id, list_id, first_line, last_line, now)
        merge.refuse_forgotten()
        # A range of new addresses only (a first import, most of a large one) skips the
        # steps that look its lines' contacts up again, each a pass over the range.
        names_contacts = merge.names_contacts()
        if names_contacts:
            merge.refuse_kept_out()
        applied = merge.count_pending()
        joined = 0
        if names_contacts:
            merge.update_existing()
            joined = merge.join_list()
        new = merge.insert_new(all_new=not names_contacts)
        if options.consent_id is not None:
            merge.give_consent(options.consent_id, options.consent_lang)
        refused = merge.refused_counts()
    return MergeOutcome(
        new=new,
        updated=applied - new,
        joined=joined + new,
        unsubscribed=refused.get(LogSection.UNSUBSCRIBED, 0),
        deleted=refused.get(LogSection.DELETED, 0),
    )


# Our own constants, never input. A range is read through the staging table's key, not by
# scanning the whole table (which holds other imports' rows, and dead ones until vacuumed).
_RANGE_PLANNING = {
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "jit": "off",
    "random_page_cost": "1.1",
}


@contextmanager
def _planned_for_ranges(conn: Connection) -> Iterator[None]:
    """PostgreSQL plans for one range of lines against large tables: index lookups.

    Every join of a merge goes from the range's lines (tens of thousands) into a table by an
    index (contacts by address or id, memberships and rejections by key). Left to itself the
    planner hashes the whole contacts table, every account's, once per statement: at a
    million contacts that made a range four times slower. JIT is off for the same reason:
    these are short index plans whose compilation costs more than it saves.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    for name, value in _RANGE_PLANNING.items():
        conn.exec_driver_sql(f"SET LOCAL {name} = {value}")
    yield
    # For what the transaction does next. (After an error there is nothing next: the
    # transaction is rolled back, its SET LOCAL with it, and a RESET would only fail.)
    for name in _RANGE_PLANNING:
        conn.exec_driver_sql(f"RESET {name}")


class _RangeMerge:
    """The statements of one range's merge; each step sees what the ones before it did.

    On PostgreSQL a write and the events it causes are one statement (a data-modifying WITH
    whose RETURNING feeds the events); SQLite has no such WITH, so there the events are
    selected first and the write follows, by the same condition.
    """

    def __init__(
        self,
        conn: Connection,
        account_id: int,
        job_id: int,
        list_id: int,
        first_line: int,
        last_line: int,
        now: datetime,
    ) -> None:
        self.conn = conn
        self.is_postgresql = conn.dialect.name == "postgresql"
        self.account_id = account_id
        self.job_id = job_id
        self.list_id = list_id
        self.first_line = first_line
        self.last_line = last_line
        self.now = literal(now, UtcDateTime())
        self.now_value = now
        self.reason = str(job_id)

    # Which lines

    def pending(self, staged=import_staging) -> tuple[ColumnElement, ...]:
        """The range's lines still to apply: not superseded, not refused."""
        return (
            staged.c.job_id == self.job_id,
            staged.c.line.between(self.first_line, self.last_line),
            staged.c.superseded == false(),
            ~_is_refused(staged),
        )

    def count_pending(self) -> int:
        query = select(func.count()).select_from(import_staging).where(*self.pending())
        return self.conn.execute(query).scalar_one()

    def matches(self) -> Subquery:
        """Pending lines with the existing contact they name: by email, else by SMS."""
        staged = import_staging
        columns = (
            staged.c.line,
            staged.c.email,
            staged.c.sms,
            staged.c.properties,
            contacts.c.id.label("contact_id"),
            contacts.c.deleted_at,
            contacts.c.banned_at,
        )
        of_account = contacts.c.account_id == self.account_id
        by_email = select(*columns).join_from(
            staged, contacts, and_(of_account, contacts.c.email == staged.c.email)
        )
        by_sms = select(*columns).join_from(
            staged, contacts, and_(of_account, contacts.c.sms == staged.c.sms)
        )
        return union_all(
            by_email.where(*self.pending()),
            by_sms.where(*self.pending(), staged.c.email.is_(None)),
        ).subquery("matched")

    def names_contacts(self) -> bool:
        """Whether a pending line names an existing contact."""
        named = select(1).select_from(self.matches())
        return self.conn.execute(select(named.exists())).scalar_one()

    def matched_contacts(self) -> Subquery:
        """The contacts the pending lines name, each once (a line with an email and one
        with only an SMS number can name the same contact)."""
        matched = self.matches()
        return select(matched.c.contact_id).distinct().subquery("named")

    def is_known(self, column, value) -> ColumnElement:
        holder = contacts.alias("holder")
        return (
            select(1)
            .where(holder.c.account_id == self.account_id, holder.c[column] == value)
            .exists()
        )

    def free_sms(self, sms) -> ColumnElement:
        """The line's SMS number unless another contact of the account holds it."""
        return case((and_(sms.is_not(None), ~self.is_known("sms", sms)), sms), else_=null())

    # Refusals

    def refuse_forgotten(self) -> int:
        """Lines giving an address erased at the person's request: it never comes back."""
        has_suppressions = select(exists().where(suppressions.c.account_id == self.account_id))
        if not self.conn.execute(has_suppressions).scalar():
            return 0
        staged = import_staging
        lines = self.conn.execute(
            select(staged.c.line, staged.c.email, staged.c.sms).where(*self.pending())
        ).all()
        forgotten: dict[int, str] = {}
        for channel in Channel:
            by_hash: dict[str, list[tuple[int, str]]] = {}
            for row in lines:
                address = getattr(row, channel.value)
                if address:
                    hashed = address_hash(self.account_id, channel, address)
                    by_hash.setdefault(hashed, []).append((row.line, address))
            hashes = list(by_hash)
            for start in range(0, len(hashes), CHUNK):
                chunk = hashes[start : start + CHUNK]
                for hashed in suppressed_hashes(self.conn, self.account_id, channel, chunk):
                    for line, address in by_hash[hashed]:
                        forgotten.setdefault(line, address)
        record_rejections(
            self.conn,
            self.job_id,
            [
                RejectedLine(line, LogSection.DELETED, FORGOTTEN_REASON, address)
                for line, address in sorted(forgotten.items())
            ],
        )
        return len(forgotten)

    def refuse_kept_out(self) -> int:
        """Lines naming a deleted contact (DELETED), a banned one or one who left the list on
        their own (UNSUBSCRIBED): one statement for all three."""
        matched = self.matches()
        is_deleted = matched.c.deleted_at.is_not(None)
        is_banned = matched.c.banned_at.is_not(None)
        left_on_their_own = (
            select(1)
            .where(
                list_members.c.account_id == self.account_id,
                list_members.c.list_id == self.list_id,
                list_members.c.contact_id == matched.c.contact_id,
                list_members.c.status == UNSUBSCRIBED,
            )
            .exists()
        )
        section = case(
            (is_deleted, literal(LogSection.DELETED.value)),
            else_=literal(LogSection.UNSUBSCRIBED.value),
        )
        reason = case(
            (is_deleted, literal(DELETED_REASON)),
            (is_banned, literal(BANNED_REASON)),
            else_=literal(UNSUBSCRIBED_REASON),
        )
        refused = (
            select(
                literal(self.job_id),
                matched.c.line,
                section,
                reason,
                func.coalesce(matched.c.email, matched.c.sms),
            )
            .select_from(matched)
            .where(or_(is_deleted, is_banned, left_on_their_own))
        )
        return _inserted(
            self.conn, insert(import_rejections).from_select(_REJECTION_COLUMNS, refused)
        )

    def refused_counts(self) -> dict[LogSection, int]:
        rejected = import_rejections
        rows = self.conn.execute(
            select(rejected.c.section, func.count())
            .where(
                rejected.c.job_id == self.job_id,
                rejected.c.line.between(self.first_line, self.last_line),
                rejected.c.section.in_([LogSection.DELETED.value, LogSection.UNSUBSCRIBED.value]),
            )
            .group_by(rejected.c.section)
        )
        return {LogSection(section): count for section, count in rows}

    # Contacts

    def update_existing(self) -> int:
        """Writes the lines' values over the contacts' (and an SMS number where they have
        none), with a data-change event where that changes something; returns how many
        contacts changed."""
        return self.update_named_by("email") + self.update_named_by("sms")

    def update_named_by(self, column: str) -> int:
        # The lines join the contacts by address, not through matches(): that way the
        # planner looks each one up in the address index instead of hashing every contact.
        staged = import_staging
        names = and_(
            contacts.c.account_id == self.account_id, contacts.c[column] == staged.c[column]
        )
        named = [*self.pending(), names]
        if column == "sms":
            named.append(staged.c.email.is_(None))
        sms = self.free_sms(staged.c.sms)
        changes = or_(
            self.adds_values(contacts.c.properties, staged.c.properties),
            and_(contacts.c.sms.is_(None), sms.is_not(None)),
        )
        write = (
            update(contacts)
            .where(*named, changes)
            .values(
                properties=self.merged(contacts.c.properties, staged.c.properties),
                sms=func.coalesce(contacts.c.sms, sms),
                updated_at=self.now_value,
            )
        )
        if self.is_postgresql:
            changed = write.returning(contacts.c.id, staged.c.properties).cte("changed")
            return self.append_events(self.data_change_events(changed.c.id, changed), changed)
        count = self.append_events(
            self.data_change_events(contacts.c.id, staged)
            .select_from(staged)
            .join(contacts, names)
            .where(*named, changes)
        )
        self.conn.execute(write)
        return count

    def data_change_events(self, contact_id, source):
        return select(
            *self.event_head(contact_id, EventType.DATA_CHANGE, null()),
            self.json_object(properties=source.c.properties),
        )

    def insert_new(self, *, all_new: bool = False) -> int:
        """Creates contacts for the lines that name none, confirmed and active members of the
        list, with their created and list-join events; returns how many. With all_new (no
        pending line names a contact, as names_contacts found) the lines are not looked up.

        It runs after join_list, which so never looks the new contacts up again."""
        staged = import_staging
        head = (literal(self.account_id), staged.c.email)
        tail = (staged.c.properties, literal(True), self.now, self.now, self.now)
        by_email, by_sms = (
            ((), ())
            if all_new
            else (
                (~self.is_known("email", staged.c.email),),
                (~self.is_known("sms", staged.c.sms),),
            )
        )
        new_lines = union_all(
            select(*head, self.free_sms(staged.c.sms), *tail).where(
                *self.pending(), staged.c.email.is_not(None), *by_email
            ),
            select(*head, staged.c.sms, *tail).where(
                *self.pending(), staged.c.email.is_(None), *by_sms
            ),
        )
        columns = ["account_id", "email", "sms", "properties", "is_enabled"]
        columns += ["created_at", "updated_at", "confirmed_at"]
        write = insert(contacts).from_select(columns, new_lines)
        if self.is_postgresql:
            # One statement: the contacts, their memberships and both events of each.
            created = write.returning(contacts.c.id, contacts.c.properties).cte("created")
            members = self.new_memberships(select(created.c.id))
            joined = members.returning(list_members.c.contact_id).cte("joined")
            logged = insert(events).from_select(
                _EVENT_COLUMNS,
                union_all(self.created_events(created), self.join_events(joined.c.contact_id)),
            )
            count = select(func.count()).select_from(created)
            return self.conn.execute(count.add_cte(joined, logged.cte("logged"))).scalar_one()
        # SQLite: the new rows are those past the largest id, created at this moment.
        first_new_id = self.conn.execute(select(func.coalesce(func.max(contacts.c.id), 0)))
        first_new_id = first_new_id.scalar_one() + 1
        count = _inserted(self.conn, write)
        if count:
            is_new = (
                contacts.c.account_id == self.account_id,
                contacts.c.id >= first_new_id,
                contacts.c.created_at == self.now,
            )
            self.append_events(self.created_events(contacts).where(*is_new))
            self.append_events(self.join_events(contacts.c.id).where(*is_new))
            self.conn.execute(self.new_memberships(select(contacts.c.id).where(*is_new)))
        return count

    def created_events(self, source):
        return select(
            *self.event_head(source.c.id, EventType.CREATED, null()),
            self.json_object(properties=source.c.properties),
        )

    # Memberships and consents

    def membership_fields(self) -> dict:
        return dict(is_admin=True, joined_at=self.now_value, reason=self.reason, origin=ORIGIN)

    def membership_rows(self, contact_ids: Select) -> tuple[list[str], Select]:
        """Columns and rows of active memberships of the list for the selected contact ids."""
        joining = contact_ids.subquery("joining")
        columns = ["account_id", "list_id", "contact_id", "status", "left_at"]
        columns += list(self.membership_fields())
        rows = select(
            literal(self.account_id),
            literal(self.list_id),
            joining.c[0],
            literal(ACTIVE),
            null(),
            literal(True),
            self.now,
            literal(self.reason),
            literal(ORIGIN),
        )
        return columns, rows

    def new_memberships(self, contact_ids: Select):
        return insert(list_members).from_select(*self.membership_rows(contact_ids))

    def join_list(self) -> int:
        """Makes every existing contact the lines name an active member (new, or back from
        removed by an administrator), with a list-join event each; returns how many joined."""
        named = self.matched_contacts()
        member = list_members
        membership = (
            member.c.account_id == self.account_id,
            member.c.list_id == self.list_id,
            member.c.contact_id == named.c.contact_id,
        )
        is_member = select(1).where(*membership, member.c.status == ACTIVE).exists()
        joining = select(named.c.contact_id).where(~is_member)
        if self.is_postgresql:
            upsert = postgresql_insert(member).from_select(*self.membership_rows(joining))
            joined = (
                upsert.on_conflict_do_update(
                    index_elements=[member.c.list_id, member.c.contact_id],
                    set_=dict(status=ACTIVE, left_at=None, **self.membership_fields()),
                    where=member.c.status == REMOVED,
                )
                .returning(member.c.contact_id)
                .cte("joined")
            )
            return self.append_events(self.join_events(joined.c.contact_id), joined)
        count = self.append_events(self.join_events(named.c.contact_id).where(~is_member))
        if count:
            has_row = select(1).where(*membership).exists()
            self.conn.execute(self.new_memberships(select(named.c.contact_id).where(~has_row)))
            comeback = self.matched_contacts()
            self.conn.execute(
                update(member)
                .where(
                    member.c.account_id == self.account_id,
                    member.c.list_id == self.list_id,
                    member.c.status == REMOVED,
                    member.c.contact_id.in_(select(comeback.c.contact_id)),
                )
                .values(status=ACTIVE, left_at=None, **self.membership_fields())
            )
        return count

    def join_events(self, contact_id):
        return select(
            *self.event_head(contact_id, EventType.LIST_JOIN, literal(self.list_id)),
            literal(_action_data(self.job_id), JsonDocument),
        )

    def give_consent(self, consent_id: int, lang: str | None) -> int:
        """Records the consent for every applied contact that has no valid one of the same
        type, revision and language (a nightly refresh adds none); returns how many."""
        consent = consent_store.find_consent_type(self.conn, self.account_id, consent_id)
        if consent is None:
            raise NotFound(f"consent {consent_id} not found")
        language = (lang or "").upper()
        named = self.matched_contacts()
        given = member_consents
        has_it = (
            select(1)
            .where(
                given.c.account_id == self.account_id,
                given.c.contact_id == named.c.contact_id,
                given.c.consent_type_id == consent_id,
                given.c.revision == consent.revision,
                func.upper(given.c.lang) == language,
                given.c.revoked_at.is_(None),
            )
            .exists()
        )
        data = {"consent_id": consent_id, "revision": consent.revision, "lang": language}
        count = self.append_events(
            select(
                *self.event_head(named.c.contact_id, EventType.CONSENT_GIVEN, null()),
                literal(data, JsonDocument),
            ).where(~has_it)
        )
        if count:
            columns = ["account_id", "contact_id", "consent_type_id", "revision", "lang"]
            columns += ["source", "source_data", "given_at"]
            self.conn.execute(
                insert(given).from_select(
                    columns,
                    select(
                        literal(self.account_id),
                        named.c.contact_id,
                        literal(consent_id),
                        literal(consent.revision),
                        literal(language),
                        literal(ORIGIN),
                        literal(self.reason),
                        self.now,
                    ).where(~has_it),
                )
            )
        return count

    # Expressions that differ by dialect

    def event_head(self, contact_id, type_: EventType, list_id) -> tuple:
        return (literal(self.account_id), contact_id, literal(type_.value), self.now, list_id)

    def append_events(self, query, *writes) -> int:
        """Inserts the selected events; writes are data-modifying WITHs the query reads."""
        statement = insert(events).from_select(_EVENT_COLUMNS, query)
        if writes:
            statement = statement.add_cte(*writes)
        return _inserted(self.conn, statement)

    def json_object(self, **documents) -> ColumnElement:
        """The import's event data (origin, reason) with JSON documents under their keys."""
        if self.is_postgresql:
            pairs = [cast(literal("origin"), Text), cast(literal(ORIGIN), Text)]
            pairs += [cast(literal("reason"), Text), cast(literal(self.reason), Text)]
            for key, document in documents.items():
                pairs += [cast(literal(key), Text), document]
            return func.jsonb_build_object(*pairs, type_=JSONB)
        pairs = [literal("origin"), literal(ORIGIN), literal("reason"), literal(self.reason)]
        for key, document in documents.items():
            pairs += [literal(key), func.json(document)]
        return func.json_object(*pairs, type_=JsonDocument)

    def adds_values(self, current, given) -> ColumnElement:
        """True when the given values are not all among the current ones already."""
        if self.is_postgresql:
            return ~current.op("@>", return_type=Boolean)(given)
        return func.json(current) != func.json_patch(current, given)

    def merged(self, current, given) -> ColumnElement:
        if self.is_postgresql:
            return current.op("||", return_type=JSONB)(given)
        return func.json_patch(current, given)


def _inserted(conn: Connection, statement) -> int:
    """Runs an INSERT ... SELECT and returns how many rows it wrote (SQLAlchemy keeps an
    INSERT's row count only when asked)."""
    return conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def _is_refused(staged) -> ColumnElement:
    return (
        select(1)
        .where(
            import_rejections.c.job_id == staged.c.job_id,
            import_rejections.c.line == staged.c.line,
        )
        .exists()
    )


def _action_data(job_id: int) -> dict:
    """The data of an import's list-join and list-quit events, as the memberships service
    writes them for an administrator's action."""
    return {"admin": True, "reason": str(job_id), "origin": ORIGIN}


# At the end

_COUNT_FIELDS = {
    LogSection.DUPLICATE: "duplicates",
    LogSection.EMPTY: "empty",
    LogSection.REJECTED: "rejected",
    LogSection.UNSUBSCRIBED: "unsubscribed",
    LogSection.DELETED: "deleted",
    LogSection.DOMAIN_REJECTED: "domain_rejected",
    LogSection.MEMBER_LIMIT: "member_limit_exceeded",
}


def import_counts(conn: Connection, job_id: int) -> ImportCounts:
    """The log's figures of refused lines, by section; the caller adds source lines, new and
    updated (from its merge outcomes)."""
    rows = conn.execute(
        select(import_rejections.c.section, func.count())
        .where(import_rejections.c.job_id == job_id)
        .group_by(import_rejections.c.section)
    )
    counts = ImportCounts()
    for section, count in rows:
        setattr(counts, _COUNT_FIELDS[LogSection(section)], count)
    return counts


def rejections(conn: Connection, job_id: int, *, page: int = CHUNK) -> Iterator[RejectedLine]:
    """The refused lines in line order, read a page at a time (keyset, so any connection
    mode can stream them)."""
    after = 0
    while True:
        rows = conn.execute(
            select(import_rejections)
            .where(import_rejections.c.job_id == job_id, import_rejections.c.line > after)
            .order_by(import_rejections.c.line)
            .limit(page)
        ).all()
        for row in rows:
            yield RejectedLine(row.line, LogSection(row.section), row.reason, row.value)
        if len(rows) < page:
            return
        after = rows[-1].line


def drop_staging(conn: Connection, job_id: int) -> None:
    """Deletes the job's staged rows; its rejections stay for the log."""
    conn.execute(delete(import_staging).where(import_staging.c.job_id == job_id))
