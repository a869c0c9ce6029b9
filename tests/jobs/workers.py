"""Job workers as real `kirje worker` processes, sharing the test session's database and queue."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kirje.domain.jobs import Job
from kirje.services.account_services import AccountServices
from kirje.settings import Settings
from tests.processes import KIRJE, environment

# Short enough that a test sees an abandoned job taken up at once.
FAST_RECOVERY = {
    "KIRJE_JOB_LEASE_SECONDS": "1.5",
    "KIRJE_JOB_SWEEP_SECONDS": "0.3",
}


def worker_environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = environment(settings.data_dir)
    env["KIRJE_DATABASE_URL"] = settings.resolved_database_url
    env.update(FAST_RECOVERY)
    env.update(extra)
    return env


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def printed(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@contextmanager
def job_worker(settings: Settings, log_dir: Path, **extra_env: str) -> Iterator[Worker]:
    """A `kirje worker` process; stopped with SIGTERM afterwards (if it is still alive)."""
    log = log_dir / f"worker-{time.monotonic_ns()}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [KIRJE, "worker", "--threads", "2"],
            env=worker_environment(settings, **extra_env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Worker(process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def wait_for_job(
    services: AccountServices, job_id: int, until, *, seconds: float = 60, worker=None
) -> Job:
    """Polls the job row until until(job) holds."""
    deadline = time.monotonic() + seconds
    while True:
        job = services.jobs.get(job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            printed = worker.printed() if worker else ""
            raise AssertionError(f"job never reached the state wanted: {job}\n{printed}")
        time.sleep(0.05)


def finished(job: Job) -> bool:
    return job.is_finished


# A worker that never sweeps for abandoned jobs: the job-runner tests of the same session kill
# workers on purpose and expect their own workers, not this one, to take those jobs up.
QUIET = {"KIRJE_JOB_LEASE_SECONDS": "600", "KIRJE_JOB_SWEEP_SECONDS": "600"}


def with_own_queue(settings: Settings, name: str) -> Settings:
    """The settings with a queue of their own, so that only their own worker takes the jobs."""
    return settings.model_copy(update={"job_queue_name": f"{name}-{uuid.uuid4().hex[:8]}"})


@contextmanager
def quiet_worker(settings: Settings, log_dir: Path, **extra_env: str) -> Iterator[Worker]:
    """A worker on the settings' queue that leaves other queues' abandoned jobs alone."""
    env = {"KIRJE_JOB_QUEUE_NAME": settings.job_queue_name, **QUIET, **extra_env}
    with job_worker(settings, log_dir, **env) as running:
        yield running
