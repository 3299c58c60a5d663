"""Schema versioning: compare the database with the migrations shipped in the package (F26).

Migrations live in ``edi/store/migrations`` and run through Alembic programmatically; no
``alembic.ini`` is needed. The running code never works on a schema it does not know.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData

from edi.store.errors import SchemaOutdatedError, SchemaTooNewError, translate_busy

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "target_metadata",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def target_metadata() -> MetaData:
    """Return the metadata holding every store table (imports each table module)."""
    from edi.store import control_numbers, pipeline_tables  # noqa: F401, PLC0415 - registers their tables
    from edi.store._base import metadata  # noqa: PLC0415

    return metadata


def alembic_config(connection: Connection | None = None) -> Config:
    """Build an Alembic config for the packaged migrations, optionally bound to ``connection``."""
    config = Config()
    # configparser interpolation: a literal % in the install path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest revision the code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is stamped with, or None for an unversioned database."""
    with translate_busy(), engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the packaged migrations up to ``revision`` in one transaction (``edi db upgrade``)."""
    _run_upgrade(engine, revision)


def _run_upgrade(engine: Engine, revision: str) -> None:
    """Run Alembic's upgrade on one connection, DDL and version stamp committed together."""
    with translate_busy(), engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def ensure_schema(engine: Engine, upgrade: bool = False) -> None:
    """Make sure the database schema is exactly the code's head revision.

    An empty database is created when ``upgrade`` is true; an older one is upgraded when ``upgrade``
    is true and refused otherwise; a newer one is always refused.

    Raises:
        SchemaOutdatedError: the database is empty or older than the code and ``upgrade`` is false.
        SchemaTooNewError: the database carries a revision this code does not know.
    """
    current = current_revision(engine)
    script = ScriptDirectory.from_config(alembic_config())
    head = head_revision()
    if current == head:
        return
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaTooNewError(
            f"database schema revision {current!r} is unknown to this code (newest known: {head!r})"
        )
    if not upgrade:
        state = "is not initialised" if current is None else f"is at revision {current!r}"
        raise SchemaOutdatedError(f"database schema {state}; this code needs revision {head!r}")
    _run_upgrade(engine, "head")
