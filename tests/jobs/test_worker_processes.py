"""Jobs run by real `kirje worker` processes: done, failed, resumed after SIGKILL, run once."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import psutil
import pytest
import redis

from kirje.domain.jobs import JobKind, JobState
from kirje.services.system import System
from kirje.settings import Settings
from tests.jobs.workers import finished, job_worker, wait_for_job
from tests.processes import kirje_json, run_kirje, serving

REDIS_URL = "redis://127.0.0.1:6379/15"


def test_a_worker_runs_a_submitted_ping(services, settings: Settings, tmp_path: Path) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": 3})
    assert job.state is JobState.QUEUED
    with job_worker(settings, tmp_path) as worker:
        done = wait_for_job(services, job.id, finished, worker=worker)
    assert done.state is JobState.DONE, worker.printed()
    assert done.result == {"pong": 3}
    assert (done.progress_done, done.progress_total) == (3, 3)
    assert done.attempts == 1
    assert done.error is None
    assert done.started_at is not None and done.finished_at is not None


def test_a_killed_worker_s_job_is_finished_by_another_from_its_checkpoint(
    services, settings: Settings, tmp_path: Path
) -> None:
    steps = 8
    job = services.jobs.submit(JobKind.PING, {"steps": steps, "step_seconds": 0.4})
    with job_worker(settings, tmp_path) as first:
        wait_for_job(services, job.id, lambda j: j.progress_done >= 2, worker=first)
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    left = services.jobs.get(job.id)
    assert left.state is JobState.RUNNING
    assert 2 <= left.progress_done < steps
    assert left.checkpoint == {"step": left.progress_done, "started_from": 0}

    with job_worker(settings, tmp_path) as second:
        done = wait_for_job(services, job.id, finished, worker=second)
    assert done.state is JobState.DONE, second.printed()
    assert done.result == {"pong": steps}
    assert done.progress_done == steps
    assert done.attempts == 2
    assert done.worker != left.worker
    # The second worker started after the last step the first one committed: none was redone.
    assert done.checkpoint == {"step": steps, "started_from": left.progress_done}


def test_a_handler_error_fails_the_job_with_its_message(
    services, settings: Settings, tmp_path: Path
) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": -1})
    with job_worker(settings, tmp_path) as worker:
        failed = wait_for_job(services, job.id, finished, worker=worker)
    assert failed.state is JobState.FAILED
    assert failed.error == "ping: steps must be a whole number from 0 to 100000"
    assert failed.result is None
    assert failed.attempts == 1


def test_a_job_enqueued_three_times_runs_once(
    services, system: System, settings: Settings, tmp_path: Path
) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": 2, "step_seconds": 0.2})
    system.job_queue.enqueue(job.id)
    system.job_queue.enqueue(job.id)
    assert job.id in system.job_queue.pending_job_ids()
    with job_worker(settings, tmp_path) as worker:
        done = wait_for_job(services, job.id, finished, worker=worker)
        _wait_until(lambda: job.id not in system.job_queue.pending_job_ids())
    after = services.jobs.get(job.id)
    assert after.state is JobState.DONE, worker.printed()
    assert after.attempts == 1
    assert after.finished_at == done.finished_at
    assert after.checkpoint == {"step": 2, "started_from": 0}


def test_a_queued_job_whose_message_was_lost_is_run(
    system: System, services, settings: Settings, tmp_path: Path
) -> None:
    job = services.jobs.submit(JobKind.PING, {"steps": 1})
    # The message is consumed by a process that runs no jobs: as good as lost.
    system.job_queue.huey.flush()
    assert job.id not in system.job_queue.pending_job_ids()
    with job_worker(settings, tmp_path, KIRJE_JOB_REQUEUE_AFTER_SECONDS="0.5") as worker:
        done = wait_for_job(services, job.id, finished, worker=worker)
    assert done.state is JobState.DONE, worker.printed()
    assert done.result == {"pong": 1}


def test_a_worker_on_redis_runs_a_ping(settings: Settings, tmp_path: Path, account) -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis unreachable at 127.0.0.1:6379")
    queue_name = f"kirje-test-{uuid.uuid4().hex[:8]}"
    on_redis = settings.model_copy(update={"redis_url": REDIS_URL, "job_queue_name": queue_name})
    system = System.open(on_redis, pool_size=2)
    try:
        assert system.job_queue.backend == "redis"
        services = system.for_account(account.account_id)
        job = services.jobs.submit(JobKind.PING, {"steps": 2})
        env = {"KIRJE_REDIS_URL": REDIS_URL, "KIRJE_JOB_QUEUE_NAME": queue_name}
        with job_worker(settings, tmp_path, **env) as worker:
            done = wait_for_job(services, job.id, finished, worker=worker)
        assert done.state is JobState.DONE, worker.printed()
        assert done.result == {"pong": 2}
        system.job_queue.huey.flush()
    finally:
        system.close()


def test_serve_runs_a_job_worker(data_dir: Path) -> None:
    account = str(kirje_json(data_dir, "account", "create", "--name", "Jobs")["account_id"])
    with serving(data_dir, "--workers", "1"):
        printed = run_kirje(
            data_dir, "jobs", "ping", "--account", account, "--steps", "2", "--wait"
        )
    job = json.loads(printed.stdout)
    assert job["state"] == "done"
    assert job["result"] == {"pong": 2}
    shown = run_kirje(data_dir, "jobs", "show", str(job["id"]), "--account", account).stdout
    assert shown.count("\n") == 1
    assert json.loads(shown) == job


def test_serve_restarts_a_job_worker_that_dies(data_dir: Path) -> None:
    account = str(kirje_json(data_dir, "account", "create", "--name", "Restart")["account_id"])
    ping = ("jobs", "ping", "--account", account, "--wait")
    with serving(data_dir, "--workers", "1") as server:
        first = json.loads(run_kirje(data_dir, *ping).stdout)
        pid = int(first["worker"].rpartition(":")[2])
        assert pid in {child.pid for child in psutil.Process(server.process.pid).children()}
        os.kill(pid, signal.SIGKILL)
        second = json.loads(run_kirje(data_dir, *ping).stdout)
    assert second["state"] == "done"
    assert second["worker"] != first["worker"]


def test_serve_no_worker_starts_http_workers_only(data_dir: Path) -> None:
    with serving(data_dir, "--workers", "1", "--no-worker") as server:
        children = psutil.Process(server.process.pid).children()
        serving_children = [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
    assert len(serving_children) == 1


def _wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.05)
