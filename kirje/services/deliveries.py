"""Deliveries of one account: a message sent to lists and/or given recipients, at once or at
a time set ahead; cancelled, rescheduled, listed, shown on feeds, and their links' clicks.

Creating a delivery is one transaction: the given recipients become contacts (found by
address, or created) and are written to the ledger with their values for this delivery, and
the delivery row is written. Starting it is one transaction too, whether at once or when its
time comes (the job workers' sweep calls start_scheduled): the lists' members as they are
then are added to the ledger in one statement and the send job is recorded; the job is woken
once that is committed. The job itself is kirje.mail.sending.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from kirje.domain.contacts import quick_normalized_email
from kirje.domain.deliveries import (
    RESENDS_UNKNOWN,
    Delivery,
    DeliveryKind,
    DeliveryLink,
    DeliveryOverview,
    DeliveryState,
    GivenRecipient,
    LedgerCounts,
    Letter,
    TrackedMailEvent,
    feed_names,
)
from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.jobs import JobKind, JobState
from kirje.domain.lists import MailingList
from kirje.domain.privacy import Channel
from kirje.services.base import AccountScope
from kirje.services.jobs import Jobs
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import jobs as job_store
from kirje.store import lists as list_store
from kirje.store import messages as message_store
from kirje.store import privacy as privacy_store

log = logging.getLogger(__name__)

MAX_GIVEN_RECIPIENTS = 10_000
# A reschedule sends the same content again; event-send's tracking id names one sending only.
_NOT_CARRIED_OVER = ("tracking_id",)


class Deliveries:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    # Sending and scheduling

    def send(
        self,
        kind: DeliveryKind,
        letter: Letter,
        *,
        list_ids: Sequence[int] = (),
        recipients: Sequence[GivenRecipient] = (),
        scheduled_at: datetime | None = None,
    ) -> Delivery:
        """Records the delivery and starts it, or leaves it scheduled when scheduled_at is
        still to come (a time already past starts it at once)."""
        return self._create(
            kind,
            letter.draft_id,
            letter.overrides(),
            letter.recipients_reset,
            list_ids=list_ids,
            recipients=recipients,
            scheduled_at=scheduled_at,
        )

    def start_scheduled(self, delivery_id: int) -> Delivery | None:
        """Starts a scheduled delivery whose time has come; None when it is not (any more)
        scheduled and due. Several workers may call this at once: one starts it."""
        with self.scope.db.transaction() as conn:
            delivery = delivery_store.take_due(
                conn, self.scope.account_id, delivery_id, self.scope.clock()
            )
            if delivery is None:
                return None
            job_id = self._start(conn, delivery, {})
        Jobs(self.scope).wake(job_id)
        return self.get(delivery_id)

    def reschedule(
        self,
        delivery_id: int,
        list_id: int | None = None,
        *,
        scheduled_at: datetime | None = None,
        recipients_reset: bool | None = None,
    ) -> Delivery:
        """A new delivery of the same message and overrides to one list (or the original's
        lists), related to the original. Who was sent the message already is left out, as
        for any delivery, unless recipients are reset (the original's choice by default)."""
        original = self.get(delivery_id)
        list_ids = [list_id] if list_id is not None else list(original.list_ids)
        if not list_ids:
            raise Invalid(f"delivery {delivery_id} went to no list: name the list to send it to")
        kind = original.kind if original.kind is DeliveryKind.WEBPAGE else DeliveryKind.BATCH
        overrides = {
            name: value
            for name, value in original.overrides.items()
            if name not in _NOT_CARRIED_OVER
        }
        reset = original.recipients_reset if recipients_reset is None else recipients_reset
        return self._create(
            kind,
            original.message_id,
            overrides,
            reset,
            list_ids=list_ids,
            scheduled_at=scheduled_at,
            related_to=original.id,
        )

    def _create(
        self,
        kind: DeliveryKind,
        message_id: int,
        overrides: dict[str, Any],
        recipients_reset: bool,
        *,
        list_ids: Sequence[int] = (),
        recipients: Sequence[GivenRecipient] = (),
        scheduled_at: datetime | None = None,
        related_to: int | None = None,
    ) -> Delivery:
        if not list_ids and not recipients:
            raise Invalid("give lists, recipients or both")
        if len(recipients) > MAX_GIVEN_RECIPIENTS:
            raise Invalid(f"at most {MAX_GIVEN_RECIPIENTS} recipients per request")
        if scheduled_at is not None and scheduled_at.tzinfo is None:
            raise Invalid("a scheduled time needs its time zone")
        account_id, now = self.scope.account_id, self.scope.clock()
        is_later = scheduled_at is not None and scheduled_at > now
        job_id = None
        with self.scope.db.transaction() as conn:
            if message_store.find_message(conn, account_id, message_id) is None:
                raise NotFound(f"draft {message_id} not found")
            for list_id in list_ids:
                self._list(conn, list_id)
            given = self._given_contacts(conn, recipients)
            delivery_id = delivery_store.insert_delivery(
                conn,
                account_id=account_id,
                now=now,
                message_id=message_id,
                kind=kind,
                state=DeliveryState.SCHEDULED if is_later else DeliveryState.QUEUED,
                overrides=overrides,
                list_ids=list(dict.fromkeys(list_ids)),
                recipients_reset=recipients_reset,
                resends_unknown=RESENDS_UNKNOWN.get(kind, False),
                scheduled_at=scheduled_at if is_later else None,
                related_to=related_to,
            )
            delivery = delivery_store.find_delivery(conn, account_id, delivery_id)
            assert delivery is not None
            if is_later:
                # The given recipients and their values for this delivery are known now; the
                # lists' members are taken when it starts (the lists change meanwhile).
                delivery_store.expand_audience(conn, account_id, delivery, [], given)
            else:
                job_id = self._start(conn, delivery, given)
        if job_id is not None:
            Jobs(self.scope).wake(job_id)
        return self.get(delivery_id)

    def _start(self, conn: Connection, delivery: Delivery, given: Mapping[int, dict]) -> int:
        """The one way a delivery starts, now or when its time comes: its audience expanded
        into the ledger and its send job recorded, queued, in the caller's transaction.
        Returns the job to wake once that is committed."""
        account_id, now = self.scope.account_id, self.scope.clock()
        audiences = [
            list_store.member_ids(account_id, found)
            for found in self._lists_now(conn, delivery.list_ids)
        ]
        delivery_store.expand_audience(conn, account_id, delivery, audiences, given)
        job_id = job_store.insert_job(
            conn,
            account_id=account_id,
            kind=JobKind.DELIVERY,
            now=now,
            payload={"delivery_id": delivery.id},
        )
        delivery_store.set_state(
            conn, account_id, delivery.id, DeliveryState.QUEUED, now, job_id=job_id
        )
        return job_id

    def _lists_now(self, conn: Connection, list_ids: Sequence[int]) -> list[MailingList]:
        """The lists as they are now; one deleted since the delivery was made has nobody."""
        found = [
            list_store.find_list(conn, self.scope.account_id, list_id, with_counts=False)
            for list_id in list_ids
        ]
        return [mailing_list for mailing_list in found if mailing_list is not None]

    # Cancelling, deleting, hiding

    def cancel(self, delivery_id: int) -> Delivery:
        """Nobody more is mailed: a scheduled or queued delivery never sends, a sending one
        stops (who was mailed stays mailed). Cancelling a cancelled one changes nothing; a
        finished one cannot be cancelled."""
        with self.scope.db.transaction() as conn:
            delivery = self._find(conn, delivery_id)
            if delivery.state is not DeliveryState.CANCELLED and not self._cancel(
                conn, [delivery_id]
            ):
                raise _not_cancellable(delivery_id, self._find(conn, delivery_id).state)
        return self.get(delivery_id)

    def cancel_related(self, delivery_id: int) -> list[int]:
        """Cancels the delivery and the deliveries made from it, those not finished; refused
        when every one of them is finished. Returns the ones cancelled now."""
        with self.scope.db.transaction() as conn:
            delivery = self._find(conn, delivery_id)
            family = [delivery] + [
                found
                for found, _, _ in delivery_store.list_deliveries(
                    conn, self.scope.account_id, related_to=delivery_id
                )
            ]
            cancelled = self._cancel(conn, [d.id for d in family])
            if not cancelled and all(d.state is not DeliveryState.CANCELLED for d in family):
                raise _not_cancellable(delivery_id, delivery.state)
        return cancelled

    def _cancel(self, conn: Connection, delivery_ids: Sequence[int]) -> list[int]:
        account_id, now = self.scope.account_id, self.scope.clock()
        cancelled = delivery_store.cancel_deliveries(conn, account_id, delivery_ids, now)
        # Rows still to send are cancelled in the same transaction, so a send job claims none;
        # a job nobody has taken yet is closed, so none runs.
        delivery_store.cancel_unsent(conn, [d.id for d in cancelled])
        for delivery in cancelled:
            if delivery.job_id is not None:
                job_store.close_queued_job(conn, account_id, delivery.job_id, now)
        return [d.id for d in cancelled]

    def delete(self, delivery_id: int) -> None:
        """Removes the delivery, its ledger and its links (a delivery not started yet is
        cancelled first); the events of what it sent stay. Refused while it is being sent."""
        account_id = self.scope.account_id
        with self.scope.db.transaction() as conn:
            delivery = self._find(conn, delivery_id)
            running = delivery.job_id is not None and (
                job_store.job_state(conn, account_id, delivery.job_id) is JobState.RUNNING
            )
            if delivery.state is DeliveryState.SENDING or running:
                raise Conflict(
                    f"delivery {delivery_id} is being sent: cancel it, and delete it once its"
                    " sending has stopped"
                )
            self._cancel(conn, [delivery_id])
            delivery_store.delete_delivery(conn, account_id, delivery_id)

    def hide(self, delivery_id: int) -> None:
        """Hidden from the report view; still listed here, counted and tracked."""
        self._change(delivery_id, hidden=True)

    # Feeds (the RSS archives a delivery is shown on)

    def feeds(self, delivery_id: int) -> list[str]:
        return list(self.get(delivery_id).archives or [])

    def show_on_feeds(self, delivery_id: int, names: Sequence[object]) -> list[str]:
        """Adds feeds to those the delivery is shown on; returns them all."""
        chosen = feed_names(names)
        with self.scope.db.transaction() as conn:
            current = list(self._find(conn, delivery_id).archives or [])
            shown = current + [name for name in chosen if name not in current]
            self._change_in(conn, delivery_id, archives=shown)
        return shown

    def syndicate(
        self, delivery_id: int, names: Sequence[object], ingress: str | None = None
    ) -> list[str]:
        """Shows the delivery on exactly these feeds (hidden from every other), with the
        ingress its feed items carry when one is given; returns the feeds."""
        chosen = feed_names(names)
        with self.scope.db.transaction() as conn:
            delivery = self._find(conn, delivery_id)
            changes: dict[str, Any] = {"archives": chosen}
            if ingress is not None:
                changes["overrides"] = {**delivery.overrides, "ingress": ingress}
            self._change_in(conn, delivery_id, **changes)
        return chosen

    # Reading

    def get(self, delivery_id: int) -> Delivery:
        with self.scope.db.reading() as conn:
            return self._find(conn, delivery_id)

    def counts(self, delivery_id: int) -> LedgerCounts:
        self.get(delivery_id)
        with self.scope.db.reading() as conn:
            return delivery_store.ledger_counts(conn, delivery_id)

    def overviews(self, delivery_id: int | None = None) -> list[DeliveryOverview]:
        """One delivery, or every delivery of the account, oldest first."""
        found = self._overviews(delivery_id=delivery_id)
        if delivery_id is not None and not found:
            raise NotFound(f"delivery {delivery_id} not found")
        return found

    def scheduled(self) -> list[DeliveryOverview]:
        """Deliveries waiting for their time, the soonest first."""
        return self._overviews(state=DeliveryState.SCHEDULED)

    def related(self, delivery_id: int | None = None) -> list[DeliveryOverview]:
        """The deliveries made from this one (reschedules); without one, every delivery that
        was made from another."""
        if delivery_id is None:
            return self._overviews(only_related=True)
        self.get(delivery_id)
        return self._overviews(related_to=delivery_id)

    def _overviews(self, **filters: Any) -> list[DeliveryOverview]:
        with self.scope.db.reading() as conn:
            found = delivery_store.list_deliveries(conn, self.scope.account_id, **filters)
            counts = delivery_store.ledger_counts_of(
                conn, self.scope.account_id, [d.id for d, _, _ in found]
            )
        return [
            DeliveryOverview(
                delivery=delivery,
                message_name=name,
                subject=delivery.overrides.get("subject") or subject,
                counts=counts[delivery.id],
            )
            for delivery, name, subject in found
        ]

    # Links and tracking

    def links_of_delivery(self, delivery_id: int) -> list[DeliveryLink]:
        """Its message's tracked links (recorded when it starts sending), with their clicks."""
        self.get(delivery_id)
        with self.scope.db.reading() as conn:
            return delivery_store.links_with_clicks(
                conn, self.scope.account_id, delivery_id=delivery_id
            )

    def links_of_message(self, message_id: int) -> list[DeliveryLink]:
        self._message(message_id)
        with self.scope.db.reading() as conn:
            return delivery_store.links_with_clicks(
                conn, self.scope.account_id, message_id=message_id
            )

    def all_links(self) -> list[DeliveryLink]:
        with self.scope.db.reading() as conn:
            return delivery_store.links_with_clicks(conn, self.scope.account_id)

    def clicks_of_message(
        self, message_id: int, since: datetime | None = None
    ) -> list[TrackedMailEvent]:
        return self._tracked(message_id, EventType.MAIL_LINK, since)

    def opens_of_message(
        self, message_id: int, since: datetime | None = None
    ) -> list[TrackedMailEvent]:
        return self._tracked(message_id, EventType.MAIL_OPEN, since)

    def _tracked(
        self, message_id: int, kind: EventType, since: datetime | None
    ) -> list[TrackedMailEvent]:
        self._message(message_id)
        with self.scope.db.reading() as conn:
            return delivery_store.tracked_mail_events(
                conn, self.scope.account_id, message_id, kind, since
            )

    # Helpers

    def _find(self, conn: Connection, delivery_id: int) -> Delivery:
        delivery = delivery_store.find_delivery(conn, self.scope.account_id, delivery_id)
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return delivery

    def _message(self, message_id: int) -> None:
        with self.scope.db.reading() as conn:
            if message_store.find_message(conn, self.scope.account_id, message_id) is None:
                raise NotFound(f"draft {message_id} not found")

    def _change(self, delivery_id: int, **values: Any) -> None:
        with self.scope.db.transaction() as conn:
            self._change_in(conn, delivery_id, **values)

    def _change_in(self, conn: Connection, delivery_id: int, **values: Any) -> None:
        changed = delivery_store.change_delivery(
            conn, self.scope.account_id, delivery_id, self.scope.clock(), **values
        )
        if not changed:
            raise NotFound(f"delivery {delivery_id} not found")

    def _list(self, conn: Connection, list_id: int) -> MailingList:
        found = list_store.find_list(conn, self.scope.account_id, list_id, with_counts=False)
        if found is None:
            raise NotFound(f"mailing list {list_id} not found")
        return found

    def _given_contacts(
        self, conn: Connection, recipients: Sequence[GivenRecipient]
    ) -> dict[int, dict[str, str]]:
        """The contacts of the given recipients (created when new), with their properties for
        this delivery. An address erased at the person's request is left out: it is never
        mailed again, and no contact is made for it."""
        account_id, now = self.scope.account_id, self.scope.clock()
        by_address: dict[str, dict[str, str]] = {}
        for index, recipient in enumerate(recipients):
            email = quick_normalized_email(recipient.email.strip())
            if email is None:
                raise Invalid(
                    f"recipients[{index}].email: invalid email address {recipient.email!r}"
                )
            by_address[email] = {**by_address.get(email, {}), **recipient.properties}
        erased = privacy_store.suppressed_addresses(conn, account_id, Channel.EMAIL, by_address)
        given: dict[int, dict[str, str]] = {}
        for email, properties in by_address.items():
            if email in erased:
                continue
            contact = contact_store.find_by_email(conn, account_id, email, include_deleted=True)
            contact_id = (
                contact.id
                if contact is not None
                else contact_store.insert_contact(
                    conn,
                    account_id=account_id,
                    email=email,
                    sms=None,
                    properties={},
                    now=now,
                    confirmed=False,
                )
            )
            given[contact_id] = properties
        return given


def _not_cancellable(delivery_id: int, state: DeliveryState) -> Conflict:
    return Conflict(
        f"delivery {delivery_id} is {state.value}: only a scheduled, queued or sending"
        " delivery can be cancelled"
    )
