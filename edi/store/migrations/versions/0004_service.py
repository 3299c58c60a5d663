"""The service: partner and transport key on inbound files, destinations on outbox rows, leases and heartbeats.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

- ``inbound_file.partner``: the partner the file's interchanges were routed to (set when processed);
  ``transport_key``: the transport's own dedupe key (an AS2 Message-ID), unique per connector.
- ``outbox.connector``: the destination that delivers the row (the connector its PO or interchange came
  in by); ``failures`` and ``last_error``: delivery attempts that failed, for DELIVERY_FAILED and status.
- ``exception_log.detail``: a traceback for INTERNAL_ERROR (never a payload).
- ``lease``: one holder per job kind or connector at a time, across daemons (expires if its holder dies).
- ``daemon``: one row per running daemon with its heartbeat.
- ``connector_status``: each connector's last poll, last success and last error.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import edi.store._base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = edi.store._base.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Add the columns and the three service tables."""
    with op.batch_alter_table("inbound_file") as batch:
        batch.add_column(sa.Column("partner", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("transport_key", sa.String(length=200), nullable=True,
                                   comment="AS2 Message-ID; unique per connector"))
    op.create_index("uq_inbound_file_transport_key", "inbound_file", ["connector", "transport_key"], unique=True)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("connector", sa.String(length=64), nullable=True,
                                   comment="the destination that delivers it"))
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    with op.batch_alter_table("exception_log") as batch:
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True, comment="traceback of an INTERNAL_ERROR"))
    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=100), primary_key=True),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_table(
        "daemon",
        sa.Column("id", sa.String(length=100), primary_key=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
        sa.Column("stopped_at", _TS, nullable=True),
    )
    op.create_table(
        "connector_status",
        sa.Column("connector", sa.String(length=64), primary_key=True),
        sa.Column("last_poll_at", _TS, nullable=True),
        sa.Column("last_success_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", _TS, nullable=True),
        sa.Column("files_taken", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    for table in ("connector_status", "daemon", "lease"):
        op.drop_table(table)
    with op.batch_alter_table("exception_log") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("outbox") as batch:
        for name in ("last_error", "failures", "connector"):
            batch.drop_column(name)
    op.drop_index("uq_inbound_file_transport_key", table_name="inbound_file")
    with op.batch_alter_table("inbound_file") as batch:
        for name in ("transport_key", "partner"):
            batch.drop_column(name)
