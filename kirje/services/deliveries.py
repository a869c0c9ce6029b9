"""Deliveries of one account: a message sent to lists and/or given recipients.

Creating a delivery is one transaction: the given recipients become contacts (found by
address, or created), the delivery row is written, and its audience is expanded into one
ledger row per recipient in one statement. A job then sends it: see kirje.mail.sending.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from kirje.domain.contacts import quick_normalized_email
from kirje.domain.deliveries import (
    RESENDS_UNKNOWN,
    Delivery,
    DeliveryKind,
    DeliveryState,
    GivenRecipient,
    LedgerCounts,
    Letter,
)
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.jobs import JobKind
from kirje.domain.privacy import Channel
from kirje.services.base import AccountScope
from kirje.services.jobs import Jobs
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import lists as list_store
from kirje.store import messages as message_store
from kirje.store import privacy as privacy_store

MAX_GIVEN_RECIPIENTS = 10_000


class Deliveries:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def send(
        self,
        kind: DeliveryKind,
        letter: Letter,
        *,
        list_ids: Sequence[int] = (),
        recipients: Sequence[GivenRecipient] = (),
    ) -> Delivery:
        """Records the delivery with its whole audience and queues the job that sends it."""
        if not list_ids and not recipients:
            raise Invalid("give lists, recipients or both")
        if len(recipients) > MAX_GIVEN_RECIPIENTS:
            raise Invalid(f"at most {MAX_GIVEN_RECIPIENTS} recipients per request")
        account_id, now = self.scope.account_id, self.scope.clock()
        with self.scope.db.transaction() as conn:
            if message_store.find_message(conn, account_id, letter.draft_id) is None:
                raise NotFound(f"draft {letter.draft_id} not found")
            audiences = [
                list_store.member_ids(account_id, self._list(conn, list_id)) for list_id in list_ids
            ]
            given = self._given_contacts(conn, recipients)
            delivery_id = delivery_store.insert_delivery(
                conn,
                account_id=account_id,
                now=now,
                message_id=letter.draft_id,
                kind=kind,
                state=DeliveryState.QUEUED,
                overrides=letter.overrides(),
                list_ids=list(list_ids),
                recipients_reset=letter.recipients_reset,
                resends_unknown=RESENDS_UNKNOWN.get(kind, False),
            )
            delivery = delivery_store.find_delivery(conn, account_id, delivery_id)
            assert delivery is not None
            delivery_store.expand_audience(conn, account_id, delivery, audiences, given)
        job = Jobs(self.scope).submit(JobKind.DELIVERY, {"delivery_id": delivery_id})
        with self.scope.db.transaction() as conn:
            delivery_store.set_state(
                conn, account_id, delivery_id, DeliveryState.QUEUED, now, job_id=job.id
            )
        return self.get(delivery_id)

    def get(self, delivery_id: int) -> Delivery:
        with self.scope.db.reading() as conn:
            delivery = delivery_store.find_delivery(conn, self.scope.account_id, delivery_id)
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return delivery

    def counts(self, delivery_id: int) -> LedgerCounts:
        self.get(delivery_id)
        with self.scope.db.reading() as conn:
            return delivery_store.ledger_counts(conn, delivery_id)

    def _list(self, conn: Connection, list_id: int):
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
