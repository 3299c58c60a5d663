"""Interchange content hash, the missed-deadline flag, and the partner's 997 on outbox rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

- ``interchange.sha256``: the interchange's own bytes, so the same ISA13 with other content is told
  apart from a re-sent copy (rows from before get an empty hash: they only ever match themselves).
- ``purchase_order.deadline_missed``: DEADLINE_MISSED was logged (once).
- ``outbox.counterpart``, ``gs06``, ``ack_status``, ``acked_at``: whom a document went to, the group
  control number the partner's 997 names, and what that 997 said.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import edi.store._base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns (with server defaults where existing rows need a value)."""
    with op.batch_alter_table("interchange") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=False, server_default="",
                                   comment="the interchange's bytes, trailing space stripped"))
    with op.batch_alter_table("purchase_order") as batch:
        batch.add_column(sa.Column("deadline_missed", sa.Boolean(), nullable=False, server_default=sa.false(),
                                   comment="DEADLINE_MISSED logged"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("counterpart", sa.String(length=40), nullable=True,
                                   comment="the receiver, qualifier/id (ISA07/08)"))
        batch.add_column(sa.Column("gs06", sa.BigInteger(), nullable=True,
                                   comment="our group control number, which the partner's 997 names"))
        batch.add_column(sa.Column("ack_status", sa.String(length=24), nullable=True,
                                   comment="the partner's 997: accepted | accepted_with_errors | partial | rejected "
                                           "| overdue"))
        batch.add_column(sa.Column("acked_at", edi.store._base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("outbox") as batch:
        for name in ("acked_at", "ack_status", "gs06", "counterpart"):
            batch.drop_column(name)
    with op.batch_alter_table("purchase_order") as batch:
        batch.drop_column("deadline_missed")
    with op.batch_alter_table("interchange") as batch:
        batch.drop_column("sha256")
