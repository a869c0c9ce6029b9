"""Jobs: one row per asynchronous operation, whose id is the handle an API returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    MEMBER_HISTORY_UPDATE = "member-history-update"
    TARGET_GROUP = "target-group"


@dataclass(frozen=True)
class Job:
    id: int
    account_id: int
    kind: str
    state: JobState
    subject_id: int | None
    progress_done: int
    progress_total: int | None
    result: dict | list | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)
