"""JSON views the outbound mappings read, built from the order models (pure functions, no I/O).

``acknowledgement_view`` joins each sales-order line with its allocation and splits the ordered
quantity into accepted, backordered and rejected parts, so that by construction

- accepted <= allocated <= ordered, and accepted + backordered + rejected = ordered;
- units are backordered only when the PO allows backorders (CSH*Y); otherwise they are rejected;
- every line of the order has a status, whatever the allocation says.

The status codes come from the partner's code table (the mapping's ``constants``), so the code
family (IA/IB/IR/R2 or another) is configuration, not code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from edi.mapping.engine import id_pairs
from edi.model import Allocation, PackConfirmation, SalesOrder

DEFAULT_CODES = {
    "ack_accepted": "IA",
    "ack_backordered": "IB",
    "ack_rejected_out_of_stock": "IR",
    "ack_rejected_discontinued": "IR",
    "ack_rejected_invalid_item": "R2",
    "ack_rejected_other": "IR",
    "ack_date_qualifier": "068",
}


def accepted_codes(codes: dict[str, str] | None = None) -> frozenset[str]:
    """The partner's ACK01 codes that accept units for shipment now."""
    return frozenset({{**DEFAULT_CODES, **(codes or {})}["ack_accepted"]})


def shippable_codes(codes: dict[str, str] | None = None) -> frozenset[str]:
    """The partner's ACK01 codes whose units may appear on a later 856 (accepted or backordered)."""
    table = {**DEFAULT_CODES, **(codes or {})}
    return frozenset({table["ack_accepted"], table["ack_backordered"]})


class AllocationMismatchError(ValueError):
    """The allocation does not cover the order (a line without a result, or an unknown line)."""


_UNIT_CODES = {"each": "EA", "case": "CA"}


def received_lines(view_850: dict[str, Any]) -> list[dict[str, Any]]:
    """Each PO1 of an 850's canonical view as received: number, quantity, unit code, price, id pairs."""
    out = []
    for loop in view_850.get("PO1_loop") or []:
        po1 = loop.get("PO1") or {}
        pairs = id_pairs(po1)
        out.append({"line_number": str(po1.get("PO101", "")), "quantity": str(po1.get("PO102", "")),
                    "unit_code": str(po1.get("PO103", "")), "unit_price": str(po1.get("PO104", "")),
                    "product_ids": pairs})
    return out


def _whole(text: str) -> int | str:
    try:
        q = Decimal(text)
    except ArithmeticError:
        return text
    return int(q) if q == q.to_integral_value() else text


def acknowledgement_view(order: SalesOrder, allocation: Allocation, *, codes: dict[str, str] | None = None,
                         today: date | None = None, received: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The view the 855 mapping reads: order header, ``all_accepted``, and one joined entry per line.

    ``received`` (from :func:`received_lines`) are the 850's lines as received. With it, units are
    echoed exactly as the 850 sent them, and a line the 850 mapping rejected (``on_exception:
    reject_line``, so it never reached the IMS) is answered as rejected with the invalid-item code:
    every line of the PO gets an ACK, in the 850's order.
    """
    table = {**DEFAULT_CODES, **(codes or {})}
    got = {r["line_number"]: r for r in received or []}
    by_line = {a.line_number: a for a in allocation.lines}
    unknown = sorted(set(by_line) - {line.line_number for line in order.lines})
    if unknown:
        raise AllocationMismatchError(f"allocation names lines not on PO {order.vendor_central_po_number}: "
                                      f"{', '.join(unknown)}")
    missing = [line.line_number for line in order.lines if line.line_number not in by_line]
    if missing:
        raise AllocationMismatchError(f"no allocation result for line(s) {', '.join(missing)} of PO "
                                      f"{order.vendor_central_po_number}")
    qualifier = table["ack_date_qualifier"]
    lines = []
    for line in order.lines:
        a = by_line[line.line_number]
        ordered = line.quantity
        accepted = min(a.allocated, ordered)
        remaining = ordered - accepted
        backordered = min(a.backordered, remaining) if order.backorder_allowed else 0
        rejected = remaining - backordered
        reason = a.reason or ("out_of_stock" if rejected else None)
        statuses: list[dict[str, Any]] = []
        ship = a.expected_ship_date or today
        unit_code = got[line.line_number]["unit_code"] if line.line_number in got else _UNIT_CODES[line.unit]
        if accepted:
            statuses.append({"code": table["ack_accepted"], "quantity": accepted, "unit_code": unit_code,
                             "date_qualifier": qualifier if ship else None,
                             "schedule_date": ship.isoformat() if ship else None})
        if backordered:
            when = a.backorder_date
            statuses.append({"code": table["ack_backordered"], "quantity": backordered, "unit_code": unit_code,
                             "date_qualifier": qualifier if when else None,
                             "schedule_date": when.isoformat() if when else None})
        if rejected:
            statuses.append({"code": table[f"ack_rejected_{reason}"], "quantity": rejected, "unit_code": unit_code,
                             "date_qualifier": None, "schedule_date": None, "reason": reason})
        lines.append({
            "line_number": line.line_number,
            "quantity_ordered": ordered,
            "unit": line.unit,
            "unit_code": unit_code,
            "unit_price": str(line.unit_price),
            "product_ids": [p.model_dump() for p in line.product_ids],
            "accepted": accepted,
            "backordered": backordered,
            "rejected": rejected,
            "statuses": statuses,
        })
    in_order = {line.line_number for line in order.lines}
    for r in received or []:
        if r["line_number"] in in_order:
            continue
        quantity = _whole(r["quantity"])
        lines.append({
            "line_number": r["line_number"], "quantity_ordered": quantity, "unit": None,
            "unit_code": r["unit_code"], "unit_price": r["unit_price"], "product_ids": r["product_ids"],
            "accepted": 0, "backordered": 0, "rejected": quantity,
            "statuses": [{"code": table["ack_rejected_invalid_item"], "quantity": quantity,
                          "unit_code": r["unit_code"], "date_qualifier": None, "schedule_date": None,
                          "reason": "invalid_item"}],
        })
    if received:
        position = {r["line_number"]: i for i, r in enumerate(received)}
        lines.sort(key=lambda x: position.get(x["line_number"], len(position)))
    return {
        "order": order.model_dump(mode="json"),
        "all_accepted": all(x["accepted"] == x["quantity_ordered"] for x in lines),
        "lines": lines,
    }


class PackMismatchError(ValueError):
    """A pack confirmation names a PO or line the shipment's orders do not have, or mixes FCs."""


def shipment_view(orders: list[SalesOrder], pack: PackConfirmation, *, ship_from: dict[str, str],
                  created_at: datetime) -> dict[str, Any]:
    """The view the 856 mapping reads: the shipment, and per PO its cartons with items.

    Each item carries the 850 line's first product identifier (echoed as received) and the line's
    unit. Cartons holding lines of several POs are split per PO (the O level owns its P levels).
    """
    by_po = {o.vendor_central_po_number: o for o in orders}
    lines = {(o.vendor_central_po_number, x.line_number): x for o in orders for x in reversed(o.lines)}
    locations = {o.ship_to_location for o in orders}
    if len(locations) != 1:
        raise PackMismatchError(f"one ASN goes to one fulfilment centre; orders go to {sorted(map(str, locations))}")
    per_po: dict[str, list[dict[str, Any]]] = {}
    for carton in pack.cartons:
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in carton.items:
            order = by_po.get(item.vendor_central_po_number)
            if order is None:
                raise PackMismatchError(f"carton {carton.sscc}: PO {item.vendor_central_po_number} is not in "
                                        "this shipment")
            line = lines.get((item.vendor_central_po_number, item.line_number))  # first of a repeated number
            if line is None:
                raise PackMismatchError(f"carton {carton.sscc}: PO {item.vendor_central_po_number} has no line "
                                        f"{item.line_number}")
            groups.setdefault(item.vendor_central_po_number, []).append({
                "line_number": item.line_number,
                "product_id": line.product_ids[0].model_dump(),
                "quantity": item.quantity,
                "unit": line.unit,
            })
        for po, items in groups.items():
            per_po.setdefault(po, []).append({"sscc": carton.sscc, "items": items})
    return {
        "shipment": pack.model_dump(mode="json"),
        "created_at": created_at.isoformat(),
        "ship_from": ship_from,
        "ship_to_location": next(iter(locations)),
        "orders": [{"vendor_central_po_number": po, "cartons": cartons}
                   for po, cartons in sorted(per_po.items())],
    }
