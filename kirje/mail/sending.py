"""Sending one delivery: the job that works through its ledger.

It takes waves of pending recipients (as many as the transport has connections), renders
and builds each message, signs it when the sending domain has a DKIM key, marks the wave as
in flight, hands it to the transport and records every outcome as soon as the SMTP server
answers. So a worker killed at any moment leaves in doubt only the messages that were in
flight then: never more than the transport's concurrency. A later run of the job (another
worker, after the lease) puts the rows a dead run had claimed but not handed over back to
pending, and marks the ones in flight unknown, or pending again when the delivery resends
what is in doubt (transactional mail).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kirje.domain.deliveries import DeliveryState, RecipientState
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.properties import PropertyType
from kirje.domain.tracking_links import TrackingLinks
from kirje.mail.dkim import DkimKey, sign
from kirje.mail.mime import OutgoingMessage, ascii_address, build_message
from kirje.mail.rendering import MessageTemplate, recipient_values, render
from kirje.mail.transports import Envelope, Outcome, SmtpSettings, Status, transport_for
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import dkim_keys as dkim_store
from kirje.store import events as event_store
from kirje.store import messages as message_store

if TYPE_CHECKING:
    from kirje.jobs.context import JobContext

# Connections of the local outbox: it writes files, a few at a time are plenty.
OUTBOX_CONCURRENCY = 8
# A temporary refusal is tried again after the first wait (settings), then twice as long each
# time, at most this long.
LONGEST_RETRY = timedelta(hours=1)
# While only retries are left, the job looks again at most this often (and beats its heart).
RETRY_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Composer:
    """What every message of the delivery shares, prepared once."""

    template: MessageTemplate
    raw_names: frozenset[str]
    from_address: str
    from_name: str
    reply_to: str | None
    sending_domain: str
    delivery_id: int
    account_id: int
    dkim: DkimKey | None
    # Signed open-pixel, click and unsubscribe links (kirje.web.mail_tracking answers them).
    links: TrackingLinks

    def compose(self, contact_id: int, email: str, values: dict[str, Any], now: datetime) -> bytes:
        account, delivery, links = self.account_id, self.delivery_id, self.links
        rendered = render(
            self.template,
            values,
            raw_names=self.raw_names,
            link_rewriter=lambda index, url: links.click(account, delivery, contact_id, index, url),
            open_pixel_url=links.open_pixel(account, delivery, contact_id),
        )
        message = build_message(
            OutgoingMessage(
                from_address=self.from_address,
                from_name=self.from_name,
                to_address=email,
                reply_to=self.reply_to,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                message_id=f"<d{self.delivery_id}.c{contact_id}.{secrets.token_hex(6)}@{self.sending_domain}>",
                return_path=self.return_path(contact_id),
                feedback_id=f"{self.delivery_id}:{self.account_id}:kirje",
                # None unless the public URL is https: one-click unsubscribe requires it.
                list_unsubscribe_url=links.list_unsubscribe(account, delivery, contact_id),
                date=now,
            )
        )
        return sign(message, self.dkim) if self.dkim is not None else message

    def return_path(self, contact_id: int) -> str:
        """The per-recipient VERP address bounces come back to."""
        return f"bounces+d{self.delivery_id}.c{contact_id}@{self.sending_domain}"


def run_delivery(ctx: JobContext) -> dict[str, int]:
    return DeliveryRun(ctx).run()


class DeliveryRun:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.account_id = ctx.job.account_id
        self.delivery_id = int((ctx.job.payload or {})["delivery_id"])
        # Which run holds a row: a later run of the job tells a dead run's rows by this.
        self.tag = f"{ctx.claim.worker}#{ctx.claim.attempts}"[:100]
        settings = ctx.system.settings
        self.wave = (
            SmtpSettings.from_url(settings.smtp_url).concurrency
            if settings.smtp_url
            else OUTBOX_CONCURRENCY
        )
        self.attempts = settings.send_attempts
        self.first_retry = timedelta(seconds=settings.send_first_retry_seconds)
        # Rows with a final outcome (sent, failed, unknown), for the job's progress.
        self.recorded = 0

    def run(self) -> dict[str, int]:
        delivery = self._start()
        composer = self._composer(delivery)
        with self.ctx.db.transaction() as conn:
            delivery_store.record_links(
                conn, delivery, composer.template.links, self.ctx.system.clock()
            )
        loop = asyncio.new_event_loop()
        transport = transport_for(
            self.ctx.system.settings.smtp_url, self.ctx.system.settings.data_dir
        )
        try:
            while self._send_wave(composer, transport, loop):
                pass
        finally:
            loop.run_until_complete(transport.close())
            loop.close()
        return self._finish()

    # Before and after

    def _start(self):
        clock = self.ctx.system.clock
        with self.ctx.db.transaction() as conn:
            delivery = delivery_store.find_delivery(conn, self.account_id, self.delivery_id)
            if delivery is None:
                raise NotFound(f"delivery {self.delivery_id} not found")
            delivery_store.release_abandoned(
                conn,
                self.delivery_id,
                lambda holder: holder == self.tag,
                resend_unknown=delivery.resends_unknown,
            )
            delivery_store.set_state(
                conn,
                self.account_id,
                self.delivery_id,
                DeliveryState.SENDING,
                clock(),
                started_at=delivery.started_at or clock(),
            )
            counts = delivery_store.ledger_counts(conn, self.delivery_id)
            self.recorded = counts.sent + counts.failed + counts.unknown
            self.ctx.commit_progress(conn, done=self.recorded, total=counts.total)
        return delivery

    def _finish(self) -> dict[str, int]:
        now = self.ctx.system.clock()
        with self.ctx.db.transaction() as conn:
            counts = delivery_store.ledger_counts(conn, self.delivery_id)
            delivery_store.set_state(
                conn, self.account_id, self.delivery_id, DeliveryState.DONE, now, finished_at=now
            )
            self.ctx.commit_progress(conn, done=counts.total, total=counts.total)
        return {"sent": counts.sent, "failed": counts.failed, "unknown": counts.unknown}

    def _composer(self, delivery) -> Composer:
        with self.ctx.db.reading() as conn:
            message = message_store.find_message(conn, self.account_id, delivery.message_id)
            if message is None:
                raise NotFound(f"draft {delivery.message_id} not found")
            sender = message.from_email or self.ctx.services.settings.marketing().sender_email
            if not sender:
                raise Invalid("the draft has no sender address and the account sets none")
            # DKIM and VERP need the domain in ASCII (IDNA A-labels).
            domain = ascii_address(sender).rpartition("@")[2]
            sealed = dkim_store.find_sealed_key(conn, self.account_id, domain)
        box = self.ctx.system.accounts.secret_box
        dkim = None if sealed is None else DkimKey(domain, sealed.selector, box.open(sealed[1]))
        overrides = delivery.overrides
        template = MessageTemplate.compile(
            overrides.get("subject", message.subject),
            overrides.get("html", message.html),
            None if "html" in overrides else message.text,
            message.preheader or None,
        )
        raw_names = frozenset(
            p.name for p in self.ctx.services.properties.all() if p.type == PropertyType.RAW
        )
        return Composer(
            template=template,
            raw_names=raw_names,
            from_address=sender,
            from_name=message.from_name,
            reply_to=message.reply_to,
            sending_domain=domain,
            delivery_id=self.delivery_id,
            account_id=self.account_id,
            dkim=dkim,
            links=self.ctx.system.tracking_links,
        )

    # One wave

    def _send_wave(self, composer: Composer, transport, loop: asyncio.AbstractEventLoop) -> bool:
        """Sends the next wave; False when nothing is left to send now or later."""
        clock = self.ctx.system.clock
        with self.ctx.db.transaction() as conn:
            claimed = delivery_store.claim_batch(
                conn, self.delivery_id, self.tag, self.wave, clock()
            )
            # Fenced: a run that lost the job claims nothing more.
            self.ctx.commit_progress(conn, done=self.recorded)
        if not claimed:
            with self.ctx.db.reading() as conn:
                counts = delivery_store.ledger_counts(conn, self.delivery_id)
            if counts.pending == 0:
                return False
            # Only retries that are not due yet are left.
            self.ctx.heartbeat()
            time.sleep(min(RETRY_POLL_SECONDS, self.first_retry.total_seconds()))
            return True
        built, failed = self._build(composer, claimed)
        with self.ctx.db.transaction() as conn:
            delivery_store.mark(
                conn, self.delivery_id, [c for c, _, _ in built], RecipientState.SENDING, clock()
            )
            self._record_failures(conn, failed)
        outcomes: dict[int, Outcome] = {}
        messages = [(Envelope(composer.return_path(c), (email,)), data) for c, email, data in built]
        loop.run_until_complete(
            transport.send_many(
                messages, lambda index, outcome: outcomes.__setitem__(index, outcome)
            )
        )
        self._record(built, claimed, outcomes)
        return True

    def _build(
        self, composer: Composer, claimed: list
    ) -> tuple[list[tuple[int, str, bytes]], dict[int, str]]:
        """(contact, email, message bytes) for each claimed row, and the rows that cannot be
        built (a value that breaks a header, say) with the reason."""
        now = self.ctx.system.clock()
        with self.ctx.db.reading() as conn:
            properties = contact_store.properties_of(
                conn, self.account_id, [row.contact_id for row in claimed], only_mailable=True
            )
        built, failed = [], {}
        for row in claimed:
            if row.contact_id not in properties:
                # Unsubscribed, bounced, banned or erased since the audience was expanded.
                failed[row.contact_id] = "not sent: the contact may no longer be mailed"
                continue
            values = recipient_values(
                row.email, None, {**properties.get(row.contact_id, {}), **(row.properties or {})}
            )
            try:
                data = composer.compose(row.contact_id, row.email, values, now)
            except (ValueError, Invalid) as error:
                failed[row.contact_id] = f"not sent: {error}"
                continue
            built.append((row.contact_id, row.email, data))
        return built, failed

    def _record_failures(self, conn, failed: dict[int, str]) -> None:
        for contact_id, reason in failed.items():
            delivery_store.mark(
                conn,
                self.delivery_id,
                [contact_id],
                RecipientState.FAILED,
                self.ctx.system.clock(),
                reply=reason,
            )

    def _record(self, built: list, claimed: list, outcomes: dict[int, Outcome]) -> None:
        """Writes every outcome of the wave, with a mailsent event per message sent. Not
        fenced: what the SMTP server answered is a fact whoever holds the job now."""
        now = self.ctx.system.clock()
        attempts = {row.contact_id: row.attempts for row in claimed}
        sent: list[int] = []
        with self.ctx.db.transaction() as conn:
            for index, (contact_id, _, _) in enumerate(built):
                outcome = outcomes.get(index, Outcome(Status.UNKNOWN, text="no outcome reported"))
                state, values = self._after(outcome, attempts[contact_id] + 1, now)
                if state is RecipientState.SENT:
                    sent.append(contact_id)
                    continue
                delivery_store.mark(conn, self.delivery_id, [contact_id], state, now, **values)
                self.recorded += state is not RecipientState.PENDING
            delivery_store.mark(
                conn, self.delivery_id, sent, RecipientState.SENT, now, sent_at=now, reply=None
            )
            self.recorded += len(sent)
            data = {"delivery": self.delivery_id}
            event_store.append_events(
                conn,
                [
                    event_store.event_row(
                        self.account_id,
                        c,
                        EventType.MAIL_SENT,
                        now,
                        data=data,
                        delivery_id=self.delivery_id,
                    )
                    for c in sent
                ],
            )

    def _after(self, outcome: Outcome, attempt: int, now: datetime) -> tuple[RecipientState, dict]:
        reply = f"{outcome.code} {outcome.text}".strip() if outcome.code else outcome.text
        if outcome.status is Status.SENT:
            return RecipientState.SENT, {}
        if outcome.status is Status.PERMANENT_FAILURE:
            return RecipientState.FAILED, {"reply": reply, "attempts": attempt}
        if outcome.status is Status.UNKNOWN:
            return RecipientState.UNKNOWN, {"reply": reply, "attempts": attempt}
        if attempt >= self.attempts:
            return RecipientState.FAILED, {"reply": reply, "attempts": attempt}
        wait = min(self.first_retry * 2 ** (attempt - 1), LONGEST_RETRY)
        values = {"reply": reply, "attempts": attempt, "next_attempt_at": now + wait}
        return RecipientState.PENDING, {**values, "claimed_by": None}
