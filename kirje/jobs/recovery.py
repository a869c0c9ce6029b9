"""Takes up jobs nobody is working on (abandoned by a dead worker, or queued with a lost
message), and starts scheduled deliveries whose time has come."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import DBAPIError

from kirje.domain.jobs import JobQueue
from kirje.services.system import System
from kirje.services.uploads import sweep_uploads
from kirje.store import deliveries as delivery_store
from kirje.store import jobs as job_store
from kirje.store.statistics import refresh_high_volume_statistics

log = logging.getLogger(__name__)

# Scheduled deliveries a sweep starts at most; the next sweep (seconds later) takes the rest.
DUE_DELIVERIES_PER_SWEEP = 50


@dataclass(frozen=True)
class Sweep:
    requeued: list[int]
    failed: list[int]
    woken: list[int]
    # Scheduled deliveries this sweep started.
    started: list[int] = field(default_factory=list)


def _tend_the_event_store(system: System) -> None:
    """Coming month partitions, and fresh planner statistics for the fastest-growing tables."""
    try:
        system.prepare_event_partitions()
        with system.db.transaction() as conn:
            refreshed = refresh_high_volume_statistics(conn)
        if refreshed:
            log.info("statistics refreshed: %s", ", ".join(refreshed))
    except DBAPIError:
        # Another worker did the same at the same moment; the next sweep looks again.
        log.info("event store not tended this sweep", exc_info=True)


def _delete_ended_uploads(system: System) -> None:
    try:
        deleted = sweep_uploads(system)
    except (DBAPIError, OSError):
        log.warning("uploads not swept this time", exc_info=True)
        return
    if deleted:
        log.info("uploads %s deleted: their jobs have ended", deleted)


def start_due_deliveries(system: System) -> list[int]:
    """Starts the scheduled deliveries whose time has come (their audience expanded now, their
    send job queued). Every worker sweeps, several at once: each delivery is started by one
    of them (Deliveries.start_scheduled changes its state in one conditional UPDATE)."""
    with system.db.reading() as conn:
        due = delivery_store.due_deliveries(conn, system.clock(), DUE_DELIVERIES_PER_SWEEP)
    started = []
    for account_id, delivery_id in due:
        try:
            if system.for_account(account_id).deliveries.start_scheduled(delivery_id):
                started.append(delivery_id)
        except Exception:
            # Its transaction rolled back: it is still scheduled, and the next sweep tries again.
            log.exception("scheduled delivery %s not started this sweep", delivery_id)
    return started


def sweep(system: System, queue: JobQueue, pending: set[int] | None = None) -> Sweep:
    """One pass; any number of workers may sweep at once (each row changes in one UPDATE).

    pending: job ids whose messages wait in the queue (they need no second message).
    """
    settings = system.settings
    now = system.clock()
    stale_before = now - timedelta(seconds=settings.job_lease_seconds)
    with system.db.transaction() as conn:
        failed = job_store.fail_abandoned_jobs(conn, stale_before, settings.job_max_attempts, now)
        requeued = job_store.requeue_abandoned_jobs(conn, stale_before, now)
    waiting_before = now - timedelta(seconds=settings.job_requeue_after_seconds)
    with system.db.transaction() as conn:
        woken = job_store.refresh_waiting_jobs(conn, waiting_before, now, skip=pending or set())
    for job_id in requeued + woken:
        queue.enqueue(job_id)
    started = start_due_deliveries(system)
    _tend_the_event_store(system)
    _delete_ended_uploads(system)
    if failed:
        log.warning("jobs %s abandoned too often: failed", failed)
    if requeued:
        log.warning("jobs %s abandoned by their workers: queued again", requeued)
    if woken:
        log.info("jobs %s waited without a queue message: enqueued again", woken)
    if started:
        log.info("scheduled deliveries %s started", started)
    return Sweep(requeued=requeued, failed=failed, woken=woken, started=started)
