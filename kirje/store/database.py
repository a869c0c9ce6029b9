"""Engine creation and the transaction helpers every repository runs inside."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool


def engine_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_database_engine(url: str, *, pool_size: int = 10, **options) -> Engine:
    url = engine_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _tune_sqlite)
        # pysqlite's own transaction handling defers BEGIN; we take it over so that
        # a transaction that writes takes the write lock at its start (no upgrade deadlocks).
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, **options)


def _begin_sqlite(connection: Connection) -> None:
    is_read = connection.get_execution_options().get("kirje_read_only", False)
    connection.exec_driver_sql("BEGIN" if is_read else "BEGIN IMMEDIATE")


def _tune_sqlite(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """The engines and the two ways of using them: a transaction, or a read.

    On PostgreSQL reads have an engine of their own in autocommit: a short lookup then costs
    one round trip, not three (BEGIN, the query, ROLLBACK), and no per-checkout switching.
    """

    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self._read_engine = read_engine

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10) -> Database:
        engine = create_database_engine(url, pool_size=pool_size)
        if engine.dialect.name != "postgresql":
            return cls(engine)
        readers = create_database_engine(url, pool_size=pool_size, isolation_level="AUTOCOMMIT")
        return cls(engine, readers)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def committed_by_caller(self) -> Iterator[tuple[Connection, Callable[[], None]]]:
        """A transaction and the function that commits it, for a caller that waits for the
        commit elsewhere (in a thread, while its event loop goes on). Rolled back if the
        block ends without it."""
        with self.engine.connect() as connection:
            transaction = connection.begin()
            yield connection, transaction.commit

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads only; on SQLite it takes no write lock."""
        if self._read_engine is not None:
            with self._read_engine.connect() as connection:
                yield connection
            return
        with self.engine.connect().execution_options(kirje_read_only=True) as connection:
            yield connection
            connection.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not None:
            self._read_engine.dispose()
