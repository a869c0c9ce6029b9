"""Bounces: what comes back to a delivery's VERP addresses, recorded and acted on.

Not bound to an account: a bounce arrives for the whole installation, and the ledger row its
VERP address names tells whose it is. The address is a claim of whoever sent the bounce, so it
is trusted only when that row exists and was sent to the very address the bounce reports:
without knowing a contact's address, a forged bounce cannot suppress them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection

from kirje.domain.deliveries import RecipientState
from kirje.domain.events import EventType
from kirje.mail.bounces import Failure, parse_bounce
from kirje.mail.mime import ascii_address
from kirje.services.automation_triggers import AutomationTriggers
from kirje.services.base import Clock, utc_now
from kirje.services.mail_tracking import hand_to_automations
from kirje.store import bounces as bounce_store
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import events as event_store
from kirje.store.database import Database


class BounceOutcome(StrEnum):
    HARD = "hard"  # recorded; the contact is not mailed again
    SOFT = "soft"  # recorded only
    DUPLICATE = "duplicate"  # recorded before: the same bounce again, or a second warning
    # A bounce, but not for one of our mails: no VERP address, no such ledger row, or the
    # row was sent to another address than the one the bounce reports.
    UNMATCHED = "unmatched"
    NOT_A_BOUNCE = "not-a-bounce"


@dataclass(frozen=True)
class TakenBounce:
    outcome: BounceOutcome
    delivery_id: int | None = None
    contact_id: int | None = None
    failure: Failure | None = None


class Bounces:
    def __init__(
        self,
        db: Database,
        clock: Clock = utc_now,
        triggers: AutomationTriggers | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        # Where each mailbounce event goes once committed, as every other mail event does.
        self.triggers = triggers

    def take(self, raw: bytes, envelope_recipients: Sequence[str] | None = None) -> TakenBounce:
        """Records one bounce message: a mailbounce event for the contact, and for a hard
        bounce the contact marked bounced (so no later delivery mails it) and its ledger row
        failed. A delivery and contact are recorded once per kind of bounce, so the same
        bounce taken twice, or a mailbox-full warning sent again, is recorded once."""
        bounce = parse_bounce(raw, envelope_recipients)
        if bounce is None:
            return TakenBounce(BounceOutcome.NOT_A_BOUNCE)
        delivery_id, contact_id = bounce.delivery_id, bounce.contact_id
        if delivery_id is None or contact_id is None:
            return TakenBounce(BounceOutcome.UNMATCHED)
        with self.db.transaction() as conn:
            row = bounce_store.find_bounced_recipient(conn, delivery_id, contact_id)
            failure = None if row is None else bounce.failure_of(_as_reported(row.email))
            if row is None or failure is None:
                return TakenBounce(BounceOutcome.UNMATCHED, delivery_id, contact_id)
            kind = BounceOutcome.HARD if failure.is_hard else BounceOutcome.SOFT
            if bounce_store.bounce_recorded(conn, row.account_id, contact_id, delivery_id, kind):
                return TakenBounce(BounceOutcome.DUPLICATE, delivery_id, contact_id, failure)
            recorded = self._record(conn, row.account_id, delivery_id, contact_id, failure, kind)
        if self.triggers is not None:
            hand_to_automations(self.triggers, *recorded)
        return TakenBounce(kind, delivery_id, contact_id, failure)

    def _record(
        self,
        conn: Connection,
        account_id: int,
        delivery_id: int,
        contact_id: int,
        failure: Failure,
        kind: BounceOutcome,
    ) -> tuple[list[int], list[dict]]:
        """Writes the bounce; returns its event's id and row, for the trigger point."""
        now = self.clock()
        data = {
            "delivery": delivery_id,
            "kind": kind.value,
            "status": failure.status,
            "diagnostic": failure.diagnostic,
        }
        rows = [
            event_store.event_row(
                account_id,
                contact_id,
                EventType.MAIL_BOUNCE,
                now,
                data=data,
                delivery_id=delivery_id,
            )
        ]
        ids = event_store.append_returning_ids(conn, rows)
        if kind is BounceOutcome.HARD:
            _suppress(conn, account_id, contact_id, now)
            reply = f"bounce: {failure.diagnostic or failure.status or 'permanent failure'}"
            delivery_store.mark(
                conn, delivery_id, [contact_id], RecipientState.FAILED, now, reply=reply
            )
        return ids, rows


def _suppress(conn: Connection, account_id: int, contact_id: int, now: datetime) -> None:
    """Marks the contact bounced; the first bounce's time stays."""
    contact = contact_store.find_by_id(conn, account_id, contact_id, include_deleted=True)
    if contact is not None and contact.bounced_at is None:
        contact_store.update_contact(conn, account_id, contact_id, now, bounced_at=now)


def _as_reported(email: str) -> str:
    """The ledger's address as a bounce report writes it: the domain in ASCII, lower case."""
    try:
        return ascii_address(email).lower()
    except ValueError:
        return email.lower()
