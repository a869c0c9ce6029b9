"""The `api` scenario: signed getRecipientByEmail calls to a real server, against /health/live.

It runs what a user runs: `kirje serve` as a subprocess on the configured database, an account
of its own with N recipients, and signed LianaMailer v1 calls from a separate load process.
The baseline is the no-I/O liveness endpoint of the same server, workers and load generator,
so `ratio` says how much of the stack's capacity a real call keeps.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import orjson

from kirje.api.auth import content_md5, signature
from kirje.api.liana_mailer.views import HELSINKI
from kirje.bench.load import (
    HOST,
    LoadResult,
    PreparedRequest,
    choose_load,
    raw_request,
    run_load,
    write_requests,
)
from kirje.bench.server import ServerWatch, exit_on_sigterm, free_port, server_process
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store import contacts as contact_store

SIGNED_PATH = "/api/v1/getRecipientByEmail"
BASELINE_PATH = "/health/live"
# High enough that the limiter is on the path but never says no.
RATE_LIMIT_PER_SECOND = 1_000_000
WARM_UP_SECONDS = 1
# Pre-signed requests carry a fixed Date, which the server accepts for 15 minutes:
# they are signed afresh before each run, and a run stays well inside that.
LONGEST_RUN_SECONDS = 600
PREFLIGHT_CALLS = 20
CONNECTIONS_PER_WORKER = 16


@dataclass(frozen=True)
class ApiBenchOptions:
    seconds: int = 10
    workers: int = 2
    recipients: int = 10_000
    load: str = "auto"  # "auto", "wrk" or "python"
    connections: int = 0  # 0: chosen from the number of workers


@dataclass(frozen=True)
class BenchUser:
    realm: str
    user_id: int
    secret: bytes
    emails: list[str]


def run_api_bench(options: ApiBenchOptions) -> dict:
    """Runs the scenario and returns the one JSON object `kirje bench api` prints."""
    if options.seconds > LONGEST_RUN_SECONDS:
        raise ValueError(f"--seconds is at most {LONGEST_RUN_SECONDS}: requests are pre-signed")
    load = choose_load(options.load)
    with exit_on_sigterm(), tempfile.TemporaryDirectory(prefix="kirje-bench-") as scratch_name:
        scratch = Path(scratch_name)
        settings = Settings() if os.environ.get("KIRJE_DATA_DIR") else Settings(data_dir=scratch)
        _say(f"preparing {options.recipients} recipients on {settings.database_backend}")
        user = prepare_user(settings, options.recipients)
        port = free_port()
        signed_file, baseline_file = scratch / "signed.http", scratch / "baseline.http"
        baseline_request = PreparedRequest("GET", BASELINE_PATH, {})
        write_requests(baseline_file, [raw_request(baseline_request, port)])
        run = _LoadRun(load, port, options.connections or CONNECTIONS_PER_WORKER * options.workers)
        with (
            server_process(settings, port, options.workers) as server,
            ServerWatch(server.pid) as watch,
        ):
            failed_calls = _preflight(port, signed_requests(user, PREFLIGHT_CALLS))
            _say(f"warming up, then {options.seconds} s each with {load}, {run.connections} conns")
            _write_signed(signed_file, user, port)
            run.measure(signed_file, WARM_UP_SECONDS)
            baseline = run.measure(baseline_file, options.seconds)
            _write_signed(signed_file, user, port)
            before = watch.cpu_seconds()
            signed = run.measure(signed_file, options.seconds)
            _say_cpu(before, watch.cpu_seconds(), signed.seconds)
    return {
        "scenario": "api",
        "database": settings.database_backend,
        "load": load,
        "workers": options.workers,
        "seconds": options.seconds,
        "recipients": options.recipients,
        "throughput": round(signed.throughput, 1),
        "unit": "req/s",
        "baseline": round(baseline.throughput, 1),
        "ratio": round(signed.throughput / baseline.throughput, 3) if baseline.throughput else 0.0,
        "p50_ms": signed.p50_ms,
        "p99_ms": signed.p99_ms,
        "peak_rss_mb": round(watch.peak_rss_bytes / 2**20, 1),
        "errors": signed.errors + baseline.errors + failed_calls,
    }


def _say_cpu(before: dict[int, float], after: dict[int, float], seconds: float) -> None:
    """How busy each server process was: shows a saturated or an idle worker at a glance."""
    busy = [f"{pid}: {(after[pid] - before.get(pid, 0.0)) / seconds:.0%}" for pid in after]
    _say(f"server CPU during the signed run, by process: {', '.join(busy)}")


@dataclass(frozen=True)
class _LoadRun:
    load: str
    port: int
    connections: int

    def measure(self, requests_file: Path, seconds: int) -> LoadResult:
        return run_load(
            self.load,
            requests_file,
            port=self.port,
            seconds=seconds,
            connections=self.connections,
            # Half the cores: the server under test needs the rest.
            threads=max(1, (os.cpu_count() or 1) // 2),
        )


def prepare_user(settings: Settings, recipients: int) -> BenchUser:
    """A fresh account whose API user is not rate-limited in practice, with its recipients."""
    system = System.open(settings, pool_size=1)
    try:
        system.migrate()
        created = system.accounts.create(f"bench api {datetime.now().isoformat()}")
        system.accounts.set_rate_limit(created.user_id, RATE_LIMIT_PER_SECOND)
        emails = [f"bench-{n}@example.com" for n in range(recipients)]
        rows = [{"email": email, "properties": {"firstname": "Bench"}} for email in emails]
        with system.db.transaction() as conn:
            contact_store.insert_contacts_bulk(conn, created.account_id, rows, system.clock())
    finally:
        system.close()
    return BenchUser(created.realm, created.user_id, created.secret.encode(), emails)


def _write_signed(path: Path, user: BenchUser, port: int) -> None:
    write_requests(path, [raw_request(request, port) for request in signed_requests(user)])


def signed_requests(user: BenchUser, count: int | None = None) -> list[PreparedRequest]:
    """One signed call per recipient (or `count` random ones), dated now."""
    date = datetime.now(HELSINKI).isoformat(timespec="seconds")
    emails = user.emails if count is None else random.choices(user.emails, k=count)
    return [_signed_call(user, email, date) for email in emails]


def _signed_call(user: BenchUser, email: str, date: str) -> PreparedRequest:
    body = orjson.dumps([email, False])
    md5 = content_md5(body)
    sig = signature(user.secret, "POST", md5, date, body, SIGNED_PATH.encode())
    headers = {
        "Content-Type": "application/json",
        "Content-MD5": md5,
        "Date": date,
        "Authorization": f"{user.realm} {user.user_id}:{sig}",
    }
    return PreparedRequest("POST", SIGNED_PATH, headers, body)


def _preflight(port: int, requests: list[PreparedRequest]) -> int:
    """How many of a few calls fail: the load generators only see statuses, and a
    LianaMailer error (recipient not found, say) still answers 200."""
    failed = 0
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=5.0) as client:
        for request in requests:
            response = client.request(
                request.method, request.path, headers=request.headers, content=request.body
            )
            if not _succeeded(response):
                failed += 1
                _say(f"preflight call failed: {response.status_code} {response.text[:200]}")
    return failed


def _succeeded(response: httpx.Response) -> bool:
    try:
        return response.status_code == 200 and response.json().get("succeed") is True
    except ValueError:
        return False


def _say(message: str) -> None:
    print(f"kirje bench api: {message}", file=sys.stderr, flush=True)
