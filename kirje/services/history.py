"""What happened to recipients, from the event store: history, consent updates, statistics.

History is read straight from the event store, so an "update" has nothing to rebuild: it is
recorded as a job (clients poll for it) whose work counts the events there are to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import Event, EventType
from kirje.domain.history import (
    MAX_PAGE,
    MAX_STATS_CONTACTS,
    ConsentUpdates,
    Subscription,
    Unsubscription,
)
from kirje.domain.jobs import Job, JobKind
from kirje.services.base import AccountScope
from kirje.services.jobs import Jobs
from kirje.store import contacts as contact_store
from kirje.store import history as history_store

# Statistics a caller may ask for, and the event each one counts.
STAT_EVENTS: dict[str, str] = {
    "opens": EventType.MAIL_OPEN.value,
    "clicks": EventType.MAIL_LINK.value,
}
EVENT_TYPES = frozenset(member.value for member in EventType)


class History:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
        self._jobs = Jobs(scope)

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    def contact_history(
        self,
        contact_id: int,
        *,
        types: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Event]:
        """The contact's events, newest first; deleted contacts keep their history."""
        _check_page(limit, offset)
        unknown = sorted(set(types or []) - EVENT_TYPES)
        if unknown:
            raise Invalid(f"unknown event types: {', '.join(unknown)}")
        with self.scope.db.reading() as conn:
            self._check_contact(conn, contact_id)
            return history_store.contact_history(
                conn, self._account_id, contact_id, types=types, limit=limit, offset=offset
            )

    def update_contact_history(self, contact_id: int) -> Job:
        with self.scope.db.reading() as conn:
            self._check_contact(conn, contact_id)
        return self._jobs.run_now(
            JobKind.MEMBER_HISTORY_UPDATE,
            lambda: self._count_events(contact_id),
            subject_id=contact_id,
        )

    def request_update(self, contact_id: int | None = None) -> Job:
        """An update of one contact's history, or of every contact's when none is named."""
        if contact_id is not None:
            return self.update_contact_history(contact_id)
        return self._jobs.run_now(JobKind.MEMBER_HISTORY_UPDATE, lambda: self._count_events(None))

    def is_update_pending(self, contact_id: int) -> bool:
        """Whether the contact's latest history update is still queued or running."""
        with self.scope.db.reading() as conn:
            self._check_contact(conn, contact_id)
        latest = self._jobs.latest(JobKind.MEMBER_HISTORY_UPDATE, contact_id)
        return latest is not None and not latest.is_finished

    def consent_updates(
        self,
        since: datetime,
        *,
        consent_id: int | None = None,
        is_given: bool | None = None,
        lang: str | None = None,
        offset: int = 0,
        limit: int = MAX_PAGE,
    ) -> ConsentUpdates:
        """Consents given (is_given True) or revoked (False), or both, since the moment."""
        _check_page(limit, offset)
        types = [
            event.value
            for event, given in (
                (EventType.CONSENT_GIVEN, True),
                (EventType.CONSENT_REVOKED, False),
            )
            if is_given is None or is_given == given
        ]
        with self.scope.db.reading() as conn:
            return history_store.consent_updates(
                conn,
                self._account_id,
                since,
                consent_id=consent_id,
                types=types,
                lang=lang,
                limit=limit,
                offset=offset,
            )

    def unsubscriptions(self, since: datetime | None = None) -> list[Unsubscription]:
        with self.scope.db.reading() as conn:
            return history_store.list_unsubscriptions(conn, self._account_id, since)

    def subscriptions(self, since: datetime | None = None) -> list[Subscription]:
        """Lists joined by the contacts themselves (not by an admin), since a moment."""
        with self.scope.db.reading() as conn:
            return history_store.list_subscriptions(conn, self._account_id, since)

    def mail_stats(
        self, contact_ids: Sequence[int], stats: Sequence[str] | None = None
    ) -> dict[int, dict[str, int]]:
        """Per contact, how many of each statistic (opens, clicks) the event store holds."""
        wanted = list(dict.fromkeys(stats or STAT_EVENTS))
        unknown = [name for name in wanted if name not in STAT_EVENTS]
        if unknown:
            raise Invalid(f"unknown values: {', '.join(unknown)} (allowed: opens, clicks)")
        ids = list(dict.fromkeys(contact_ids))
        if len(ids) > MAX_STATS_CONTACTS:
            raise Invalid(f"at most {MAX_STATS_CONTACTS} recipient ids at once")
        with self.scope.db.reading() as conn:
            found = contact_store.existing_ids(conn, self._account_id, ids)
            missing = [cid for cid in ids if cid not in found]
            if missing:
                raise NotFound(f"recipients not found: {', '.join(map(str, missing))}")
            counts = history_store.event_counts(
                conn, self._account_id, ids, [STAT_EVENTS[name] for name in wanted]
            )
        return {
            cid: {name: counts.get((cid, STAT_EVENTS[name]), 0) for name in wanted} for cid in ids
        }

    def _count_events(self, contact_id: int | None) -> int:
        with self.scope.db.reading() as conn:
            return history_store.count_events(conn, self._account_id, contact_id)

    def _check_contact(self, conn: Connection, contact_id: int) -> None:
        if (
            contact_store.find_by_id(conn, self._account_id, contact_id, include_deleted=True)
            is None
        ):
            raise NotFound(f"recipient {contact_id} not found")


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise Invalid("offset must not be negative")
