"""Runtime configuration, read from KIRJE_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIRJE_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    # A Fernet key (urlsafe base64, 32 bytes); generated into data_dir when absent.
    secret_key: str | None = None
    # Liana signed requests: how far the Date header may be from the server clock.
    signature_window_seconds: int = 900
    default_rate_limit_per_second: int = 4
    # How long a process trusts a cached API credential before reading it again.
    credential_cache_seconds: float = 5.0
    # The largest request body the API reads. A v1 import carries its file inside the JSON body,
    # which is held in memory to be verified: bigger files go through `kirje import` or batches.
    max_request_bytes: int = 256 * 1024 * 1024
    # Jobs (kirje/jobs): the queue's name within its storage (Huey's queue name).
    job_queue_name: str = "kirje"
    # A running job whose worker has not beaten its heart for this long is taken up again.
    job_lease_seconds: float = 60.0
    # A job claimed this many times (its workers died each time) is failed, not retried.
    job_max_attempts: int = 5
    # How often each worker looks for abandoned jobs and jobs whose queue message was lost.
    job_sweep_seconds: float = 15.0
    # A queued job with no message after this long is enqueued again.
    job_requeue_after_seconds: float = 60.0
    # Where recipients reach this server: tracking, click, unsubscribe and web-view links in
    # mail point here (https in production: List-Unsubscribe one-click needs it).
    public_url: str = "http://127.0.0.1:8000"
    # Where mail goes: smtp[s]://user:password@host:port?starttls=true&concurrency=8&rate=2000.
    # Unset: the local outbox, a maildir in data_dir/outbox.
    smtp_url: str | None = None
    # How often a message the SMTP server refuses for now is tried, in all; the first retry
    # waits this long, each later one twice as long as the one before (at most an hour).
    send_attempts: int = 5
    send_first_retry_seconds: float = 60.0
    # Processes that each send a share of a delivery of more than send_processes_from
    # recipients (claim, build and sign, SMTP, ledger); 1: the job's own process sends it all.
    send_processes: int = 2
    send_processes_from: int = 2_000
    # An import file of at least this many bytes is read, on PostgreSQL, in a reader process
    # beside the job's (kirje.services.import_staging); a smaller one in the job's own.
    import_reader_process_from: int = 4_000_000

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kirje.db').resolve()}"

    @property
    def database_backend(self) -> str:
        return "postgresql" if self.resolved_database_url.startswith("postgres") else "sqlite"
