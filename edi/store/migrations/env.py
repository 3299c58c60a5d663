"""Alembic environment for the edi store; normally driven by `edi.store.migrate`.

The caller passes an open `Connection` in ``config.attributes["connection"]``; the migration runs in
that connection's transaction. Without one (the ``alembic`` command line), the URL comes from
``sqlalchemy.url`` or the usual ``EDI_*`` environment, through `edi.store.open_engine`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from edi.store.engine import open_engine
from edi.store.migrate import target_metadata


def _configure(connection: Connection) -> None:
    """Run the migrations on ``connection`` inside its transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the migration SQL for the configured URL without connecting."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata(),
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the caller's connection, or on a new engine."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = open_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
