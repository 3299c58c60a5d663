"""Order pipeline: inbound ledger, dedupe keys, PO records and trail, outbox, exception log, stock, shipments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The tables as they stand at this revision, written out (a revision must not follow later edits
of ``edi.store.pipeline_tables``); later changes to them come as new revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import edi.store._base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the pipeline tables."""
    op.create_table(
        "exception_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("partner", sa.String(length=32), nullable=True),
        sa.Column("po_number", sa.String(length=30), nullable=True),
        sa.Column("line_number", sa.String(length=20), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("hint", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False, comment="one open entry per problem"),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", edi.store._base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exception_log")),
        sa.UniqueConstraint("dedupe_key", name="uq_exception_log_dedupe_key"),
    )
    op.create_index("ix_exception_log_status", "exception_log", ["status"], unique=False)
    op.create_table(
        "inbound_duplicate",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("remote_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seen_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_duplicate")),
    )
    op.create_table(
        "inbound_file",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("remote_name", sa.Text(), nullable=False, comment="data, never a local path"),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=False),
        sa.Column("received_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "disposition",
            sa.String(length=32),
            nullable=False,
            comment="new | duplicate_transport | quarantined | processed",
        ),
        sa.Column("processed_at", edi.store._base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_file")),
        sa.UniqueConstraint("sha256", name="uq_inbound_file_sha256"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False, comment="997 | TA1 | 855 | 856"),
        sa.Column(
            "subject",
            sa.String(length=80),
            nullable=False,
            comment="what it answers: ISA13/GS06, PO+revision, shipment",
        ),
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("isa13", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", edi.store._base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("kind", "subject", name="uq_outbox_subject"),
    )
    op.create_table(
        "shipment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("shipment_id", sa.String(length=30), nullable=False),
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("pack_sha256", sa.String(length=64), nullable=False),
        sa.Column("pack", sa.Text(), nullable=False),
        sa.Column("received_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, comment="shipped | held"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment")),
        sa.UniqueConstraint("partner", "shipment_id", name="uq_shipment_partner_id"),
    )
    op.create_table(
        "stock",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("discontinued", sa.Boolean(), nullable=False),
        sa.Column("updated_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_stock")),
    )
    op.create_table(
        "interchange",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("inbound_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("receiver", sa.String(length=40), nullable=False),
        sa.Column("isa13", sa.String(length=9), nullable=False),
        sa.Column("usage", sa.String(length=1), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_file_id"], ["inbound_file.id"], name=op.f("fk_interchange_inbound_file_id_inbound_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interchange")),
        sa.UniqueConstraint("sender", "receiver", "isa13", name="uq_interchange_envelope"),
    )
    op.create_table(
        "purchase_order",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("po_number", sa.String(length=30), nullable=False, comment="vendor_central_po_number (BEG03)"),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("hot", sa.Boolean(), nullable=False),
        sa.Column("received_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_855_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("alarm_raised", sa.Boolean(), nullable=False),
        sa.Column("interchange_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("st02", sa.String(length=9), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False, comment="the 850's JSON view, written once"),
        sa.Column("sales_order", sa.Text(), nullable=True),
        sa.Column("allocation", sa.Text(), nullable=True),
        sa.Column("acknowledgement", sa.Text(), nullable=True),
        sa.Column("updated_at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["interchange_id"], ["interchange.id"], name=op.f("fk_purchase_order_interchange_id_interchange")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order")),
        sa.UniqueConstraint("partner", "po_number", "revision", name="uq_purchase_order_business"),
    )
    op.create_table(
        "po_line_trail",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("po_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_number", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False, comment="850 | sales_order | allocation | ack | asn"),
        sa.Column("at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_order.id"], name=op.f("fk_po_line_trail_po_id_purchase_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_po_line_trail")),
    )
    op.create_table(
        "po_transition",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("po_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", edi.store._base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_order.id"], name=op.f("fk_po_transition_po_id_purchase_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_po_transition")),
    )


def downgrade() -> None:
    """Drop the pipeline tables."""
    op.drop_table("po_transition")
    op.drop_table("po_line_trail")
    op.drop_table("purchase_order")
    op.drop_table("interchange")
    op.drop_table("stock")
    op.drop_table("shipment")
    op.drop_table("outbox")
    op.drop_table("inbound_file")
    op.drop_table("inbound_duplicate")
    op.drop_table("exception_log")
