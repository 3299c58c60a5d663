"""Control-number counters and their reservation audit trail.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``control_number`` and ``control_number_reservation``."""
    op.create_table(
        "control_number",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("sender_qualifier", sa.String(2), nullable=False),
        sa.Column("sender_id", sa.String(35), nullable=False),
        sa.Column("receiver_qualifier", sa.String(2), nullable=False),
        sa.Column("receiver_id", sa.String(35), nullable=False),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("wrap_at", sa.BigInteger(), nullable=False, server_default=sa.text("999999999")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('ISA', 'GS')", name=op.f("ck_control_number_kind")),
        sa.CheckConstraint("wrap_at >= 1", name=op.f("ck_control_number_wrap_at_positive")),
        sa.CheckConstraint(
            "last_value >= 0 AND last_value <= wrap_at", name=op.f("ck_control_number_last_value_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_number")),
        sa.UniqueConstraint(
            "sender_qualifier",
            "sender_id",
            "receiver_qualifier",
            "receiver_id",
            "kind",
            name=op.f("uq_control_number_pair_kind"),
        ),
    )
    op.create_table(
        "control_number_reservation",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("sender_qualifier", sa.String(2), nullable=False),
        sa.Column("sender_id", sa.String(35), nullable=False),
        sa.Column("receiver_qualifier", sa.String(2), nullable=False),
        sa.Column("receiver_id", sa.String(35), nullable=False),
        sa.Column("isa13", sa.BigInteger(), nullable=True),
        sa.Column("gs06", sa.BigInteger(), nullable=True),
        sa.Column("gs06_last", sa.BigInteger(), nullable=True),
        sa.Column("st02_first", sa.BigInteger(), nullable=True),
        sa.Column("st02_last", sa.BigInteger(), nullable=True),
        sa.Column("previous_last_value", sa.BigInteger(), nullable=True),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_number_reservation")),
    )
    op.create_index(
        op.f("ix_control_number_reservation_isa13"),
        "control_number_reservation",
        ["sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id", "isa13"],
    )


def downgrade() -> None:
    """Drop the control-number tables."""
    op.drop_index(op.f("ix_control_number_reservation_isa13"), table_name="control_number_reservation")
    op.drop_table("control_number_reservation")
    op.drop_table("control_number")
