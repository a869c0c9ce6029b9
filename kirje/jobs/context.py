"""What a job handler is given: its job, the account's services, and the way to record progress."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from kirje.domain.jobs import Claim, Job, JobLost
from kirje.store import jobs as job_store
from kirje.store.database import Database

if TYPE_CHECKING:
    from kirje.services.account_services import AccountServices
    from kirje.services.system import System


@dataclass
class JobContext:
    job: Job
    services: AccountServices
    system: System
    claim: Claim
    # Set when a heartbeat found the job taken away: the handler's next write raises JobLost.
    lost: threading.Event = field(default_factory=threading.Event)

    @property
    def db(self) -> Database:
        return self.system.db

    def commit_progress(
        self,
        conn: Connection,
        *,
        done: int,
        total: int | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        """Records progress inside the caller's transaction, so it commits with the work it counts.

        Raises JobLost (and so rolls that transaction back) when this worker no longer holds
        the job: another worker has taken it up and will redo the work from the last checkpoint.
        Call it last, just before the commit: on PostgreSQL it locks the job row until then,
        which holds the heartbeat back.
        """
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        self.fence(conn, **values)

    def locked_checkpoint(self, conn: Connection) -> dict[str, Any]:
        """The job's checkpoint as last committed, its row locked until the caller's transaction
        ends: for work done in transactions side by side, each adding to the checkpoint. Raises
        JobLost when this worker no longer holds the job."""
        self._check_held()
        checkpoint = job_store.locked_checkpoint(conn, self.claim)
        if checkpoint is None:
            self.lost.set()
            raise JobLost(f"job {self.job.id} was taken from this worker")
        return checkpoint

    def fence(self, conn: Connection, **values: Any) -> None:
        """Raises JobLost, rolling the caller's transaction back, unless this worker still holds
        the job (for work that must not commit once another worker has taken the job up)."""
        self._check_held()
        if not job_store.touch_job(conn, self.claim, self.system.clock(), **values):
            self.lost.set()
            raise JobLost(f"job {self.job.id} was taken from this worker")

    def heartbeat(self) -> None:
        """Tells other workers this job is alive; raises JobLost if it was taken away."""
        self._check_held()
        with self.db.transaction() as conn:
            held = job_store.touch_job(conn, self.claim, self.system.clock())
        if not held:
            self.lost.set()
            raise JobLost(f"job {self.job.id} was taken from this worker")

    def _check_held(self) -> None:
        if self.lost.is_set():
            raise JobLost(f"job {self.job.id} was taken from this worker")
