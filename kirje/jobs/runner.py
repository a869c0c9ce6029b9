"""Runs one job for a worker: claim the queued row, run its handler, record the outcome."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kirje.domain.errors import KirjeError
from kirje.domain.jobs import Claim, Job, JobLost, JobResult, JobState
from kirje.jobs import kinds
from kirje.jobs.context import JobContext
from kirje.services.system import System
from kirje.store import jobs as job_store

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, system: System, worker: str) -> None:
        self.system = system
        self.worker = worker
        # Several heartbeats fit in one lease, so one slow write does not lose the job.
        self.heartbeat_seconds = max(system.settings.job_lease_seconds / 4, 0.05)

    def run(self, job_id: int) -> None:
        """Runs the job if it is queued; a job in any other state was a duplicate message."""
        job = self._claim(job_id)
        if job is None:
            log.info("job %s is not queued; its message is ignored", job_id)
            return
        claim = Claim(job.id, self.worker, job.attempts)
        handler = kinds.handler_for(job.kind)
        if handler is None:
            self._finish(claim, JobState.FAILED, error=f"no handler for job kind {job.kind!r}")
            return
        context = JobContext(job, self.system.for_account(job.account_id), self.system, claim)
        log.info("job %s (%s) started, attempt %s", job.id, job.kind, job.attempts)
        with self._heartbeat(context):
            try:
                result = handler(context)
            except JobLost:
                log.warning("job %s was taken over by another worker; this run stops", job.id)
                return
            except KirjeError as error:
                log.info("job %s failed: %s", job.id, error.message)
                self._finish(claim, JobState.FAILED, error=error.message)
                return
            except Exception as error:
                log.exception("job %s failed", job.id)
                self._finish(claim, JobState.FAILED, error=f"{type(error).__name__}: {error}")
                return
        self._finish(claim, JobState.DONE, result=result)
        log.info("job %s done", job.id)

    def _claim(self, job_id: int) -> Job | None:
        with self.system.db.transaction() as conn:
            return job_store.claim_job(conn, job_id, self.worker, self.system.clock())

    def _finish(
        self, claim: Claim, state: JobState, *, result: JobResult = None, error: str | None = None
    ) -> None:
        try:
            held = self._write_outcome(claim, state, result, error)
        except (TypeError, ValueError) as unstorable:
            # A result that is not JSON: the work is done but its answer cannot be kept.
            log.exception("job %s: result not stored", claim.job_id)
            held = self._write_outcome(
                claim, JobState.FAILED, None, f"result not storable: {unstorable}"
            )
        if not held:
            log.warning("job %s was taken over; its outcome here is not recorded", claim.job_id)

    def _write_outcome(
        self, claim: Claim, state: JobState, result: JobResult, error: str | None
    ) -> bool:
        with self.system.db.transaction() as conn:
            return job_store.finish_job(
                conn, claim, self.system.clock(), state, result=result, error=error
            )

    @contextmanager
    def _heartbeat(self, context: JobContext) -> Iterator[None]:
        """Keeps the job's updated_at fresh while its handler runs, from a thread of its own."""
        stopped = threading.Event()

        def beat() -> None:
            while not stopped.wait(self.heartbeat_seconds):
                try:
                    context.heartbeat()
                except JobLost:
                    log.warning("job %s: lease lost", context.job.id)
                    return
                except Exception:
                    log.exception("job %s: heartbeat failed; trying again", context.job.id)

        thread = threading.Thread(target=beat, name=f"heartbeat-{context.job.id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stopped.set()
            thread.join()


def worker_name() -> str:
    """Who holds a job: host and process, so an operator can find the worker."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def run_here(system: System, job_id: int) -> None:
    """Runs one queued job in this process, as a worker would (the CLI and the benchmarks)."""
    JobRunner(system, worker_name()).run(job_id)
