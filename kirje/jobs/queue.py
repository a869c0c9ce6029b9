"""The Huey queue that wakes job workers: SQLite by default, PostgreSQL or Redis when configured.

A message carries only a job id. Everything else (kind, payload, progress, outcome) lives in
the job row, so a lost or duplicated message costs nothing: a worker's sweep enqueues a job
whose message went missing, and a second message finds the job no longer queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey

from kirje.settings import Settings

log = logging.getLogger(__name__)

TASK_NAME = "run_job"
# PostgresHuey creates its tables when it opens; processes that start together may race there.
_OPEN_ATTEMPTS = 3


def queue_backend(settings: Settings) -> str:
    if settings.redis_url:
        return "redis"
    return settings.database_backend


def open_huey(settings: Settings) -> Huey:
    """A Huey instance on the storage the settings call for."""
    options = dict(
        name=settings.job_queue_name,
        # The job row holds results and errors; Huey keeps none of its own.
        results=False,
        store_none=False,
        store_intermediate_errors=False,
        utc=True,
    )
    backend = queue_backend(settings)
    if backend == "redis":
        return RedisHuey(url=settings.redis_url, **options)
    if backend == "postgresql":
        return PostgresHuey(dsn=libpq_url(settings.resolved_database_url), **options)
    return SqliteHuey(filename=str(settings.data_dir / "jobs.sqlite3"), **options)


def libpq_url(url: str) -> str:
    """The database URL as libpq reads it (no SQLAlchemy driver suffix)."""
    scheme, separator, rest = url.partition("://")
    return scheme.split("+", 1)[0] + separator + rest


class HueyJobQueue:
    """Enqueues job ids; in a worker process, also runs them through `runner`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = queue_backend(settings)
        # Set by a worker process: what a dequeued job id is handed to.
        self.runner: Callable[[int], None] | None = None
        self._huey: Huey | None = None
        self._task = None
        self._lock = threading.Lock()

    @property
    def huey(self) -> Huey:
        with self._lock:
            if self._huey is None:
                self._huey = self._open()
                self._task = self._huey.task(name=TASK_NAME)(self._run_job)
            return self._huey

    def _open(self) -> Huey:
        for attempt in range(1, _OPEN_ATTEMPTS + 1):
            try:
                return open_huey(self.settings)
            except Exception:
                if attempt == _OPEN_ATTEMPTS:
                    raise
                log.warning("opening the job queue failed; trying again", exc_info=True)
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def enqueue(self, job_id: int) -> None:
        self.huey  # noqa: B018 -- opens the queue and registers the task
        self._task(job_id)

    def pending_job_ids(self) -> set[int]:
        """The job ids whose messages wait in the queue."""
        return {task.args[0] for task in self.huey.pending() if task.name == TASK_NAME}

    def _run_job(self, job_id: int) -> None:
        if self.runner is None:
            raise RuntimeError("a job message reached a process that runs no jobs")
        self.runner(job_id)

    def close(self) -> None:
        if self._huey is not None:
            self._huey.storage.close()
