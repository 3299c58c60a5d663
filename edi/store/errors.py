"""Errors raised by the persistent store.

Every store error carries a stable ``code`` (UPPER_SNAKE) and a ``hint`` naming what to do next.
Driver exceptions (sqlite3, psycopg) never leave the store untranslated::

    StoreError                      STORE_ERROR
    ├── UnsafeStorageError          STORE_UNSAFE_STORAGE        durability settings refuse a start (I12, F25)
    ├── UnsupportedDatabaseError    STORE_UNSUPPORTED_DATABASE  URL is neither SQLite nor PostgreSQL
    ├── SchemaOutdatedError         STORE_SCHEMA_OUTDATED       database older than the code (F26)
    ├── SchemaTooNewError           STORE_SCHEMA_TOO_NEW        database newer than the code (F26)
    ├── DatabaseDamagedError        STORE_DAMAGED               the SQLite file fails its integrity check
    └── StoreBusyError              STORE_BUSY                  lock not obtained in time; retriable (F22)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

__all__ = [
    "DatabaseDamagedError",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "StoreBusyError",
    "StoreError",
    "UnsafeStorageError",
    "UnsupportedDatabaseError",
    "translate_busy",
]

from edi.errors import EdiError, FatalError, RetriableError

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
# PostgreSQL SQLSTATEs meaning "the lock was not granted in time".
_PG_LOCK_NOT_AVAILABLE = "55P03"
_PG_QUERY_CANCELED = "57014"


class StoreError(EdiError):
    """Base class of every error the store raises."""

    code: str = "STORE_ERROR"
    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, code=type(self).code)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        """Render as ``CODE message; hint: ...``."""
        text = f"{self.code} {self.message}"
        return f"{text}; hint: {self.hint}" if self.hint else text


class UnsafeStorageError(StoreError, FatalError):
    """The database is configured so that committed data could be lost on power failure."""

    code = "STORE_UNSAFE_STORAGE"
    default_hint = "fix the database durability settings named in the message, then start again"


class UnsupportedDatabaseError(StoreError, FatalError):
    """The database URL names a backend the store does not support."""

    code = "STORE_UNSUPPORTED_DATABASE"
    default_hint = "use a sqlite:/// file URL or a postgresql:// URL"


class SchemaOutdatedError(StoreError, FatalError):
    """The database schema is older than this version of the code."""

    code = "STORE_SCHEMA_OUTDATED"
    default_hint = "run `edi db upgrade` (back up the database first)"


class SchemaTooNewError(StoreError, FatalError):
    """The database schema is newer than this version of the code knows."""

    code = "STORE_SCHEMA_TOO_NEW"
    default_hint = "upgrade the edi software to the version that wrote this database; never downgrade it"


class DatabaseDamagedError(StoreError, FatalError):
    """The SQLite file fails its integrity check: running on it could lose or mix up records."""

    code = "STORE_DAMAGED"
    default_hint = ("stop every process using it, keep a copy of the file, then restore the last backup (or "
                    "`sqlite3 FILE .recover` into a new file and check it); never run on a damaged store")


class StoreBusyError(StoreError, RetriableError):
    """A database lock was not obtained within the busy timeout; the operation may be retried."""

    code = "STORE_BUSY"
    default_hint = "another process holds the write lock; retry later or raise the busy timeout"


def is_busy(exc: OperationalError) -> bool:
    """Tell whether a driver error means a lock was not obtained in time (by error code, not text)."""
    orig = exc.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return getattr(orig, "sqlstate", None) in (_PG_LOCK_NOT_AVAILABLE, _PG_QUERY_CANCELED)


@contextmanager
def translate_busy() -> Iterator[None]:
    """Re-raise a "database is locked" driver error as `StoreBusyError`, ``from`` the original."""
    try:
        yield
    except OperationalError as exc:
        if is_busy(exc):
            raise StoreBusyError(f"database lock not obtained in time ({type(exc.orig).__name__})") from exc
        raise
