"""The embedded IMS: a stock ledger in the same database, for the demo and for small vendors.

One interface for every IMS adapter: ``submit_order`` (idempotent on partner + PO + revision),
``allocate`` (per line from available stock) and, later, pack confirmations.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from edi.model import Allocation, AllocationLine, SalesOrder
from edi.store.pipeline_tables import stock


class EmbeddedIms:
    """Allocates from the ``stock`` table; the available quantity is on hand minus allocated."""

    def import_stock(self, conn: Connection, path: Path, now: datetime) -> int:
        """Load or replace stock rows from a CSV with columns sku, on_hand (optional: discontinued)."""
        count = 0
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                sku = (row.get("sku") or "").strip()
                if not sku:
                    continue
                on_hand = int(row.get("on_hand") or 0)
                discontinued = (row.get("discontinued") or "").strip().lower() in ("1", "true", "yes", "y")
                if conn.execute(select(stock.c.sku).where(stock.c.sku == sku)).first():
                    conn.execute(update(stock).where(stock.c.sku == sku).values(
                        on_hand=on_hand, discontinued=discontinued, updated_at=now))
                else:
                    conn.execute(insert(stock).values(sku=sku, on_hand=on_hand, allocated=0,
                                                      discontinued=discontinued, updated_at=now))
                count += 1
        return count

    def submit_order(self, conn: Connection, order: SalesOrder) -> str:
        """Accept a sales order; the key (partner + PO + revision) makes a resubmission a no-op."""
        del conn
        return f"{order.partner}:{order.vendor_central_po_number}:{order.revision}"

    def allocate(self, conn: Connection, order: SalesOrder, now: datetime) -> Allocation:
        """Allocate each line from available stock; the rest is backordered (CSH*Y) or unavailable."""
        lines = []
        for line in order.lines:
            row = conn.execute(select(stock).where(stock.c.sku == line.sku)).first()
            if row is None or row.discontinued:
                lines.append(AllocationLine(line_number=line.line_number, allocated=0, unavailable=line.quantity,
                                            reason="invalid_item" if row is None else "discontinued"))
                continue
            available = max(row.on_hand - row.allocated, 0)
            take = min(available, line.quantity)
            rest = line.quantity - take
            if take:
                conn.execute(update(stock).where(stock.c.sku == line.sku).values(
                    allocated=stock.c.allocated + take, updated_at=now))
            lines.append(AllocationLine(
                line_number=line.line_number, allocated=take,
                backordered=rest if order.backorder_allowed else 0,
                unavailable=0 if order.backorder_allowed else rest,
                reason=None if not rest else "out_of_stock",
                expected_ship_date=now.date(),
                backorder_date=None))
        return Allocation(partner=order.partner, vendor_central_po_number=order.vendor_central_po_number,
                          revision=order.revision, allocated_at=now, lines=tuple(lines))
