"""Pre-send checks, called directly: each rule of the 855 and 856 checks refuses a crafted document.

Every test starts from a document the checks accept (asserted), changes one thing, and expects
exactly the problem that rule reports.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from edi.model import Allocation, PackConfirmation, PurchaseOrderAck
from edi.pipeline.checks import check_855, check_pack, valid_sscc

WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SSCC = ["000123450000000010", "000123450000000027", "000123450000000034"]


def view_850() -> dict[str, Any]:
    """The JSON view of a two-line 850 (PO 1PCPDX1U): 10 EA and 4 CA, with product ids."""
    return {
        "BEG": {"BEG01": "00", "BEG02": "NE", "BEG03": "1PCPDX1U", "BEG05": "20260105"},
        "PO1_loop": [
            {"PO1": {"PO101": "1", "PO102": "10", "PO103": "EA", "PO104": "24.53", "PO105": "PE",
                     "PO106": "UP", "PO107": "841234001018"}},
            {"PO1": {"PO101": "2", "PO102": "4", "PO103": "CA", "PO104": "11.25", "PO105": "PE",
                     "PO106": "UP", "PO107": "012345000218", "PO108": "VN", "PO109": "WB-2"}},
        ],
    }


def ack(**changes: Any) -> dict[str, Any]:
    """The 855 (as a dict) that answers ``view_850``: line 1 accepted 6 and backordered 4, line 2 accepted."""
    doc: dict[str, Any] = {
        "partner": "amazon", "vendor_central_po_number": "1PCPDX1U", "ack_type": "AC", "ack_date": date(2026, 1, 5),
        "lines": [
            {"line_number": "1", "quantity_ordered": Decimal(10), "unit_of_measure": "EA",
             "unit_price": Decimal("24.53"), "product_ids": [{"qualifier": "UP", "value": "841234001018"}],
             "statuses": [{"code": "IA", "quantity": 6, "unit_of_measure": "EA"},
                          {"code": "IB", "quantity": 4, "unit_of_measure": "EA"}]},
            {"line_number": "2", "quantity_ordered": Decimal(4), "unit_of_measure": "CA",
             "unit_price": Decimal("11.25"),
             "product_ids": [{"qualifier": "UP", "value": "012345000218"}, {"qualifier": "VN", "value": "WB-2"}],
             "statuses": [{"code": "IA", "quantity": 4, "unit_of_measure": "CA"}]},
        ],
    }
    doc.update(changes)
    return doc


def allocation(line1: int = 6, line2: int = 4) -> Allocation:
    return Allocation.model_validate({
        "partner": "amazon", "vendor_central_po_number": "1PCPDX1U", "allocated_at": WHEN,
        "lines": [{"line_number": "1", "allocated": line1, "backordered": max(10 - line1, 0)},
                  {"line_number": "2", "allocated": line2}]})


def check(doc: dict[str, Any], alloc: Allocation | None = None, view: dict[str, Any] | None = None) -> list[str]:
    return check_855(view or view_850(), PurchaseOrderAck.model_validate(doc), alloc or allocation())


def edit_line(doc: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    lines = [dict(x) for x in doc["lines"]]
    lines[index].update(changes)
    return {**doc, "lines": lines}


def test_855_baseline_passes() -> None:
    """The crafted 855 answering the 850 within its allocation passes every check."""
    assert check(ack()) == []


def test_855_wrong_po_number() -> None:
    """BAK03 must be the 850's BEG03."""
    assert check(ack(vendor_central_po_number="1PCPDX1X")) == ["BAK03 1PCPDX1X differs from BEG03"]


def test_855_missing_line() -> None:
    """Every 850 line must be answered."""
    doc = ack()
    doc["lines"] = doc["lines"][:1]
    assert check(doc) == ["855 lines ['1'] differ from the 850's lines ['1', '2']"]


def test_855_line_answered_twice() -> None:
    """No 850 line may be answered twice."""
    doc = ack()
    doc["lines"] = [*doc["lines"], doc["lines"][1]]
    (problem,) = check(doc)
    assert problem.startswith("855 lines ['1', '2', '2'] differ")


def test_855_quantity_ordered_differs() -> None:
    """The ordered quantity is echoed digit for digit."""
    doc = edit_line(ack(), 1, quantity_ordered=Decimal(5),
                    statuses=[{"code": "IA", "quantity": 4, "unit_of_measure": "CA"},
                              {"code": "IR", "quantity": 1, "unit_of_measure": "CA"}])
    assert check(doc) == ["line 2: PO102 5 differs from the 850"]


def test_855_unit_differs() -> None:
    """The unit of measure is the 850's PO103."""
    assert check(edit_line(ack(), 1, unit_of_measure="EA")) == ["line 2: unit EA differs from the 850's CA"]


def test_855_product_ids_differ() -> None:
    """Product ids are echoed as received, all pairs, in order."""
    doc = edit_line(ack(), 1, product_ids=[{"qualifier": "VN", "value": "WB-2"},
                                           {"qualifier": "UP", "value": "012345000218"}])
    assert check(doc) == ["line 2: product ids differ from the 850"]


def test_855_price_differs() -> None:
    """The unit price is the 850's PO104."""
    problems = check(edit_line(ack(), 0, unit_price=Decimal("24.50")))
    assert problems == ["line 1: price 24.50 differs from the 850's 24.53"]


def test_855_statuses_do_not_sum_to_ordered() -> None:
    """The ACK quantities of a line add up to what was ordered."""
    doc = edit_line(ack(), 0, statuses=[{"code": "IA", "quantity": 6, "unit_of_measure": "EA"}])
    assert check(doc) == ["line 1: ACK quantities sum to 6, ordered 10"]


def test_855_accepts_more_than_allocated() -> None:
    """Accepted units never exceed the allocation."""
    assert check(ack(), allocation(line1=5)) == ["line 1: accepts 6, more than allocated"]


def test_855_accepts_more_than_ordered_even_if_allocated() -> None:
    """An over-allocation (IMS gave 12 for 10 ordered) does not let the 855 accept more than ordered."""
    doc = edit_line(ack(), 0, statuses=[{"code": "IA", "quantity": 12, "unit_of_measure": "EA"}])
    problems = check(doc, allocation(line1=12))
    assert "line 1: accepts 12, more than allocated" in problems


def test_855_accepts_a_line_without_allocation() -> None:
    """A line the allocation does not mention cannot be accepted."""
    alloc = Allocation.model_validate({**allocation().model_dump(), "lines": [allocation().lines[0]]})
    assert check(ack(), alloc) == ["line 2: accepts 4, more than allocated"]


# -- 856 pack confirmations ---------------------------------------------------------------------------


def acks() -> dict[str, PurchaseOrderAck]:
    return {"1PCPDX1U": PurchaseOrderAck.model_validate(ack())}


def pack(cartons: list[dict[str, Any]] | None = None, **changes: Any) -> PackConfirmation:
    """A shipment of 6 EA of line 1 (IA) and 4 CA of line 2, in two cartons."""
    doc: dict[str, Any] = {
        "shipment_id": "SHP-1", "partner": "amazon", "ship_date": WHEN, "carrier_scac": "UPSN",
        "bill_of_lading": "BOL123", "gross_weight": Decimal("12.5"),
        "cartons": cartons if cartons is not None else [
            {"sscc": SSCC[0], "items": [{"vendor_central_po_number": "1PCPDX1U", "line_number": "1",
                                          "quantity": 6}]},
            {"sscc": SSCC[1], "items": [{"vendor_central_po_number": "1PCPDX1U", "line_number": "2",
                                          "quantity": 4}]},
        ],
    }
    doc.update(changes)
    return PackConfirmation.model_validate(doc)


def item(line: str, quantity: int, po: str = "1PCPDX1U") -> dict[str, Any]:
    return {"vendor_central_po_number": po, "line_number": line, "quantity": quantity}


def test_sscc_fixtures_are_valid() -> None:
    """The SSCCs used here carry valid check digits (so only the rule under test can fail)."""
    assert all(valid_sscc(s) for s in SSCC)
    assert not valid_sscc(SSCC[0][:-1] + "8")


def test_pack_baseline_passes() -> None:
    """The crafted shipment of acknowledged units in valid, distinct cartons passes."""
    assert check_pack(pack(), acks(), ["1PCPDX1U"]) == []


def test_pack_unknown_po() -> None:
    """A PO that was never acknowledged cannot be shipped."""
    assert check_pack(pack(), acks(), ["1PCPDX1U", "9ZZZZZZZ"]) == [
        "PO 9ZZZZZZZ is not an acknowledged PO of this partner"]


def test_pack_sscc_reused_from_earlier_shipment() -> None:
    """An SSCC sent in an earlier shipment cannot be sent again."""
    earlier = pack([{"sscc": SSCC[0], "items": [item("2", 1)]}], shipment_id="SHP-0")
    problems = check_pack(pack(), acks(), ["1PCPDX1U"], earlier=[earlier])
    assert problems == [f"carton {SSCC[0]}: SSCC already used in an earlier shipment",
                        "PO 1PCPDX1U line 2: 5 shipped in all, acknowledged 4 (ASN_EXCEEDS_ACK)"]


def test_pack_bad_check_digit() -> None:
    """An SSCC with a wrong check digit is refused."""
    bad = SSCC[0][:-1] + "8"
    shipment = pack([{"sscc": bad, "items": [item("1", 6)]}])
    assert check_pack(shipment, acks(), ["1PCPDX1U"]) == [f"carton {bad}: not a valid SSCC-18 (check digit)"]


def test_pack_sscc_twice_in_one_shipment() -> None:
    """Two cartons of one shipment cannot share an SSCC."""
    shipment = pack([{"sscc": SSCC[2], "items": [item("1", 3)]}, {"sscc": SSCC[2], "items": [item("1", 3)]}])
    assert check_pack(shipment, acks(), ["1PCPDX1U"]) == [f"carton {SSCC[2]}: SSCC used twice in this shipment"]


@pytest.mark.parametrize(("field", "value", "problem"), [("carrier_scac", " ", "carrier SCAC missing"),
                                                         ("bill_of_lading", None, "bill of lading missing"),
                                                         ("bill_of_lading", "", "bill of lading missing")])
def test_pack_carrier_and_bol_required(field: str, value: str | None, problem: str) -> None:
    """Carrier and bill of lading must be present."""
    assert check_pack(pack(**{field: value}), acks(), ["1PCPDX1U"]) == [problem]


def test_pack_line_not_on_po() -> None:
    """A carton item for a line the PO does not have is refused."""
    shipment = pack([{"sscc": SSCC[0], "items": [item("3", 1)]}])
    assert check_pack(shipment, acks(), ["1PCPDX1U"]) == ["PO 1PCPDX1U line 3: not on the PO"]


def test_pack_ships_more_than_acknowledged() -> None:
    """Shipping more than the shippable (IA, IB) units of a line is refused (ASN_EXCEEDS_ACK)."""
    shipment = pack([{"sscc": SSCC[0], "items": [item("2", 5)]}])
    assert check_pack(shipment, acks(), ["1PCPDX1U"]) == [
        "PO 1PCPDX1U line 2: 5 shipped in all, acknowledged 4 (ASN_EXCEEDS_ACK)"]


def test_pack_counts_earlier_shipments_against_the_ack() -> None:
    """Units already shipped count: 3 now after 2 earlier of line 2 (4 acknowledged) is too many."""
    earlier = pack([{"sscc": SSCC[2], "items": [item("2", 2)]}], shipment_id="SHP-0")
    shipment = pack([{"sscc": SSCC[0], "items": [item("2", 3)]}])
    assert check_pack(shipment, acks(), ["1PCPDX1U"], earlier=[earlier]) == [
        "PO 1PCPDX1U line 2: 5 shipped in all, acknowledged 4 (ASN_EXCEEDS_ACK)"]


def test_pack_backordered_units_count_as_shippable() -> None:
    """Line 1's IB units (backordered) may ship: 10 = 6 IA + 4 IB passes, 11 does not."""
    assert check_pack(pack([{"sscc": SSCC[0], "items": [item("1", 10)]}]), acks(), ["1PCPDX1U"]) == []
    assert check_pack(pack([{"sscc": SSCC[0], "items": [item("1", 11)]}]), acks(), ["1PCPDX1U"]) == [
        "PO 1PCPDX1U line 1: 11 shipped in all, acknowledged 10 (ASN_EXCEEDS_ACK)"]
