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

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kirje.db').resolve()}"

    @property
    def database_backend(self) -> str:
        return "postgresql" if self.resolved_database_url.startswith("postgres") else "sqlite"
