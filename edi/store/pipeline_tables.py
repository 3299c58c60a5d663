"""Tables of the order pipeline: inbound ledger, dedupe keys, PO records and trail, outbox, exceptions, stock.

All keys that must never repeat are unique indexes, so a race or a retry cannot create a second
business effect (reliability I2, I4): file SHA-256, the envelope key (sender, receiver, ISA13), the
business key (partner, PO number, revision), one outbox document per (kind, subject).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from edi.store._base import ID_TYPE, UTCDateTime, metadata

inbound_file = Table(
    "inbound_file", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("connector", String(64), nullable=False),
    Column("remote_name", Text, nullable=False, comment="data, never a local path"),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("archive_path", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("disposition", String(32), nullable=False, comment="new | duplicate_transport | quarantined | processed"),
    Column("processed_at", UTCDateTime, nullable=True),
    Column("partner", String(32), nullable=True),
    Column("transport_key", String(200), nullable=True, comment="AS2 Message-ID; unique per connector"),
    UniqueConstraint("sha256", name="uq_inbound_file_sha256"),
)
Index("uq_inbound_file_transport_key", inbound_file.c.connector, inbound_file.c.transport_key, unique=True)

inbound_duplicate = Table(
    "inbound_duplicate", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("connector", String(64), nullable=False),
    Column("remote_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("disposition", String(32), nullable=False),
)

interchange = Table(
    "interchange", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("inbound_file_id", ForeignKey("inbound_file.id"), nullable=False),
    Column("sender", String(40), nullable=False),
    Column("receiver", String(40), nullable=False),
    Column("isa13", String(9), nullable=False),
    Column("usage", String(1), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("sha256", String(64), nullable=False, server_default="",
           comment="the interchange's bytes, trailing space stripped"),
    UniqueConstraint("sender", "receiver", "isa13", name="uq_interchange_envelope"),
)

purchase_order = Table(
    "purchase_order", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("partner", String(32), nullable=False),
    Column("po_number", String(30), nullable=False, comment="vendor_central_po_number (BEG03)"),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("hot", Boolean, nullable=False, default=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("deadline_855_at", UTCDateTime, nullable=False),
    Column("alarm_raised", Boolean, nullable=False, default=False),
    Column("deadline_missed", Boolean, nullable=False, default=False, server_default=false(),
           comment="DEADLINE_MISSED logged"),
    Column("interchange_id", ForeignKey("interchange.id"), nullable=True),
    Column("st02", String(9), nullable=False),
    Column("canonical", Text, nullable=False, comment="the 850's JSON view, written once"),
    Column("sales_order", Text, nullable=True),
    Column("allocation", Text, nullable=True),
    Column("acknowledgement", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner", "po_number", "revision", name="uq_purchase_order_business"),
)

po_transition = Table(
    "po_transition", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("po_id", ForeignKey("purchase_order.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
)

po_line_trail = Table(
    "po_line_trail", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("po_id", ForeignKey("purchase_order.id"), nullable=False),
    Column("line_number", String(20), nullable=False),
    Column("stage", String(16), nullable=False, comment="850 | sales_order | allocation | ack | asn"),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("kind", String(4), nullable=False, comment="997 | TA1 | 855 | 856"),
    Column("subject", String(80), nullable=False, comment="what it answers: ISA13/GS06, PO+revision, shipment"),
    Column("partner", String(32), nullable=False),
    Column("isa13", BigInteger, nullable=False),
    Column("filename", String(120), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("counterpart", String(40), nullable=True, comment="the receiver, qualifier/id (ISA07/08)"),
    Column("gs06", BigInteger, nullable=True, comment="our group control number, which the partner's 997 names"),
    Column("ack_status", String(24), nullable=True,
           comment="the partner's 997: accepted | accepted_with_errors | partial | rejected | overdue"),
    Column("acked_at", UTCDateTime, nullable=True),
    Column("connector", String(64), nullable=True, comment="the destination that delivers it"),
    Column("failures", Integer, nullable=False, default=0, server_default="0"),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("kind", "subject", name="uq_outbox_subject"),
)

exception_log = Table(
    "exception_log", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("partner", String(32), nullable=True),
    Column("po_number", String(30), nullable=True),
    Column("line_number", String(20), nullable=True),
    Column("message", Text, nullable=False),
    Column("hint", Text, nullable=False, default=""),
    Column("dedupe_key", String(200), nullable=False, comment="one open entry per problem"),
    Column("status", String(10), nullable=False, default="open"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("detail", Text, nullable=True, comment="traceback of an INTERNAL_ERROR"),
    UniqueConstraint("dedupe_key", name="uq_exception_log_dedupe_key"),
)
Index("ix_exception_log_status", exception_log.c.status)

stock = Table(
    "stock", metadata,
    Column("sku", String(64), primary_key=True),
    Column("on_hand", BigInteger, nullable=False),
    Column("allocated", BigInteger, nullable=False, default=0),
    Column("discontinued", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

shipment = Table(
    "shipment", metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("shipment_id", String(30), nullable=False),
    Column("partner", String(32), nullable=False),
    Column("pack_sha256", String(64), nullable=False),
    Column("pack", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False, comment="shipped | held"),
    UniqueConstraint("partner", "shipment_id", name="uq_shipment_partner_id"),
)

lease = Table(
    "lease", metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

daemon = Table(
    "daemon", metadata,
    Column("id", String(100), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
)

connector_status = Table(
    "connector_status", metadata,
    Column("connector", String(64), primary_key=True),
    Column("last_poll_at", UTCDateTime, nullable=True),
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UTCDateTime, nullable=True),
    Column("files_taken", BigInteger, nullable=False, default=0, server_default="0"),
)

PIPELINE_TABLES = (inbound_file, inbound_duplicate, interchange, purchase_order, po_transition, po_line_trail,
                   outbox, exception_log, stock, shipment, lease, daemon, connector_status)
