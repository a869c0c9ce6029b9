"""Jobs of one account: create, run, and read the rows whose ids are API handles.

The queue runner of the import work plugs in behind `submit`; until then a job whose work
is one set-based statement runs at once, in the caller's process, and its row records the
outcome exactly as a queued run would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kirje.domain.errors import KirjeError, NotFound
from kirje.domain.jobs import Job, JobState
from kirje.services.base import AccountScope
from kirje.store import jobs as job_store


class Jobs:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def get(self, job_id: int) -> Job:
        with self.scope.db.reading() as conn:
            job = job_store.find_job(conn, self.scope.account_id, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def latest(self, kind: str, subject_id: int | None = None) -> Job | None:
        with self.scope.db.reading() as conn:
            return job_store.latest_job(conn, self.scope.account_id, kind, subject_id)

    def run_now(self, kind: str, work: Callable[[], Any], *, subject_id: int | None = None) -> Job:
        """Records a job, runs `work` and stores its result (or its error) in the row."""
        scope = self.scope
        with scope.db.transaction() as conn:
            job_id = job_store.insert_job(
                conn,
                account_id=scope.account_id,
                kind=kind,
                now=scope.clock(),
                subject_id=subject_id,
                state=JobState.RUNNING,
            )
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
