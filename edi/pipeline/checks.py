"""Pre-send checks: an 855 against its 850 and allocation, a pack confirmation against the sent 855s.

A check returns the list of problems; an empty list means the document may go out. Nothing is
sent when a check fails: the PO is held and each problem goes to the exception log.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from stdnum import ean

from edi.mapping.engine import id_pairs
from edi.model import Allocation, PackConfirmation, PurchaseOrderAck


def check_855(view_850: dict[str, Any], ack: PurchaseOrderAck, allocation: Allocation,
              accepted: frozenset[str] = frozenset({"IA"})) -> list[str]:
    """The 855 echoes every 850 line exactly once, never accepts more than allocated or ordered.

    ``accepted`` are the partner's ACK01 codes that accept units (``views.accepted_codes``).
    """
    problems: list[str] = []
    po1 = {str(ln["PO1"]["PO101"]): ln["PO1"] for ln in view_850.get("PO1_loop", []) if "PO1" in ln}
    if ack.vendor_central_po_number != str(view_850.get("BEG", {}).get("BEG03")):
        problems.append(f"BAK03 {ack.vendor_central_po_number} differs from BEG03")
    seen = [ln.line_number for ln in ack.lines]
    if sorted(seen) != sorted(po1) or len(set(seen)) != len(seen):
        problems.append(f"855 lines {seen} differ from the 850's lines {sorted(po1)}")
    alloc = {a.line_number: a for a in allocation.lines}
    for line in ack.lines:
        src = po1.get(line.line_number)
        if src is None:
            continue
        if Decimal(str(src.get("PO102"))) != line.quantity_ordered:
            problems.append(f"line {line.line_number}: PO102 {line.quantity_ordered} differs from the 850")
        if src.get("PO103") != line.unit_of_measure:
            problems.append(f"line {line.line_number}: unit {line.unit_of_measure} differs from the 850's "
                            f"{src.get('PO103')}")
        pairs = [(p["qualifier"], p["value"]) for p in id_pairs(src)]
        if [(p.qualifier, p.value) for p in line.product_ids] != pairs:
            problems.append(f"line {line.line_number}: product ids differ from the 850")
        if "PO104" in src and line.unit_price != Decimal(str(src["PO104"])):
            problems.append(f"line {line.line_number}: price {line.unit_price} differs from the 850's {src['PO104']}")
        total = sum(s.quantity for s in line.statuses)
        if Decimal(total) != line.quantity_ordered:
            problems.append(f"line {line.line_number}: ACK quantities sum to {total}, ordered "
                            f"{line.quantity_ordered}")
        took = sum(s.quantity for s in line.statuses if s.code in accepted)
        a = alloc.get(line.line_number)
        if took and (a is None or took > min(a.allocated, int(line.quantity_ordered))):
            problems.append(f"line {line.line_number}: accepts {took}, more than allocated")
    return problems


def valid_sscc(sscc: str) -> bool:
    """An SSCC-18: 18 digits with a valid GS1 mod-10 check digit."""
    if len(sscc) != 18 or not (sscc.isascii() and sscc.isdigit()):
        return False
    return ean.calc_check_digit(sscc[:17]) == sscc[17]


def check_pack(pack: PackConfirmation, acks: dict[str, PurchaseOrderAck], pos: list[str],
               earlier: list[PackConfirmation] | None = None,
               shippable: frozenset[str] = frozenset({"IA", "IB"})) -> list[str]:
    """Cartons against the acknowledged POs: known POs and lines, shipped so far <= acknowledged, valid unique SSCCs.

    ``earlier`` are the shipments already sent for this partner: their units count against the
    acknowledged quantities, and their SSCCs may not be reused. ``shippable`` are the partner's
    ACK01 codes whose units may ship (``views.shippable_codes``).
    """
    problems: list[str] = []
    for po in pos:
        if po not in acks:
            problems.append(f"PO {po} is not an acknowledged PO of this partner")
    seen: set[str] = set()
    shipped: dict[tuple[str, str], int] = defaultdict(int)
    used = {c.sscc for e in earlier or [] for c in e.cartons}
    for e in earlier or []:
        for carton in e.cartons:
            for item in carton.items:
                shipped[(item.vendor_central_po_number, item.line_number)] += item.quantity
    for carton in pack.cartons:
        if carton.sscc in used:
            problems.append(f"carton {carton.sscc}: SSCC already used in an earlier shipment")
        if not valid_sscc(carton.sscc):
            problems.append(f"carton {carton.sscc}: not a valid SSCC-18 (check digit)")
        if carton.sscc in seen:
            problems.append(f"carton {carton.sscc}: SSCC used twice in this shipment")
        seen.add(carton.sscc)
        for item in carton.items:
            shipped[(item.vendor_central_po_number, item.line_number)] += item.quantity
    if not pack.carrier_scac.strip():
        problems.append("carrier SCAC missing")
    if not pack.bill_of_lading:
        problems.append("bill of lading missing")
    ack_lines = {(po, ln.line_number): ln for po, ack in acks.items() for ln in reversed(ack.lines)}
    for (po, line), qty in sorted(shipped.items()):
        if po not in acks:
            continue
        ack_line = ack_lines.get((po, line))  # the first line of a repeated number, as before
        if ack_line is None:
            problems.append(f"PO {po} line {line}: not on the PO")
            continue
        allowed = sum(s.quantity for s in ack_line.statuses if s.code in shippable)
        if qty > allowed:
            problems.append(f"PO {po} line {line}: {qty} shipped in all, acknowledged {allowed} (ASN_EXCEEDS_ACK)")
    return problems
