"""Event imports of one account: identities resolved to contacts, events stored, one handle.

One request is one transaction: the identities' contacts are found, created, completed or
merged, the events are appended with the import's job row, and all of it commits before the
caller gets the handle, so a search made right after sees the events. Stored events then go
to the automation trigger point, unless the import says to skip automations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kirje.domain.errors import Invalid
from kirje.domain.event_imports import ArrivedEvent, EventImport, EventImportResult
from kirje.domain.events import EventType
from kirje.domain.identities import (
    Identity,
    IdentityKind,
    IdentityPlan,
    KnownIdentifiers,
    plan_identities,
)
from kirje.domain.jobs import JobKind, JobState
from kirje.domain.privacy import Channel as AddressChannel
from kirje.domain.privacy import address_hash
from kirje.services.base import AccountScope
from kirje.services.channels import Channels
from kirje.store import channels as channel_store
from kirje.store import events as event_store
from kirje.store import identities as identity_store
from kirje.store import jobs as job_store
from kirje.store.privacy import suppressed_hashes

ORIGIN = "automation-import"


class EventImports:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def run(self, request: EventImport, *, with_handle: bool = True) -> EventImportResult:
        """Stores the import; with_handle False writes no job row (a tracked page view is
        an import nobody asks about afterwards)."""
        channel_id = Channels(self.scope).id_named(request.channel)
        try:
            result, arrived = self._store(request, channel_id, with_handle)
        except IntegrityError:
            # Another import created one of the same people at the same moment: the second
            # attempt finds them.
            result, arrived = self._store(request, channel_id, with_handle)
        if not request.skip_automations:
            self.scope.triggers.events_arrived(self.scope.account_id, arrived)
        return result

    def _store(
        self, request: EventImport, channel_id: int, with_handle: bool
    ) -> tuple[EventImportResult, list[ArrivedEvent]]:
        account_id = self.scope.account_id
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            identities = self._unforgotten(conn, [entry.identity for entry in request.entries])
            known = self._known(conn, identities)
            plan = plan_identities([identity for identity in identities if identity], known)
            resolved, history = self._apply(conn, plan, known, channel_id)
            job_id = self._open_job(conn, channel_id) if with_handle else None
            rows = self._event_rows(request, identities, resolved, channel_id, job_id)
            stored = (
                self._without_duplicates(conn, channel_id, rows) if request.no_duplicates else rows
            )
            ids = event_store.append_returning_ids(conn, history + stored)[len(history) :]
            channel_store.count_verbs(
                conn, account_id, channel_id, Counter(row["type"] for row in stored)
            )
            result = EventImportResult(
                job_id=job_id,
                events=len(stored),
                duplicates=len(rows) - len(stored),
                contacts_created=len(plan.new_contacts),
                contacts_merged=len(plan.merges),
                skipped_identities=sum(identity is None for identity in identities),
            )
            if job_id is not None:
                self._close_job(conn, job_id, result, len(rows))
        if not self.scope.triggers.are_listened_to:
            return result, []
        arrived = [
            ArrivedEvent(id_, row["contact_id"], channel_id, row["type"], row["data"], now)
            for id_, row in zip(ids, stored, strict=True)
        ]
        return result, arrived

    def _event_rows(
        self,
        request: EventImport,
        identities: list[Identity | None],
        resolved: list[int],
        channel_id: int,
        job_id: int | None,
    ) -> list[dict]:
        contact_ids = iter(resolved)
        now = self.scope.clock()
        rows = []
        for entry, identity in zip(request.entries, identities, strict=True):
            if identity is None:
                continue
            contact_id = next(contact_ids)
            rows += [
                event_store.event_row(
                    self.scope.account_id,
                    contact_id,
                    event.verb,
                    now,
                    data=event.items,
                    channel_id=channel_id,
                    job_id=job_id,
                )
                for event in entry.events
            ]
        return rows

    def _open_job(self, conn: Connection, channel_id: int) -> int:
        return job_store.insert_job(
            conn,
            account_id=self.scope.account_id,
            kind=JobKind.EVENT_IMPORT,
            now=self.scope.clock(),
            subject_id=channel_id,
            state=JobState.RUNNING,
        )

    def _close_job(
        self, conn: Connection, job_id: int, result: EventImportResult, given: int
    ) -> None:
        now = self.scope.clock()
        job_store.update_job(
            conn,
            self.scope.account_id,
            job_id,
            now,
            state=JobState.DONE,
            result=result.as_dict(),
            progress_done=result.events,
            progress_total=given,
            finished_at=now,
        )

    def _without_duplicates(
        self, conn: Connection, channel_id: int, rows: list[dict]
    ) -> list[dict]:
        """The rows but those identical to a stored event or to an earlier row: same contact,
        channel, verb and items. One query for the batch."""
        seen = event_store.stored_event_keys(
            conn,
            self.scope.account_id,
            channel_id,
            {row["contact_id"] for row in rows},
            {row["type"] for row in rows},
        )
        kept = []
        for row in rows:
            key = (row["contact_id"], row["type"], event_store.canonical_json(row["data"]))
            if key not in seen:
                seen.add(key)
                kept.append(row)
        return kept

    def _unforgotten(self, conn: Connection, identities: list[Identity]) -> list[Identity | None]:
        """The identities without addresses erased at the person's request; None where
        nothing else is left to name the person by."""
        suppressed: dict[str, set[str]] = {}
        for field, channel in (("email", AddressChannel.EMAIL), ("sms", AddressChannel.SMS)):
            addresses = {getattr(i, field) for i in identities if getattr(i, field)}
            hashes = {address_hash(self.scope.account_id, channel, a): a for a in addresses}
            found = suppressed_hashes(conn, self.scope.account_id, channel, hashes)
            suppressed[field] = {hashes[h] for h in found}
        kept: list[Identity | None] = []
        for identity in identities:
            cleaned = identity
            for field, erased in suppressed.items():
                if getattr(identity, field) in erased:
                    cleaned = replace(cleaned, **{field: None})
            kept.append(None if cleaned.is_empty else cleaned)
        return kept

    def _known(self, conn: Connection, identities: list[Identity | None]) -> KnownIdentifiers:
        account_id = self.scope.account_id
        given = [identity for identity in identities if identity is not None]
        ids = {identity.id for identity in given if identity.id is not None}
        by_id = identity_store.held_by_id(conn, account_id, ids)
        missing = sorted(ids - set(by_id))
        if missing:
            raise Invalid(f"identity id {missing[0]} names no contact")
        links = identity_store.linked_contacts(
            conn, account_id, [pair for identity in given for pair in identity.linked()]
        )
        linked_held = identity_store.held_by_id(conn, account_id, set(links.values()))
        return KnownIdentifiers(
            by_id=by_id,
            by_email=identity_store.held_by_address(
                conn, account_id, IdentityKind.EMAIL, {i.email for i in given if i.email}
            ),
            by_sms=identity_store.held_by_address(
                conn, account_id, IdentityKind.SMS, {i.sms for i in given if i.sms}
            ),
            by_link={
                key: linked_held[contact_id]
                for key, contact_id in links.items()
                if contact_id in linked_held
            },
        )

    def _apply(
        self, conn: Connection, plan: IdentityPlan, known: KnownIdentifiers, channel_id: int
    ) -> tuple[list[int], list[dict]]:
        """Writes the plan; returns the contact id of each planned identity, in order, and
        the created and merged events to append with the import's own."""
        account_id = self.scope.account_id
        now = self.scope.clock()
        refs = sorted(plan.new_contacts, reverse=True)  # -1, -2, ...: first seen first
        new_ids = identity_store.insert_contacts(
            conn, account_id, [plan.new_contacts[ref] for ref in refs], now
        )
        real = dict(zip(refs, new_ids, strict=True))

        def contact(ref: int) -> int:
            return real.get(ref, ref)

        for merged, keeper in plan.merges:
            identity_store.merge_contact(conn, account_id, merged=merged, keeper=keeper, now=now)
        for contact_id, (email, sms) in plan.addresses.items():
            identity_store.give_addresses(
                conn, account_id, contact_id, email=email, sms=sms, now=now
            )
        identity_store.link_identifiers(
            conn,
            account_id,
            {key: contact(ref) for key, ref in plan.links.items()},
            {key: held.contact_id for key, held in known.by_link.items()},
            now,
        )
        data = {"origin": ORIGIN, "channel": channel_id}
        history = [
            event_store.event_row(account_id, contact_id, EventType.CREATED, now, data=data)
            for contact_id in new_ids
        ]
        history += [
            event_store.event_row(
                account_id, keeper, EventType.MERGED, now, data={**data, "merged": merged}
            )
            for merged, keeper in plan.merges
        ]
        return [contact(ref) for ref in plan.contacts], history
