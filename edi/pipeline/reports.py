"""Reports over the order records: fill rate per PO and overall, and one PO's whole story."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from edi.model import PackConfirmation, PurchaseOrderAck
from edi.store.pipeline_tables import (
    exception_log,
    interchange,
    outbox,
    po_line_trail,
    po_transition,
    purchase_order,
    shipment,
)


@dataclass(frozen=True)
class FillRate:
    """Units of one acknowledged PO: requested, accepted in the 855, shipped on 856s."""

    po_number: str
    hot: bool
    requested: int
    accepted: int
    shipped: int
    filled: int
    """Units accepted and shipped (per line, the smaller of the two)."""

    @property
    def rate(self) -> float:
        """Fill rate: units accepted and shipped / units requested."""
        return self.filled / self.requested if self.requested else 0.0

    @property
    def ack_rate(self) -> float:
        """Units accepted / units requested (what the 855 promised)."""
        return self.accepted / self.requested if self.requested else 0.0


def fill_rates(conn: Connection, partner: str, accepted_codes: frozenset[str], *, hot_only: bool = False
               ) -> list[FillRate]:
    """One FillRate per acknowledged PO version of ``partner``, oldest first."""
    shipped: dict[tuple[str, str], int] = defaultdict(int)
    for (text,) in conn.execute(select(shipment.c.pack).where(shipment.c.partner == partner,
                                                              shipment.c.state == "shipped")):
        for carton in PackConfirmation.model_validate_json(text).cartons:
            for item in carton.items:
                shipped[(item.vendor_central_po_number, item.line_number)] += item.quantity
    q = (select(purchase_order.c.po_number, purchase_order.c.hot, purchase_order.c.acknowledgement)
         .where(purchase_order.c.partner == partner, purchase_order.c.acknowledgement.is_not(None))
         .order_by(purchase_order.c.id))
    if hot_only:
        q = q.where(purchase_order.c.hot.is_(True))
    out = []
    for r in conn.execute(q):
        ack = PurchaseOrderAck.model_validate_json(r.acknowledgement)
        req = acc = shp = filled = 0
        for line in ack.lines:
            a = sum(s.quantity for s in line.statuses if s.code in accepted_codes)
            s_ = shipped.get((r.po_number, line.line_number), 0)
            req += int(line.quantity_ordered)
            acc += a
            shp += s_
            filled += min(a, s_)
        out.append(FillRate(r.po_number, bool(r.hot), req, acc, shp, filled))
    return out


def _documents(conn: Connection, partner: str, po: Any) -> list[dict[str, Any]]:
    """The 997 of the PO's interchange, its 855 and the 856s of shipments that carry it: was it sent, when."""
    subjects = [f"{po.po_number}/{po.revision}"]
    ic = conn.execute(select(interchange.c.isa13, interchange.c.sender).where(
        interchange.c.id == po.interchange_id)).first()
    answers = f"{ic.sender}/{ic.isa13}/" if ic is not None else None
    shipments = [r.shipment_id for r in conn.execute(select(shipment.c.shipment_id, shipment.c.pack).where(
        shipment.c.partner == partner, shipment.c.state == "shipped"))
        if any(i.vendor_central_po_number == po.po_number for c in PackConfirmation.model_validate_json(r.pack).cartons
               for i in c.items)]
    q = select(outbox).where(outbox.c.partner == partner).order_by(outbox.c.id)
    rows = conn.execute(q.where(
        (outbox.c.subject.in_(subjects + shipments))
        | (outbox.c.subject.startswith(answers, autoescape=True) if answers else False)))
    return [{"kind": r.kind, "file": r.filename, "isa13": f"{r.isa13:09d}", "created_at": r.created_at.isoformat(),
             "sent_at": r.sent_at.isoformat() if r.sent_at else None, "attempts": r.attempts,
             "partner_997": r.ack_status} for r in rows]


def po_story(conn: Connection, partner: str, po_number: str) -> list[dict[str, Any]]:
    """Every stored version of a PO with its transitions, line trail and exceptions (for `edi po show`)."""
    versions = []
    for r in conn.execute(select(purchase_order).where(purchase_order.c.partner == partner,
                                                       purchase_order.c.po_number == po_number)
                          .order_by(purchase_order.c.revision)):
        versions.append({
            "po_number": r.po_number, "revision": r.revision, "state": r.state, "hot": bool(r.hot),
            "received_at": r.received_at.isoformat(), "deadline_855_at": r.deadline_855_at.isoformat(),
            "transitions": [{"at": t.at.isoformat(), "from": t.from_state, "to": t.to_state, "reason": t.reason}
                            for t in conn.execute(select(po_transition).where(po_transition.c.po_id == r.id)
                                                  .order_by(po_transition.c.id))],
            "trail": [{"line": t.line_number, "stage": t.stage, "at": t.at.isoformat(), "detail": t.detail}
                      for t in conn.execute(select(po_line_trail).where(po_line_trail.c.po_id == r.id)
                                            .order_by(po_line_trail.c.line_number, po_line_trail.c.id))],
            "sales_order": json.loads(r.sales_order) if r.sales_order else None,
            "documents": _documents(conn, partner, r),
        })
    if versions:
        versions[-1]["exceptions"] = [
            {"id": x.id, "kind": x.kind, "line": x.line_number, "status": x.status, "message": x.message,
             "hint": x.hint, "resolved_by": x.resolved_by, "resolution": x.resolution}
            for x in conn.execute(select(exception_log).where(exception_log.c.partner == partner,
                                                              exception_log.c.po_number == po_number)
                                  .order_by(exception_log.c.id))]
    return versions
