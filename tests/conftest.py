"""Fixtures: every service and wire test runs on SQLite and on PostgreSQL.

PostgreSQL tests use KIRJE_TEST_DATABASE_URL (default: the local `test` database's server);
each xdist worker gets a database of its own. When PostgreSQL is unreachable its tests are
skipped, except in CI (CI=true), where that fails the run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn

from kirje.api.app import create_app
from kirje.services.accounts import NewAccount
from kirje.services.base import Clock, utc_now
from kirje.services.system import System
from kirje.settings import Settings
from tests.liana_clients import Credentials, LianaClient

POSTGRES_URL = os.environ.get(
    "KIRJE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_reachable() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


POSTGRES_AVAILABLE = _postgres_reachable()


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and not POSTGRES_AVAILABLE:
        raise pytest.UsageError(f"CI=true but PostgreSQL is unreachable at {POSTGRES_URL}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not POSTGRES_AVAILABLE:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'kirje.db'}"
        return
    name = f"kirje_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=database_url)


@pytest.fixture(scope="session")
def system(settings: Settings) -> Iterator[System]:
    opened = System.open(settings)
    opened.migrate()
    yield opened
    opened.close()


def new_account(system: System, *, realm: str = "KIRJE", rate_limit: int = 1000) -> NewAccount:
    created = system.accounts.create(f"Test {uuid.uuid4().hex[:8]}", realm=realm)
    system.accounts.set_rate_limit(created.user_id, rate_limit)
    return created


@pytest.fixture
def account(system: System) -> NewAccount:
    """A fresh account: tests stay apart because every row belongs to one account."""
    return new_account(system)


@pytest.fixture
def services(system: System, account: NewAccount):
    return system.for_account(account.account_id)


class LiveServer:
    """The real app on a real uvicorn, in a thread of the test process."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.app = create_app(settings, clock=clock)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings, system: System) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    yield server
    server.stop()


def client_for(server: LiveServer, account: NewAccount, style: str = "php") -> LianaClient:
    credentials = Credentials(account.user_id, account.secret, account.realm)
    return LianaClient(server.url, credentials, style=style)


@pytest.fixture
def client(live_server: LiveServer, account: NewAccount) -> LianaClient:
    return client_for(live_server, account)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path
