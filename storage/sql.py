"""One SQLAlchemy engine factory and session helper for every relational table (billing, VEE).

SQLite (the embedded default): foreign keys on, WAL, and `BEGIN IMMEDIATE` so a read-then-write
(balances, bindings) takes the write lock up front; an in-memory URL is one shared connection.
PostgreSQL: a small pool with pre-ping. SQLAlchemy's errors leave through one mapping: a constraint
violation is `StorageConflict`, anything else `StorageError` (the backend's text stays in logs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from core.errors import Conflict, Unavailable

T = TypeVar("T")


class StorageError(Unavailable):
    """The SQL database did not answer or refused the operation."""


class StorageConflict(Conflict):
    """A write broke a uniqueness or foreign-key constraint."""


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which keeps naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def is_memory_url(url: str) -> bool:
    """Whether a SQLite URL names a private in-memory database."""
    return url in ("sqlite://", "sqlite:///:memory:", "sqlite:///")


def redact(url: str) -> str:
    """The URL without user and password, for messages."""
    return url.rsplit("@", 1)[-1] if "@" in url else url


def make_engine(url: str) -> Engine:
    """The engine for a database URL, with the same guarantees for every caller."""
    if url.startswith("sqlite"):
        memory = is_memory_url(url)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = StaticPool  # one shared in-memory database, not one per connection
        try:
            engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ValueError) as err:
            raise StorageError(f"cannot open database {redact(url)!r}: {err}") from err

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN defers locks); enforce FKs.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock up front so read-then-write cannot interleave.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        try:
            return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except (SQLAlchemyError, ImportError, ValueError) as err:
            raise StorageError(f"cannot open database {redact(url)!r}: {err}") from err
    raise StorageError(
        f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:// or postgresql+psycopg://"
    )


class Database:
    """Engine + sessions for one URL; every table set (billing, VEE) creates its tables on it."""

    def __init__(self, url: str = "sqlite://"):
        self.url = url
        self.engine: Engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def create_tables(self, metadata: Any) -> None:
        """Create a table set's missing tables (idempotent)."""
        try:
            metadata.create_all(self.engine)
        except SQLAlchemyError as err:
            raise StorageError(f"cannot create tables in {redact(self.url)!r}: {err}") from err

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        SQLAlchemy errors leave as StorageConflict / StorageError; domain errors pass unchanged.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except IntegrityError as err:
            raise StorageConflict(f"the database refused the write: {err.orig}") from err
        except SQLAlchemyError as err:
            raise StorageError(f"database error: {err}") from err

    def run(self, fn: Callable[[Session], T]) -> T:
        """fn(session) in one transaction."""
        with self.session() as s:
            return fn(s)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
