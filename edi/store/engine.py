"""Open the database engine with durable settings, and refuse to start on unsafe ones (I12, F25).

SQLite is the default: one file, WAL journal, ``synchronous=FULL``, a busy timeout and foreign keys,
set on every new connection. pysqlite's own transaction handling is switched off and every
transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), so the write lock is
taken at the start of a transaction rather than on its first write: two writers then queue on the
busy timeout instead of one failing with a lock upgrade error. A connection with the execution option
``edi_sqlite_begin="DEFERRED"`` starts a read-only style transaction instead.

PostgreSQL is used when the URL says so (``EDI_DATABASE_URL``), through psycopg 3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import ConnectionPoolEntry

from edi.store.errors import DatabaseDamagedError, UnsafeStorageError, UnsupportedDatabaseError, translate_busy

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_BUSY_TIMEOUT_MS",
    "SQLITE_FILE_NAME",
    "check_durability",
    "open_engine",
    "resolve_url",
    "transaction",
]

DATABASE_URL_ENV = "EDI_DATABASE_URL"
DATA_DIR_ENV = "EDI_DATA_DIR"
DEFAULT_DATA_DIR = Path("data")
SQLITE_FILE_NAME = "edi.sqlite3"
DEFAULT_BUSY_TIMEOUT_MS = 30_000
SQLITE_BEGIN_OPTION = "edi_sqlite_begin"

SqliteBegin = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"]
_SQLITE_BEGIN_MODES: frozenset[str] = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
_SQLITE_SYNCHRONOUS_FULL = 2


def resolve_url(url: str | None = None, data_dir: Path | None = None) -> URL:
    """Decide which database to use.

    Order: the ``url`` argument, then ``EDI_DATABASE_URL``, then the SQLite file ``edi.sqlite3`` in
    ``data_dir`` (or ``EDI_DATA_DIR``, or ``./data``), whose directory is created. A bare
    ``postgresql://`` URL is given the psycopg 3 driver.

    Raises:
        UnsupportedDatabaseError: the URL is neither SQLite nor PostgreSQL.
    """
    text = url or os.environ.get(DATABASE_URL_ENV) or None
    if text is None:
        directory = data_dir or Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite", database=str(directory / SQLITE_FILE_NAME))
    parsed = make_url(text)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return parsed
    raise UnsupportedDatabaseError(f"unsupported database backend {backend!r} in the database URL")


def open_engine(
    url: str | None = None,
    data_dir: Path | None = None,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    echo: bool = False,
) -> Engine:
    """Create an engine for the configured database with durable per-connection settings.

    See `resolve_url` for how the database is chosen. Call `check_durability` at startup.
    """
    resolved = resolve_url(url, data_dir)
    if resolved.get_backend_name() == "sqlite":
        engine = create_engine(resolved, echo=echo)
        _install_sqlite_hooks(engine, busy_timeout_ms)
        return engine
    return create_engine(resolved, echo=echo, pool_pre_ping=True)


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    """Set the durability pragmas on each connection and take over BEGIN from pysqlite."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # pysqlite would otherwise emit its own (deferred, late) BEGIN; we emit ours in "begin".
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching a fresh file to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {sorted(_SQLITE_BEGIN_MODES)}")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Open a connection in a write transaction, committed on success and rolled back on error.

    Raises:
        StoreBusyError: the write lock was not obtained within the busy timeout.
    """
    with translate_busy(), engine.begin() as conn:
        yield conn


def check_durability(engine: Engine) -> None:
    """Refuse to run on settings that can lose committed data (I12).

    SQLite must use ``journal_mode=wal`` and ``synchronous=FULL``; PostgreSQL must have ``fsync`` and
    ``synchronous_commit`` on.

    Raises:
        UnsafeStorageError: a setting is unsafe; the message names it and the fix.
    """
    with translate_busy(), engine.connect() as raw:
        conn = raw.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        if conn.dialect.name == "sqlite":
            _check_sqlite(conn)
        elif conn.dialect.name == "postgresql":
            _check_postgresql(conn)
        else:
            raise UnsupportedDatabaseError(f"cannot check durability of {conn.dialect.name!r}")
        conn.rollback()


_SQLITE_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


def check_integrity(engine: Engine) -> None:
    """Refuse a damaged SQLite file at start-up (``PRAGMA quick_check``), before any file is taken.

    Without it a damage deep in the file shows only when a later write reaches that page, after
    other work was done. PostgreSQL checks its own pages; nothing is done there.

    Raises:
        DatabaseDamagedError: the check reports problems, or the file is not a database at all.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        with translate_busy(), engine.connect() as raw:
            conn = raw.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            found = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(20)")]
            conn.rollback()
    except DatabaseError as exc:
        if getattr(exc.orig, "sqlite_errorcode", None) not in _SQLITE_CORRUPT_CODES:
            raise
        raise DatabaseDamagedError(f"the database {engine.url.database} is damaged: {exc.orig}") from exc
    if found != ["ok"]:
        raise DatabaseDamagedError(f"the database {engine.url.database} is damaged: {'; '.join(found[:3])}"
                                   + (f" (and {len(found) - 3} more)" if len(found) > 3 else ""))


def _check_sqlite(conn: Connection) -> None:
    """Check the SQLite journal mode and synchronous level of one pooled connection."""
    problems: list[str] = []
    journal_mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()).lower()
    if journal_mode != "wal":
        problems.append(f"journal_mode is {journal_mode!r}, must be 'wal' (PRAGMA journal_mode=WAL)")
    synchronous = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    if synchronous != _SQLITE_SYNCHRONOUS_FULL:
        problems.append(
            f"synchronous is {synchronous}, must be 2 (FULL): NORMAL can lose the last commits on power "
            "loss (PRAGMA synchronous=FULL)"
        )
    if problems:
        raise UnsafeStorageError(
            "unsafe SQLite settings: " + "; ".join(problems),
            hint="open the database with edi.store.open_engine, which sets these on every connection",
        )


def _check_postgresql(conn: Connection) -> None:
    """Check the PostgreSQL fsync and synchronous_commit settings."""
    problems: list[str] = []
    fsync = str(conn.exec_driver_sql("SHOW fsync").scalar_one()).lower()
    if fsync != "on":
        problems.append(f"fsync is {fsync!r}, must be 'on' (postgresql.conf: fsync = on)")
    sync_commit = str(conn.exec_driver_sql("SHOW synchronous_commit").scalar_one()).lower()
    if sync_commit == "off":
        problems.append(
            "synchronous_commit is 'off', must be 'on' (postgresql.conf, ALTER ROLE/DATABASE ... SET "
            "synchronous_commit = on, or the connection options)"
        )
    if problems:
        raise UnsafeStorageError(
            "unsafe PostgreSQL settings: " + "; ".join(problems),
            hint="change the server settings, reload PostgreSQL, then start again",
        )
