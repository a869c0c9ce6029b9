"""Jobs of one account: submit, run, and read the rows whose ids are API handles.

`submit` records a queued row and wakes a worker through the job queue once the row is
committed; the worker (kirje/jobs) runs the handler registered for the kind. A job whose
work is one set-based statement can instead `run_now`, in the caller's process: its row
records the outcome exactly as a queued run would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kirje.domain.errors import KirjeError, NotFound
from kirje.domain.jobs import Job, JobState
from kirje.services.base import AccountScope
from kirje.store import jobs as job_store

log = logging.getLogger(__name__)


class Jobs:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def get(self, job_id: int) -> Job:
        with self.scope.db.reading() as conn:
            job = job_store.find_job(conn, self.scope.account_id, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def unfinished(self, kind: str) -> list[Job]:
        """Queued and running jobs of a kind, oldest first."""
        with self.scope.db.reading() as conn:
            return job_store.unfinished_jobs(conn, self.scope.account_id, kind)

    def latest(self, kind: str, subject_id: int | None = None) -> Job | None:
        with self.scope.db.reading() as conn:
            return job_store.latest_job(conn, self.scope.account_id, kind, subject_id)

    def submit(
        self, kind: str, payload: dict[str, Any] | None = None, *, subject_id: int | None = None
    ) -> Job:
        """Records a queued job and wakes a worker for it; returns the row (its id: the handle)."""
        job_id = self._insert(kind, subject_id, payload=payload)
        # Only after the commit: a worker woken earlier could find no row to claim.
        self.wake(job_id)
        return self.get(job_id)

    def _insert(self, kind: str, subject_id: int | None, **values: Any) -> int:
        scope = self.scope
        with scope.db.transaction() as conn:
            return job_store.insert_job(
                conn,
                account_id=scope.account_id,
                kind=kind,
                now=scope.clock(),
                subject_id=subject_id,
                **values,
            )

    def wake(self, job_id: int) -> None:
        """Tells a worker about a queued job whose row is committed. A lost wake-up is made
        good by a worker's sweep, which enqueues queued jobs left without a message."""
        if self.scope.job_queue is None:
            log.warning("no job queue: job %s waits for a worker's sweep", job_id)
            return
        try:
            self.scope.job_queue.enqueue(job_id)
        except Exception:
            # The row is committed and is the truth; a worker's sweep enqueues it again.
            log.exception("could not enqueue job %s; a worker's sweep will", job_id)

    def run_now(self, kind: str, work: Callable[[], Any], *, subject_id: int | None = None) -> Job:
        """Records a job, runs `work` and stores its result (or its error) in the row."""
        job_id = self._insert(kind, subject_id, state=JobState.RUNNING)
        try:
            result = work()
        except KirjeError as error:
            self._finish(job_id, JobState.FAILED, error=str(error))
            raise
        self._finish(job_id, JobState.DONE, result=result)
        return self.get(job_id)

    def _finish(self, job_id: int, state: JobState, *, result=None, error=None) -> None:
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            job_store.update_job(
                conn,
                self.scope.account_id,
                job_id,
                now,
                state=state,
                result=result,
                error=error,
                finished_at=now,
            )
