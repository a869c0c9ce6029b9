"""Jobs: one row per asynchronous operation, whose id is the handle an API returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

JobResult = dict[str, Any] | list[Any] | int | None


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    MEMBER_HISTORY_UPDATE = "member-history-update"
    TARGET_GROUP = "target-group"
    IMPORT = "import"
    # LianaAutomation: an event import (done when its request answers), and the searches,
    # deletes, exports and automation reports its handles name.
    EVENT_IMPORT = "event-import"
    EVENT_SEARCH = "event-search"
    EVENT_DELETE = "event-delete"
    EVENT_EXPORT = "event-export"
    AUTOMATION_REPORT = "automation-report"
    # Sends one delivery: claims ledger rows, sends them, records each outcome.
    DELIVERY = "delivery"
    # A few steps of nothing: an operator's check that a worker takes and finishes jobs.
    PING = "ping"


@dataclass(frozen=True)
class Job:
    id: int
    account_id: int
    kind: str
    state: JobState
    subject_id: int | None
    progress_done: int
    progress_total: int | None
    result: JobResult
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # What the job works on: enough for any worker to run it, or to resume it.
    payload: dict[str, Any] | None = None
    # How far the job has committed; written in the same transaction as that work.
    checkpoint: dict[str, Any] | None = None
    # How many times a worker has claimed the job.
    attempts: int = 0
    # host:pid of the worker that claimed it last.
    worker: str | None = None
    updated_at: datetime | None = None

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)


@dataclass(frozen=True)
class Claim:
    """One worker's hold on a running job; attempts fences out an older holder's writes."""

    job_id: int
    worker: str
    attempts: int


class JobLost(Exception):
    """The job was taken from this worker (its lease ran out); its writes must not commit."""


class JobQueue(Protocol):
    """Wakes a worker for a job whose row is queued; the row, not the message, is the truth."""

    def enqueue(self, job_id: int) -> None: ...
