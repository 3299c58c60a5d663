"""Engine settings, durability checks and error translation (I12, F22, F25)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from edi.store import (
    StoreBusyError,
    UnsafeStorageError,
    UnsupportedDatabaseError,
    check_durability,
    open_engine,
    resolve_url,
    transaction,
)
from edi.store._base import UTCDateTime
from edi.store.engine import DATA_DIR_ENV, DATABASE_URL_ENV, SQLITE_FILE_NAME


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()


def test_i12_sqlite_pragmas_set_on_every_connection(sqlite_engine: Engine) -> None:
    """Each SQLite connection runs WAL, synchronous=FULL, a 30 s busy timeout and foreign keys."""
    assert str(_pragma(sqlite_engine, "journal_mode")).lower() == "wal"
    assert _pragma(sqlite_engine, "synchronous") == 2
    assert _pragma(sqlite_engine, "busy_timeout") == 30000
    assert _pragma(sqlite_engine, "foreign_keys") == 1
    check_durability(sqlite_engine)


def test_busy_timeout_is_configurable(tmp_path: Path) -> None:
    """The busy timeout given to open_engine reaches the connection."""
    eng = open_engine(data_dir=tmp_path, busy_timeout_ms=1234)
    try:
        assert _pragma(eng, "busy_timeout") == 1234
    finally:
        eng.dispose()


def test_f25_synchronous_normal_refused(sqlite_engine: Engine) -> None:
    """A SQLite connection with synchronous=NORMAL is refused with a message naming the fix."""

    @event.listens_for(sqlite_engine, "connect")
    def _weaken(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    with pytest.raises(UnsafeStorageError) as info:
        check_durability(sqlite_engine)
    assert info.value.code == "STORE_UNSAFE_STORAGE"
    assert "synchronous=FULL" in str(info.value)


def test_f25_rollback_journal_refused(tmp_path: Path) -> None:
    """A SQLite database not in WAL mode is refused."""
    eng = create_engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    try:
        with pytest.raises(UnsafeStorageError, match="journal_mode"):
            check_durability(eng)
    finally:
        eng.dispose()


@pytest.mark.postgres
def test_f25_postgresql_synchronous_commit_off_refused(pg_database_url: str) -> None:
    """PostgreSQL passes with fsync and synchronous_commit on, and is refused with the latter off."""
    eng = open_engine(pg_database_url)
    try:
        check_durability(eng)

        @event.listens_for(eng, "connect")
        def _weaken(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("SET synchronous_commit TO off")
            dbapi_connection.commit()

        eng.dispose()
        with pytest.raises(UnsafeStorageError, match="synchronous_commit"):
            check_durability(eng)
    finally:
        eng.dispose()


def test_begin_is_immediate(sqlite_engine: Engine) -> None:
    """A transaction takes the write lock at BEGIN, so a second writer waits from its start."""
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = open_engine(str(sqlite_engine.url), busy_timeout_ms=50)
    try:
        with sqlite_engine.begin() as holder:
            holder.exec_driver_sql("SELECT 1")  # a read only: the lock is already held
            with pytest.raises(StoreBusyError) as info, transaction(other) as conn:
                conn.exec_driver_sql("SELECT 1")
        assert isinstance(info.value.__cause__, OperationalError)
        assert info.value.code == "STORE_BUSY"
    finally:
        other.dispose()


def test_default_database_is_a_file_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL the store is edi.sqlite3 in EDI_DATA_DIR, created on demand."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "state"))
    url = resolve_url()
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "state" / SQLITE_FILE_NAME)
    assert (tmp_path / "state").is_dir()


def test_database_url_environment_and_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """EDI_DATABASE_URL is used, and a bare postgresql:// URL gets the psycopg 3 driver."""
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://edi@db.example/edi")
    assert resolve_url().drivername == "postgresql+psycopg"
    assert resolve_url("postgresql+psycopg://x@y/z").drivername == "postgresql+psycopg"
    with pytest.raises(UnsupportedDatabaseError):
        resolve_url("mysql://x@y/z")


def test_utc_column_refuses_naive_datetime() -> None:
    """A naive datetime never reaches a UTC column."""
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), create_engine("sqlite://").dialect)
