"""850 -> SalesOrder -> allocation -> 855: the acknowledgement echoes the PO exactly and validates."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.mapping import load_mapping
from edi.mapping.source import document_view
from edi.mapping.views import AllocationMismatchError, acknowledgement_view
from edi.model import Allocation, AllocationLine, SalesOrder
from edi.x12 import Delimiters, X12Validator
from edi.x12.render import Envelope, render_855
from edi.x12.validator import DocumentCollector
from edi.x12.writer import Party, SegmentWriter, TransactionSet, render_interchange
from tests.conftest import ROOT
from tests.x12._util import bots_errors

M850 = load_mapping(ROOT / "mappings" / "amazon" / "850_to_sales_order.yaml")
M855 = load_mapping(ROOT / "mappings" / "amazon" / "sales_order_to_855.yaml")
XREF = list(csv.DictReader((ROOT / "mappings" / "amazon" / "sku-xref.csv").open()))
IDS = [(q, row[col]) for row in XREF for q, col in (("UP", "upc"), ("EN", "ean"), ("BP", "asin"), ("VN", "vendor_item"))
       if row[col]]
DELIMS = Delimiters("*", ">", "~", None)
WHEN = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)


def _850(lines: list[tuple[int, str, Decimal, list[tuple[str, str]]]], csh: str) -> bytes:
    w = SegmentWriter(DELIMS)
    body = [w.segment("BEG", "00", "NE", "1PCPDX1U", "", "20261123"), w.segment("REF", "CR", "VENDC"),
            w.segment("CSH", csh), w.segment("DTM", "064", "20261124"), w.segment("DTM", "063", "20261130"),
            w.segment("N1", "ST", "", "15", "8018154")]
    for i, (qty, unit, price, ids) in enumerate(lines, 1):
        flat = [x for pair in ids for x in pair]
        body.append(w.segment("PO1", str(i), str(qty), unit, str(price), "PE", *flat))
    body.append(w.segment("CTT", str(len(lines)), str(sum(q for q, *_ in lines))))
    text = render_interchange(sender=Party("ZZ", "AMAZON"), receiver=Party("ZZ", "VENDORCO"), delims=DELIMS,
                              when=WHEN, usage="P", control_version="00401", isa13=7,
                              groups=[("PO", "004010", 7, [(1, TransactionSet("850", body))])])
    return text.encode("ascii")


def _order(data: bytes) -> SalesOrder:
    collector = DocumentCollector()
    report = X12Validator(keep_documents=True).validate_bytes(data, "po.edi", collector)
    assert report.accepted, [f.one_line() for f in report.findings]
    (doc,) = collector.documents
    result = M850.apply(document_view(doc))
    assert result.ok, (result.exceptions, result.failures)
    assert isinstance(result.target, SalesOrder)
    return result.target


line_st = st.tuples(st.integers(1, 5000), st.sampled_from(["EA", "CA"]),
                    st.decimals(min_value="0.01", max_value="9999.99", places=2),
                    st.lists(st.sampled_from(IDS), min_size=1, max_size=3, unique_by=lambda p: p[0]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(line_st, min_size=1, max_size=8), csh=st.sampled_from(["Y", "N"]))
def test_855_with_all_lines_accepted_echoes_every_line_exactly(lines: list, csh: str) -> None:
    """Identifiers, ordered quantity, unit and price (digit for digit) of every PO1 come back unchanged in an AD 855."""
    data = _850(lines, csh)
    order = _order(data)
    alloc = Allocation(partner="amazon", vendor_central_po_number=order.vendor_central_po_number,
                       allocated_at=WHEN, lines=tuple(AllocationLine(line_number=x.line_number, allocated=x.quantity)
                                                      for x in order.lines))
    result = M855.apply(acknowledgement_view(order, alloc, today=date(2026, 11, 24)))
    assert result.ok, (result.exceptions, result.failures)
    ack = result.target
    text = render_855(ack, Envelope(Party("ZZ", "VENDORCO"), Party("ZZ", "AMAZON"), "P", DELIMS, WHEN, 9, 9))
    assert X12Validator().validate_bytes(text.encode(), "855.edi").accepted
    assert bots_errors(text.encode()) == []
    po1_in = [s.split("*") for s in data.decode().split("~") if s.startswith("PO1*")]
    po1_out = [s.split("*") for s in text.split("~") if s.startswith("PO1*")]
    assert len(po1_in) == len(po1_out)
    for a, b in zip(po1_in, po1_out, strict=True):
        assert a[1:5] == b[1:5]                      # line number, quantity, unit, price: byte for byte
        assert a[6:] == b[6:]                        # every identifier pair, byte for byte
    assert "BAK*00*AD*1PCPDX1U*20261123" in text


def test_partial_fill_backorders_only_under_csh_y_and_rejects_otherwise() -> None:
    """Accepted <= allocated <= ordered; the remainder is IB with CSH*Y and IR with CSH*N."""
    for csh, expected in (("Y", ["ACK*IA*24*EA*068*20261124", "ACK*IB*12*EA*068*20261214"]),
                          ("N", ["ACK*IA*24*EA*068*20261124", "ACK*IR*12*EA"])):
        order = _order(_850([(36, "EA", Decimal("8.75"), [IDS[0]])], csh))
        alloc = Allocation(partner="amazon", vendor_central_po_number=order.vendor_central_po_number,
                           allocated_at=WHEN, lines=(AllocationLine(line_number="1", allocated=24, backordered=12,
                                                                    backorder_date=date(2026, 12, 14)),))
        ack = M855.apply(acknowledgement_view(order, alloc, today=date(2026, 11, 24))).target
        text = render_855(ack, Envelope(Party("ZZ", "V"), Party("ZZ", "AMAZON"), "P", DELIMS, WHEN, 1, 1))
        assert [s for s in text.split("~") if s.startswith("ACK")] == expected
        assert "BAK*00*AC*" in text


def test_over_allocation_never_accepts_more_than_ordered() -> None:
    """An IMS allocating 50 of 36 still accepts 36: the acknowledgement never exceeds the order."""
    order = _order(_850([(36, "EA", Decimal("8.75"), [IDS[0]])], "Y"))
    alloc = Allocation(partner="amazon", vendor_central_po_number=order.vendor_central_po_number, allocated_at=WHEN,
                       lines=(AllocationLine(line_number="1", allocated=50),))
    view = acknowledgement_view(order, alloc)
    assert [(x["accepted"], x["backordered"], x["rejected"]) for x in view["lines"]] == [(36, 0, 0)]


def test_allocation_must_cover_every_line() -> None:
    """A line without an allocation result stops the 855: no acknowledgement with a missing line."""
    order = _order(_850([(1, "EA", Decimal("1"), [IDS[0]]), (2, "EA", Decimal("1"), [IDS[1]])], "Y"))
    alloc = Allocation(partner="amazon", vendor_central_po_number=order.vendor_central_po_number, allocated_at=WHEN,
                       lines=(AllocationLine(line_number="1", allocated=1),))
    with pytest.raises(AllocationMismatchError, match=r"line\(s\) 2"):
        acknowledgement_view(order, alloc)
