"""Sending one delivery: the job that works through its ledger.

It takes waves of pending recipients (as many as the transport has connections), renders
and builds each message, signs it when the sending domain has a DKIM key, marks the wave as
in flight, hands it to the transport and records every outcome as soon as the SMTP server
answers. So a worker killed at any moment leaves in doubt only the messages that were in
flight then: never more than the transport's concurrency. A later run of the job (another
worker, after the lease) puts the rows a dead run had claimed but not handed over back to
pending, and marks the ones in flight unknown, or pending again when the delivery resends
what is in doubt (transactional mail).

A large delivery is sent by share processes, each doing all of that for its own rows under a
tag of its own, with its share of the connections (DeliveryRun._send_in_processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import random
import sys
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from kirje.domain.deliveries import DeliveryState, RecipientState
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.jobs import Claim, Job, JobLost
from kirje.domain.properties import PropertyType
from kirje.domain.tracking_links import TrackingLinks
from kirje.jobs.context import JobContext
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
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import dkim_keys as dkim_store
from kirje.store import messages as message_store
from kirje.store.statistics import STALE_ROWS, refresh_statistics

logger = logging.getLogger(__name__)

# A temporary refusal is tried again after the first wait (settings), then twice as long each
# time, at most this long.
LONGEST_RETRY = timedelta(hours=1)
# While only retries are left, the job looks again at most this often (and beats its heart).
RETRY_POLL_SECONDS = 5.0
# Rows claimed per transaction, in waves: fewer claims, and still few rows to release when a
# run dies (claimed rows were never handed over).
CLAIMED_WAVES = 32


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
                html=rendered.html_part,
                text=rendered.text,
                message_id=self.message_id(contact_id),
                return_path=self.return_path(contact_id),
                feedback_id=f"{self.delivery_id}:{self.account_id}:kirje",
                # None unless the public URL is https: one-click unsubscribe requires it.
                list_unsubscribe_url=links.list_unsubscribe(account, delivery, contact_id),
                date=now,
            )
        )
        return sign(message, self.dkim) if self.dkim is not None else message

    def message_id(self, contact_id: int) -> str:
        # Unique, not secret: delivery and contact name the message, the random part tells
        # a resend from the first try.
        token = random.getrandbits(48)
        return f"<d{self.delivery_id}.c{contact_id}.{token:012x}@{self.sending_domain}>"

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


def _build(composer: Composer, row: _Claimed, now: datetime) -> _Built | str:
    """The row's message, or why it cannot be built (a value that breaks a header, say)."""
    if row.properties is None:
        # Unsubscribed, bounced, banned or erased since the audience was expanded.
        return "not sent: the contact may no longer be mailed"
    values = recipient_values(row.email, None, row.properties)
    try:
        data = composer.compose(row.contact_id, row.email, values, now)
    except (ValueError, Invalid) as error:
        return f"not sent: {error}"
    return _Built(row.contact_id, row.email, data, row.attempts)


@dataclass(frozen=True, slots=True)
class _AnsweredWave:
    messages: list[_Built]
    # By index into messages; a missing one was never answered.
    outcomes: dict[int, Outcome]


class _Lane:
    """The SMTP connections of a share, sending wave after wave, a wave being one message per
    connection. The next wave is claimed and built while the current one is on the wire, and
    one transaction both records a wave's outcomes and marks the next wave in flight: so a
    lane never has more messages in flight than connections.

    Everything runs on the event loop. Messages are built one at a time with the loop let run
    in between, so the replies of the wave on the wire are read while the next is built. The
    database calls block the loop for their round trips; a large delivery has share processes
    to fill that time. (In threads, both cost more than they saved: a build thread held the
    GIL against the loop, so each socket call waited for it, and the hand-offs to a database
    thread and back took about a third of a share's CPU.)"""

    def __init__(self, run: _Share, composer: Composer, transport: Transport) -> None:
        self.run = run
        self.composer = composer
        self.transport = transport
        self.wave = transport.concurrency
        self.claimed: list[_Claimed] = []

    async def send(self) -> None:
        run = self.run
        answered: _AnsweredWave | None = None
        upcoming = await self._next_wave()
        while True:
            if upcoming is None:
                if answered is not None:
                    await run.record(answered)
                    answered = None
                if not run.has_retries_left():
                    return
                await asyncio.sleep(min(RETRY_POLL_SECONDS, run.first_retry.total_seconds()))
                upcoming = await self._next_wave()
                continue
            # The last wave's outcomes wait for the next wave's build: one commit for both
            # halves the commits, which bound a lane's pace. The wave after is built while
            # this one is committed and sent.
            sending = asyncio.create_task(self._commit_and_send(answered, *upcoming))
            upcoming = await self._next_wave()
            answered = await sending

    async def _commit_and_send(
        self, answered: _AnsweredWave | None, built: list[_Built], failed: dict[int, str]
    ) -> _AnsweredWave:
        in_flight = await self.run.commit_wave(answered, built, failed)
        # Rows cancelled meanwhile were not marked: they are not sent.
        return await self._send_wave([m for m in built if m.contact_id in in_flight])

    async def _send_wave(self, wave: list[_Built]) -> _AnsweredWave:
        outcomes: dict[int, Outcome] = {}
        envelopes = [
            (Envelope(self.composer.return_path(m.contact_id), (m.email,)), m.data) for m in wave
        ]
        await self.transport.send_many(envelopes, outcomes.__setitem__)
        return _AnsweredWave(wave, outcomes)

    async def _next_wave(self) -> tuple[list[_Built], dict[int, str]] | None:
        """The lane's next wave, built, with the rows that cannot be; None when no row is due."""
        if not self.claimed:
            self.claimed = self.run.claim(self.wave * CLAIMED_WAVES)
        if not self.claimed:
            return None
        rows, self.claimed = self.claimed[: self.wave], self.claimed[self.wave :]
        now = self.run.ctx.system.clock()
        built: list[_Built] = []
        failed: dict[int, str] = {}
        for row in rows:
            # The wave on the wire goes on between two messages.
            await asyncio.sleep(0)
            message = _build(self.composer, row, now)
            if isinstance(message, str):
                failed[row.contact_id] = message
            else:
                built.append(message)
        return built, failed


def run_delivery(ctx: JobContext) -> dict[str, int]:
    return DeliveryRun(ctx).run()


class DeliveryRun:
    """The delivery job: it readies the ledger, sends (in share processes when the delivery is
    large), then closes the delivery."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.account_id = ctx.job.account_id
        self.delivery_id = int((ctx.job.payload or {})["delivery_id"])
        # Which run holds a row: a later run of the job tells a dead run's rows by this.
        self.tag = f"{ctx.claim.worker}#{ctx.claim.attempts}"[:90]
        # Rows with a final outcome (sent, failed, unknown) and rows without one, at the start.
        self.recorded = 0
        self.left = 0

    def run(self) -> dict[str, int]:
        delivery = self._start()
        composer = self._composer_or_fail(delivery)
        with self.ctx.db.transaction() as conn:
            delivery_store.record_links(
                conn, delivery, composer.template.links, self.ctx.system.clock()
            )
        smtp = self._smtp()
        settings = self.ctx.system.settings
        processes = settings.send_processes if self.left > settings.send_processes_from else 1
        if processes > 1 and not multiprocessing.current_process().daemon:
            # (A daemonic process, a job worker under a process manager that makes them so,
            # may not start processes: it sends the whole delivery itself.)
            self._send_in_processes(composer, smtp, processes)
            # What a share that died left (rows it held) and what is still to be retried.
            with self.ctx.db.transaction() as conn:
                self._release_rows_of_others(conn, delivery.resends_unknown)
        _Share(self.ctx, self.tag, composer, smtp, recorded=self.recorded).send()
        return self._finish()

    # Before and after

    def _start(self):
        clock = self.ctx.system.clock
        with self.ctx.db.transaction() as conn:
            delivery = delivery_store.find_delivery(conn, self.account_id, self.delivery_id)
            if delivery is None:
                raise NotFound(f"delivery {self.delivery_id} not found")
            self._release_rows_of_others(conn, delivery.resends_unknown)
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
            # planner takes the ledger for small and claims by scanning it. The contacts too,
            # if they changed by half since their last statistics (loaded in bulk, autovacuum
            # off or late): each claim reads the claimed contacts' properties, and a planner
            # that takes an account for small reads all of its contacts to find them.
            with self.ctx.db.transaction() as conn:
                refresh_statistics(
                    conn, ("contacts", "delivery_recipients"), always=("delivery_recipients",)
                )
        return delivery

    def _release_rows_of_others(self, conn, resends_unknown: bool) -> None:
        """Rows held by anyone but this run (a dead run, a share process of this run that has
        ended): claimed ones go back to pending, ones in flight become unknown (or pending)."""
        delivery_store.release_abandoned(
            conn,
            self.delivery_id,
            lambda holder: holder == self.tag,
            resend_unknown=resends_unknown,
        )

    def _finish(self) -> dict[str, int]:
        now = self.ctx.system.clock()
        with self.ctx.db.transaction() as conn:
            counts = delivery_store.ledger_counts(conn, self.delivery_id)
            delivery_store.set_state_unless_cancelled(
                conn, self.account_id, self.delivery_id, DeliveryState.DONE, now, finished_at=now
            )
            self.ctx.commit_progress(conn, done=counts.total, total=counts.total)
        return {"sent": counts.sent, "failed": counts.failed, "unknown": counts.unknown}

    def _composer_or_fail(self, delivery) -> Composer:
        try:
            return self._composer(delivery)
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

    def _smtp(self) -> SmtpSettings | None:
        """The SMTP connections to send over; None: the local outbox."""
        url = self.ctx.system.settings.smtp_url
        return SmtpSettings.from_url(url) if url else None

    # Share processes

    def _send_in_processes(self, composer: Composer, smtp: SmtpSettings | None, count: int) -> None:
        """Sends in `count` processes, each claiming, building, sending and recording a share
        of the rows under a tag of its own, with a share of the SMTP connections. One process
        builds and signs, drives its connections and writes its ledger rows: nothing crosses
        between processes but the ledger, and every core is used. This process meanwhile
        reports the job's progress, which keeps its hold on the job.

        A share that dies leaves its rows to this run (DeliveryRun.run releases them). If this
        process dies, the shares die with it (_die_with_parent), as one process would have."""
        context = _share_processes()
        # Never written: a share sees the end of it when this process ends, however it ends.
        lifeline, held = context.Pipe(duplex=False)
        connections = _shared_out(smtp, count) if smtp else [None] * count
        orders = [
            _ShareOrder(
                self.ctx.system.settings,
                self.ctx.job,
                self.ctx.claim,
                f"{self.tag}/{number}",
                composer,
                share,
                lifeline,
            )
            for number, share in enumerate(connections, start=1)
        ]
        processes = [
            context.Process(target=_send_share, args=(order,), name=f"kirje-send-{order.tag}")
            for order in orders
        ]
        for process in processes:
            process.start()
        lifeline.close()
        try:
            self._report_progress_until_done(processes)
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
                process.join()
            held.close()
        if any(process.exitcode == _LOST for process in processes):
            raise JobLost(f"job {self.ctx.job.id} was taken from this worker")
        for process in processes:
            if process.exitcode:
                logger.warning(
                    "send process %s ended with exit code %s; its rows are sent from here",
                    process.name,
                    process.exitcode,
                )

    def _report_progress_until_done(self, processes: list[multiprocessing.process.BaseProcess]):
        running = [process.sentinel for process in processes]
        while running:
            ended = multiprocessing.connection.wait(running, timeout=PROGRESS_SECONDS)
            running = [sentinel for sentinel in running if sentinel not in ended]
            with self.ctx.db.transaction() as conn:
                counts = delivery_store.ledger_counts(conn, self.delivery_id)
                done = counts.total - counts.pending - counts.claimed - counts.sending
                self.ctx.commit_progress(conn, done=done)
            self.recorded = done


# A share process that found the job taken from its worker ends with this code.
_LOST = 3
# How often the job's progress is counted while share processes send.
PROGRESS_SECONDS = 2.0


@dataclass(frozen=True)
class _ShareOrder:
    """What a share process is given (pickled): enough to open the database and send."""

    settings: Settings
    job: Job
    claim: Claim
    tag: str
    composer: Composer
    smtp: SmtpSettings | None
    # The reading end of a pipe the job's process holds open (_die_with_parent).
    lifeline: multiprocessing.connection.Connection


def _share_processes() -> multiprocessing.context.BaseContext:
    """Share processes are forked by a fork server that has imported Kirje once (started with
    the first large delivery of this process): a process spawned afresh spends about 1.5 s of
    CPU importing it. Forking the job's own process instead would copy its threads' locks and
    its database connections."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _send_share(order: _ShareOrder) -> None:
    """The body of a share process."""
    _die_with_parent(order.lifeline)
    system = System.open(order.settings, pool_size=4)
    try:
        ctx = JobContext(order.job, system.for_account(order.job.account_id), system, order.claim)
        _Share(ctx, order.tag, order.composer, order.smtp, reports_progress=False).send()
    except JobLost:
        sys.exit(_LOST)
    finally:
        system.close()


def _die_with_parent(lifeline: multiprocessing.connection.Connection) -> None:
    """Ends this process as soon as the job's process ends, so that a worker killed
    mid-delivery takes its share processes with it (as one process would have gone, leaving
    in doubt only what was in flight). The parent-death signal of Linux would not do: the
    parent of a share is the fork server, which outlives the worker while shares live."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(_ORPHANED)

    threading.Thread(target=watch, name="kirje-lifeline", daemon=True).start()


# A share process whose job's process ended ends with this code.
_ORPHANED = 4


def _shared_out(smtp: SmtpSettings, parts: int) -> list[SmtpSettings]:
    """The connections (and the rate with them) shared out into at most `parts` parts."""
    parts = max(1, min(parts, smtp.concurrency))
    total, rate = smtp.concurrency, smtp.rate_per_second
    shares = [total // parts + (n < total % parts) for n in range(parts)]
    return [
        replace(smtp, concurrency=share, rate_per_second=rate * share / total if rate else None)
        for share in shares
    ]


class _Share:
    """One process's share of a delivery: a lane that claims rows under the share's tag,
    builds and sends them, and records every outcome. The job's own process runs one (the
    whole delivery when it is small; what is left after the share processes when it is
    large)."""

    def __init__(
        self,
        ctx: JobContext,
        tag: str,
        composer: Composer,
        smtp: SmtpSettings | None,
        *,
        recorded: int = 0,
        reports_progress: bool = True,
    ) -> None:
        self.ctx = ctx
        self.tag = tag
        self.composer = composer
        self.smtp = smtp
        self.delivery_id = composer.delivery_id
        self.account_id = composer.account_id
        settings = ctx.system.settings
        self.attempts = settings.send_attempts
        self.first_retry = timedelta(seconds=settings.send_first_retry_seconds)
        # Rows with a final outcome, for the job's progress.
        self.recorded = recorded
        self.reports_progress = reports_progress
        # Where the next claim starts (delivery_store.claim_batch).
        self.claimed_up_to = 0

    def send(self) -> None:
        transport = (
            SmtpPool(self.smtp)
            if self.smtp
            else transport_for(None, self.ctx.system.settings.data_dir)
        )
        lane = _Lane(self, self.composer, transport)
        with asyncio.Runner() as runner:
            try:
                runner.run(lane.send())
            finally:
                runner.run(transport.close())

    def claim(self, size: int) -> list[_Claimed]:
        """Claims the next few waves at once (a claimed row is not in doubt after a crash: it
        goes back to pending), with the values each message is rendered from."""
        with self.ctx.db.transaction() as conn:
            now = self.ctx.system.clock()
            rows = delivery_store.claim_batch(
                conn, self.delivery_id, self.tag, size, now, after=self.claimed_up_to
            )
            if not rows and self.claimed_up_to:
                # The pass reached the end: from the start again, for retries now due and
                # rows a dead share left.
                self.claimed_up_to = 0
                rows = delivery_store.claim_batch(conn, self.delivery_id, self.tag, size, now)
            if rows:
                self.claimed_up_to = max(row.contact_id for row in rows)
            # Fenced: a run that lost the job claims nothing more.
            if self.reports_progress:
                self.ctx.commit_progress(conn, done=self.recorded)
            else:
                self.ctx.fence(conn)
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

    async def commit_wave(
        self, answered: _AnsweredWave | None, built: list[_Built], failed: dict[int, str]
    ) -> set[int]:
        """One transaction: the outcomes of the lane's last wave, the rows of the next that
        cannot be built, and the next wave marked in flight. Returns the rows so marked.
        Not fenced: what the SMTP server answered is a fact whoever holds the job now, and a
        run that lost the job finds its rows released (none marked in flight).

        The statements run on the event loop; the commit, which waits for the disk, in a
        thread, while the loop builds the next wave."""
        with self.ctx.db.committed_by_caller() as (conn, commit):
            now = self.ctx.system.clock()
            sent = self._record_refusals(conn, answered, now) if answered else []
            for contact_id, reason in failed.items():
                delivery_store.mark(
                    conn, self.delivery_id, [contact_id], RecipientState.FAILED, now, reply=reason
                )
            next_wave = [message.contact_id for message in built]
            wave = delivery_store.record_wave(
                conn, self.account_id, self.delivery_id, sent, next_wave, self.tag, now
            )
            await asyncio.to_thread(commit)
        self.recorded += len(failed) + len(sent)
        self._hand_to_automations(wave.sent_events, now)
        return wave.in_flight

    async def record(self, answered: _AnsweredWave) -> None:
        await self.commit_wave(answered, [], {})

    def _record_refusals(self, conn, answered: _AnsweredWave, now: datetime) -> list[int]:
        """Writes the outcomes of a wave that are not `sent` (rare: each its own statement),
        and returns the rows the server took."""
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
            self.recorded += state is not RecipientState.PENDING
        return sent

    def _hand_to_automations(self, sent_events: list[tuple[int, int]], now: datetime) -> None:
        """The mailsent events, after their commit, to the automation trigger point. (In a
        share process that is the trigger point of that process's System.)"""
        triggers = self.ctx.system.triggers
        if not sent_events or not triggers.are_listened_to:
            return
        rows = [
            delivery_store.sent_event_row(self.account_id, self.delivery_id, contact_id, now)
            for _, contact_id in sent_events
        ]
        hand_to_automations(triggers, [id_ for id_, _ in sent_events], rows)

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
