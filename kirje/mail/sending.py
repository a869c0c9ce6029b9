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
import multiprocessing
import secrets
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kirje.domain.deliveries import DeliveryState, RecipientState
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.properties import PropertyType
from kirje.domain.tracking_links import TrackingLinks
from kirje.mail.dkim import DkimKey, sign
from kirje.mail.mime import OutgoingMessage, ascii_address, build_message
from kirje.mail.previews import compile_sent_message
from kirje.mail.rendering import MessageTemplate, recipient_values, render
from kirje.mail.transports import (
    Envelope,
    Outcome,
    SmtpPool,
    SmtpSettings,
    Status,
    Transport,
    transport_for,
)
from kirje.mail.web_view import link_values
from kirje.services.mail_tracking import hand_to_automations
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import dkim_keys as dkim_store
from kirje.store import events as event_store
from kirje.store import messages as message_store
from kirje.store.statistics import STALE_ROWS, refresh_statistics

if TYPE_CHECKING:
    from kirje.jobs.context import JobContext

# The SMTP connections are shared out between this many lanes (kirje.mail.sending._Lane).
LANES = 2
# A temporary refusal is tried again after the first wait (settings), then twice as long each
# time, at most this long.
LONGEST_RETRY = timedelta(hours=1)
# While only retries are left, the job looks again at most this often (and beats its heart).
RETRY_POLL_SECONDS = 5.0
# Rows claimed per transaction, in waves: fewer claims, and still few rows to release when a
# run dies (claimed rows were never handed over).
CLAIMED_WAVES = 8
# A delivery with more rows than this to send builds its messages in processes (settings).
PROCESSES_FROM = 2_000


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
        values = {**values, **link_values(self.template, links, account, delivery, contact_id)}
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


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A claimed ledger row with what its message is rendered from."""

    contact_id: int
    email: str
    # The contact's property values under the row's own; None: it may no longer be mailed.
    properties: dict[str, str] | None
    attempts: int


@dataclass(frozen=True, slots=True)
class _Built:
    contact_id: int
    email: str
    data: bytes
    attempts: int


def _build_messages(
    composer: Composer, rows: list[_Claimed], now: datetime
) -> tuple[list[_Built], dict[int, str]]:
    """The messages of the rows, and the rows that cannot be built (a value that breaks a
    header, say) with the reason. Runs in a builder thread or process: no database here."""
    built, failed = [], {}
    for row in rows:
        if row.properties is None:
            # Unsubscribed, bounced, banned or erased since the audience was expanded.
            failed[row.contact_id] = "not sent: the contact may no longer be mailed"
            continue
        values = recipient_values(row.email, None, row.properties)
        try:
            data = composer.compose(row.contact_id, row.email, values, now)
        except (ValueError, Invalid) as error:
            failed[row.contact_id] = f"not sent: {error}"
            continue
        built.append(_Built(row.contact_id, row.email, data, row.attempts))
    return built, failed


# The delivery's composer in a build process, given once when the process starts.
_adopted: Composer | None = None


def _adopt(composer: Composer) -> None:
    global _adopted
    _adopted = composer


def _build_adopted(rows: list[_Claimed], now: datetime) -> tuple[list[_Built], dict[int, str]]:
    assert _adopted is not None
    return _build_messages(_adopted, rows, now)


class _Builders:
    """Builds waves beside the event loop that sends them. A large delivery gets processes: in
    threads, the rendering's Python held the GIL against the SMTP connections and made each
    wave wait for it. A small one (a transactional mail, a test) gets threads, which cost no
    start-up; OpenSSL's RSA runs outside the GIL there."""

    def __init__(self, composer: Composer, processes: int) -> None:
        self.composer = composer
        self.workers = max(processes, 2)
        # A daemonic process (a job worker under a process manager that makes them so) may
        # not start processes: threads there.
        self.in_processes = processes > 0 and not multiprocessing.current_process().daemon
        self.executor: Executor = (
            ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_adopt,
                initargs=(composer,),
            )
            if self.in_processes
            else ThreadPoolExecutor(self.workers, "kirje-build")
        )

    def submit(self, rows: list[_Claimed], now: datetime) -> Future:
        if self.in_processes:
            return self.executor.submit(_build_adopted, rows, now)
        return self.executor.submit(_build_messages, self.composer, rows, now)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class _Wave:
    """A wave being built by the builders."""

    def __init__(self, parts: list[Future]) -> None:
        self.parts = parts

    async def result(self) -> tuple[list[_Built], dict[int, str]]:
        built: list[_Built] = []
        failed: dict[int, str] = {}
        for part in self.parts:
            messages, refused = await asyncio.wrap_future(part)
            built.extend(messages)
            failed.update(refused)
        return built, failed


@dataclass(frozen=True, slots=True)
class _AnsweredWave:
    messages: list[_Built]
    # By index into messages; a missing one was never answered.
    outcomes: dict[int, Outcome]


class _Lane:
    """A share of the delivery's SMTP connections, sending wave after wave, a wave being one
    message per connection. The next wave is built (by the builders) and claimed while the
    current one is on the wire, and one transaction both records a wave's outcomes and marks
    the next wave in flight: so a lane never has more than one wave in flight, and the lanes
    together no more messages than the connections. The database work runs in a thread, so
    that the other lane's connections go on while this lane waits for its commit."""

    def __init__(
        self, run: DeliveryRun, composer: Composer, builders: _Builders, transport: Transport
    ) -> None:
        self.run = run
        self.composer = composer
        self.builders = builders
        self.transport = transport
        self.wave = transport.concurrency
        self.claimed: list[_Claimed] = []

    async def send(self) -> None:
        run = self.run
        answered: _AnsweredWave | None = None
        upcoming = await self._prepare()
        while True:
            if upcoming is None:
                if answered is not None:
                    await asyncio.to_thread(run.record, answered)
                    answered = None
                if not await asyncio.to_thread(run.has_retries_left):
                    return
                await asyncio.sleep(min(RETRY_POLL_SECONDS, run.first_retry.total_seconds()))
                upcoming = await self._prepare()
                continue
            # The last wave's outcomes wait for the next wave's build (built meanwhile, mostly
            # done): one commit for both halves the commits, which bound a lane's pace.
            built, failed = await upcoming.result()
            in_flight = await asyncio.to_thread(run.commit_wave, answered, built, failed)
            # Rows cancelled meanwhile were not marked: they are not sent.
            wave = [message for message in built if message.contact_id in in_flight]
            sending = asyncio.create_task(self._send_wave(wave))
            upcoming = await self._prepare()
            answered = await sending

    async def _send_wave(self, wave: list[_Built]) -> _AnsweredWave:
        outcomes: dict[int, Outcome] = {}
        envelopes = [
            (Envelope(self.composer.return_path(m.contact_id), (m.email,)), m.data) for m in wave
        ]
        await self.transport.send_many(envelopes, outcomes.__setitem__)
        return _AnsweredWave(wave, outcomes)

    async def _prepare(self) -> _Wave | None:
        """The lane's next wave, being built; None when no row is due now."""
        if not self.claimed:
            self.claimed = await asyncio.to_thread(self.run.claim, self.wave * CLAIMED_WAVES)
        if not self.claimed:
            return None
        rows, self.claimed = self.claimed[: self.wave], self.claimed[self.wave :]
        now = self.run.ctx.system.clock()
        size = -(-len(rows) // self.builders.workers)
        parts = [rows[start : start + size] for start in range(0, len(rows), size)]
        return _Wave([self.builders.submit(part, now) for part in parts])


async def _all(coroutines) -> None:
    await asyncio.gather(*coroutines)


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
        self.attempts = settings.send_attempts
        self.first_retry = timedelta(seconds=settings.send_first_retry_seconds)
        # Rows with a final outcome (sent, failed, unknown), for the job's progress; the
        # lanes' threads add to it.
        self.recorded = 0
        self._counting = threading.Lock()
        # Rows without a final outcome when the run started.
        self.left = 0

    def run(self) -> dict[str, int]:
        delivery = self._start()
        try:
            composer = self._composer(delivery)
        except (Invalid, NotFound):
            # Nothing can be sent (no sender address, the draft is gone): the delivery says so.
            with self.ctx.db.transaction() as conn:
                delivery_store.set_state_unless_cancelled(
                    conn,
                    self.account_id,
                    self.delivery_id,
                    DeliveryState.FAILED,
                    self.ctx.system.clock(),
                )
            raise
        with self.ctx.db.transaction() as conn:
            delivery_store.record_links(
                conn, delivery, composer.template.links, self.ctx.system.clock()
            )
        settings = self.ctx.system.settings
        processes = settings.send_build_processes if self.left > PROCESSES_FROM else 0
        builders = _Builders(composer, processes)
        transports = self._transports()
        lanes = [_Lane(self, composer, builders, transport) for transport in transports]
        try:
            with asyncio.Runner() as runner:
                try:
                    runner.run(_all(lane.send() for lane in lanes))
                finally:
                    runner.run(_all(transport.close() for transport in transports))
        finally:
            builders.close()
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
            delivery_store.set_state_unless_cancelled(
                conn,
                self.account_id,
                self.delivery_id,
                DeliveryState.SENDING,
                clock(),
                started_at=delivery.started_at or clock(),
            )
            counts = delivery_store.ledger_counts(conn, self.delivery_id)
            self.left = counts.pending + counts.claimed + counts.sending
            self.recorded = counts.total - self.left
            self.ctx.commit_progress(conn, done=self.recorded, total=counts.total)
        if self.left > STALE_ROWS:
            # The ledger rows were written just now, in bulk: without fresh statistics the
            # planner takes the ledger for small and claims by scanning it.
            with self.ctx.db.transaction() as conn:
                refresh_statistics(conn, ("delivery_recipients",), always=("delivery_recipients",))
        return delivery

    def _finish(self) -> dict[str, int]:
        now = self.ctx.system.clock()
        with self.ctx.db.transaction() as conn:
            counts = delivery_store.ledger_counts(conn, self.delivery_id)
            delivery_store.set_state_unless_cancelled(
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
        template = compile_sent_message(message, delivery.overrides)
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

    # The waves

    def _transports(self) -> list[Transport]:
        """The lanes' transports: the SMTP connections shared out (and the rate with them), or
        the one outbox."""
        settings = self.ctx.system.settings
        if not settings.smtp_url:
            return [transport_for(None, settings.data_dir)]
        smtp = SmtpSettings.from_url(settings.smtp_url)
        lanes = LANES if smtp.concurrency >= LANES else 1
        shares = [smtp.concurrency // lanes + (n < smtp.concurrency % lanes) for n in range(lanes)]
        rate = smtp.rate_per_second
        return [
            SmtpPool(
                replace(
                    smtp,
                    concurrency=share,
                    rate_per_second=rate * share / smtp.concurrency if rate else None,
                )
            )
            for share in shares
        ]

    def _count(self, recorded: int) -> None:
        with self._counting:
            self.recorded += recorded

    def claim(self, size: int) -> list[_Claimed]:
        """Claims the next few waves at once (a claimed row is not in doubt after a crash: it
        goes back to pending), with the values each message is rendered from."""
        with self.ctx.db.transaction() as conn:
            rows = delivery_store.claim_batch(
                conn, self.delivery_id, self.tag, size, self.ctx.system.clock()
            )
            # Fenced: a run that lost the job claims nothing more.
            self.ctx.commit_progress(conn, done=self.recorded)
        if not rows:
            return []
        with self.ctx.db.reading() as conn:
            properties = contact_store.properties_of(
                conn, self.account_id, [row.contact_id for row in rows], only_mailable=True
            )
        return [
            _Claimed(
                row.contact_id,
                row.email,
                None
                if row.contact_id not in properties
                else {**properties[row.contact_id], **(row.properties or {})},
                row.attempts,
            )
            for row in rows
        ]

    def commit_wave(
        self, answered: _AnsweredWave | None, built: list[_Built], failed: dict[int, str]
    ) -> set[int]:
        """One transaction: the outcomes of the lane's last wave, the rows of the next that
        cannot be built, and the next wave marked in flight. Returns the rows so marked."""
        sent_events: tuple[list[int], list[dict]] = ([], [])
        with self.ctx.db.transaction() as conn:
            if answered is not None:
                sent_events = self._record_in(conn, answered)
            now = self.ctx.system.clock()
            for contact_id, reason in failed.items():
                delivery_store.mark(
                    conn, self.delivery_id, [contact_id], RecipientState.FAILED, now, reply=reason
                )
            self._count(len(failed))
            in_flight = delivery_store.mark_in_flight(
                conn, self.delivery_id, [message.contact_id for message in built], self.tag
            )
        hand_to_automations(self.ctx.system.triggers, *sent_events)
        return in_flight

    def record(self, answered: _AnsweredWave) -> None:
        with self.ctx.db.transaction() as conn:
            sent_events = self._record_in(conn, answered)
        hand_to_automations(self.ctx.system.triggers, *sent_events)

    def _record_in(self, conn, answered: _AnsweredWave) -> tuple[list[int], list[dict]]:
        """Writes every outcome of a wave, with a mailsent event per message sent (returned,
        with their ids). Not fenced: what the SMTP server answered is a fact whoever holds the
        job now."""
        now = self.ctx.system.clock()
        sent: list[int] = []
        for index, message in enumerate(answered.messages):
            outcome = answered.outcomes.get(
                index, Outcome(Status.UNKNOWN, text="no outcome reported")
            )
            state, values = self._after(outcome, message.attempts + 1, now)
            if state is RecipientState.SENT:
                sent.append(message.contact_id)
                continue
            delivery_store.mark(conn, self.delivery_id, [message.contact_id], state, now, **values)
            self._count(state is not RecipientState.PENDING)
        delivery_store.mark_sent(conn, self.delivery_id, sent, now)
        self._count(len(sent))
        data = {"delivery": self.delivery_id}
        rows = [
            event_store.event_row(
                self.account_id,
                contact_id,
                EventType.MAIL_SENT,
                now,
                data=data,
                delivery_id=self.delivery_id,
            )
            for contact_id in sent
        ]
        # By COPY on PostgreSQL; the ids are for the automation trigger point, after the commit.
        return event_store.append_returning_ids(conn, rows), rows

    def has_retries_left(self) -> bool:
        """Whether rows are still pending (temporary failures not due yet)."""
        with self.ctx.db.reading() as conn:
            counts = delivery_store.ledger_counts(conn, self.delivery_id)
        if counts.pending == 0:
            return False
        self.ctx.heartbeat()
        return True

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
