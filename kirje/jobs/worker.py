"""A job worker process: a Huey consumer whose threads run jobs, and a sweeper beside it."""

from __future__ import annotations

import logging
import threading

from kirje.jobs import kinds, recovery
from kirje.jobs.queue import HueyJobQueue
from kirje.jobs.runner import JobRunner, worker_name
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store import jobs as job_store

log = logging.getLogger(__name__)

# An idle consumer polls SQLite at most this far apart (PostgreSQL and Redis block instead).
IDLE_POLL_SECONDS = 1.0


def run_worker(threads: int = 2, settings: Settings | None = None) -> None:
    """Runs jobs until SIGTERM (stop now) or SIGINT (finish the running jobs first).

    Jobs this worker still holds when it stops go back to the queue, without counting
    as an attempt; a job left by a worker that died is found by another worker's sweep.
    """
    _configure_logging()
    settings = settings or Settings()
    system = System.open(settings, pool_size=threads + 2)
    queue = system.job_queue
    name = worker_name()
    queue.runner = JobRunner(system, name).run
    kinds.load_kinds()
    stopping = threading.Event()
    sweeper = threading.Thread(
        target=_sweep_until, args=(system, queue, stopping), name="sweeper", daemon=True
    )
    sweeper.start()
    consumer = queue.huey.create_consumer(
        workers=threads, periodic=False, max_delay=IDLE_POLL_SECONDS
    )
    log.info("job worker %s: %s threads on %s", name, threads, queue.backend)
    try:
        consumer.run()
    finally:
        stopping.set()
        _release(system, queue, name)
        system.close()


def _sweep_until(system: System, queue: HueyJobQueue, stopping: threading.Event) -> None:
    """Sweeps at once (jobs left by a dead worker wait no longer), then every few seconds."""
    while True:
        try:
            recovery.sweep(system, queue, pending=queue.pending_job_ids())
        except Exception:
            log.exception("job sweep failed; trying again")
        if stopping.wait(system.settings.job_sweep_seconds):
            return


def _release(system: System, queue: HueyJobQueue, name: str) -> None:
    try:
        with system.db.transaction() as conn:
            released = job_store.release_jobs(conn, name, system.clock())
        for job_id in released:
            queue.enqueue(job_id)
    except Exception:
        log.exception("could not release this worker's jobs; the sweep will take them up")
        return
    if released:
        log.info("jobs %s given back to the queue", released)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    # Huey logs every task it executes; the runner already logs each job.
    logging.getLogger("huey").setLevel(logging.WARNING)
