"""Engine and sessions. Services never commit: the request or command that calls them does."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Table, TextClause, create_engine, event, insert, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.config import get_settings
from ordermesh.deadlines import current_deadline


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(
    url: str,
    *,
    pool_size: int | None = None,
    lock_timeout_ms: int | None = None,
    statement_timeout_ms: int | None = None,
) -> Engine:
    """An engine for SQLite (trial) or PostgreSQL (real use), set up the same way everywhere.

    On PostgreSQL every transaction waits at most `lock_timeout_ms` for a row lock and runs no statement
    longer than `statement_timeout_ms` (by default the settings'; 0: no limit). Both are given once, when
    the connection opens, so they cost no statement. A broken connection is replaced when next taken from
    the pool (pre-ping), so the server recovers from a lost database by itself.
    """
    settings = get_settings()
    if is_sqlite(url):
        # SQLite has neither bound: a writer waits up to its busy timeout for the database's write lock
        # (taken at BEGIN IMMEDIATE, see _configure_sqlite), then fails with "database is locked".
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS})
        _configure_sqlite(engine)
        return engine
    lock_ms = settings.db_lock_timeout_ms if lock_timeout_ms is None else lock_timeout_ms
    statement_ms = settings.db_statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    size = pool_size or settings.db_pool_size
    return create_engine(
        url,
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=True,
        pool_timeout=settings.db_connect_timeout_seconds,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_seconds,
            "options": f"-c lock_timeout={lock_ms} -c statement_timeout={statement_ms}",
        },
    )


SQLITE_BUSY_SECONDS = 30


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
        # writer got there first; taking the write lock up front makes concurrent writers wait instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Session, "before_commit")
def _settle_request_deadline(_session: Session) -> None:
    """Every commit made for an HTTP request first claims the request's deadline, and fails (the
    transaction then rolls back) when the request has already been answered 503 (ordermesh.deadlines)."""
    deadline = current_deadline()
    if deadline is not None:
        deadline.settle_or_raise()


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    session = (factory or get_sessionmaker())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply be run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


def is_retryable(error: BaseException) -> bool:
    original = getattr(error, "orig", None)
    return getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES


def is_unavailable(error: BaseException) -> bool:
    """Whether the error says the database cannot serve now rather than that the request is wrong.

    On PostgreSQL: a lost or refused connection, a lock or statement timeout, the server shutting down
    or out of connections (psycopg's OperationalError and InterfaceError); on SQLite: the write lock not
    had within the busy timeout. Also a pool with no connection free in time. Answered 503 Retry-After.
    """
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorcode", None) in SQLITE_BUSY_CODES
    return isinstance(error, OperationalError | InterfaceError)


def is_disconnect(error: BaseException) -> bool:
    """Whether the error lost the connection itself (not a timeout inside a live one)."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError) or isinstance(error.orig, sqlite3.Error):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    return error.connection_invalidated or (is_unavailable(error) and sqlstate not in TIMEOUT_SQLSTATES)


SQLITE_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
# lock_not_available (lock_timeout) and query_canceled (statement_timeout)
TIMEOUT_SQLSTATES = {"55P03", "57014"}


def insert_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert rows with one executemany of a cached single-row INSERT.

    psycopg sends the rows to PostgreSQL in one pipeline (one round trip), the statement prepared once
    per connection. (A multi-row INSERT is longer the more rows it has, and psycopg parses such long
    statements afresh on every call; a statement built with .values(rows) is even compiled afresh.)
    """
    if rows:
        session.execute(insert(model.__table__), rows)


def allocate_ids(session: Session, wanted: Mapping[type[Any], int]) -> dict[type[Any], list[int]]:
    """New ids for rows about to be inserted into each model's table, all taken in one statement.

    Rows whose ids are known beforehand need no RETURNING: they go as a plain executemany. PostgreSQL
    takes the ids from each table's sequence. SQLite counts on from the largest id in use, which is
    safe because its write transactions run one at a time (and is the id it would pick itself).
    """
    models = list(wanted)
    dialect = session.get_bind().dialect.name
    statement = _allocation(dialect, tuple(model.__table__ for model in models))
    if dialect == "postgresql":
        counts = {f"n{i}": wanted[model] for i, model in enumerate(models)}
        row = session.execute(statement, counts).one()
        return {model: list(ids) for model, ids in zip(models, row, strict=True)}
    row = session.execute(statement).one()
    return {
        model: list(range((largest or 0) + 1, (largest or 0) + 1 + wanted[model]))
        for model, largest in zip(models, row, strict=True)
    }


@lru_cache
def _allocation(dialect: str, tables: tuple[Table, ...]) -> TextClause:
    if dialect == "postgresql":
        taken = (
            f"ARRAY(SELECT nextval(pg_get_serial_sequence('\"{table.name}\"', 'id'))"
            f" FROM generate_series(1, :n{i}))"
            for i, table in enumerate(tables)
        )
    else:
        taken = (f'(SELECT max(id) FROM "{table.name}")' for table in tables)
    return text("SELECT " + ", ".join(taken))


def insert_ignoring_conflicts(session: Session, model: type[Any]) -> Any:
    """An INSERT … ON CONFLICT DO NOTHING for the session's database (PostgreSQL or SQLite)."""
    return _insert_ignoring_conflicts(session.get_bind().dialect.name, model.__table__)


@lru_cache
def _insert_ignoring_conflicts(dialect: str, table: Any) -> Any:
    # The dialect's own INSERT is imported here: the PostgreSQL dialect costs small commands ~20 ms to load.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing()
