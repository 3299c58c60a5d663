"""The persistent store: engine, schema versioning and the control-number ledger.

The only package that speaks SQL. Later modules (inbound ledger, outbox, exceptions) add their
tables to the same metadata and their revisions to ``edi/store/migrations/versions``.
"""

from __future__ import annotations

from edi.store.control_numbers import Kind, Party, Reservation, peek, reserve, set_next
from edi.store.engine import check_durability, check_integrity, open_engine, resolve_url, transaction
from edi.store.errors import (
    DatabaseDamagedError,
    SchemaOutdatedError,
    SchemaTooNewError,
    StoreBusyError,
    StoreError,
    UnsafeStorageError,
    UnsupportedDatabaseError,
)
from edi.store.migrate import current_revision, ensure_schema, head_revision, upgrade

__all__ = [
    "DatabaseDamagedError",
    "Kind",
    "Party",
    "Reservation",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "StoreBusyError",
    "StoreError",
    "UnsafeStorageError",
    "UnsupportedDatabaseError",
    "check_durability",
    "check_integrity",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "open_engine",
    "peek",
    "reserve",
    "resolve_url",
    "set_next",
    "transaction",
    "upgrade",
]
