"""What every account-scoped service holds: the database, the account and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kirje.domain.jobs import JobQueue
from kirje.domain.tracking_links import TrackingLinks
from kirje.services.automation_triggers import AutomationTriggers
from kirje.store.database import Database

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AccountScope:
    """Binds a service to one account: every query it makes is filtered by account_id."""

    db: Database
    account_id: int
    clock: Clock = utc_now
    # Wakes a worker for a submitted job; None: the job waits for a worker's sweep.
    job_queue: JobQueue | None = None
    # Where uploads wait for the jobs that read them ($KIRJE_DATA_DIR).
    data_dir: Path = Path("./var")
    # Where stored events are handed to the automations (one per process).
    triggers: AutomationTriggers = field(default_factory=AutomationTriggers)
    # The signed links put into mail (a confirmation link); None where no mail is asked for.
    links: TrackingLinks | None = None
