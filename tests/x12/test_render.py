"""855 and 856 rendering: the worked examples of amazon-x12.md §4.3/§5.4, our guides and Bots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from edi.errors import OutboundValueError
from edi.model.orders import ProductId
from edi.model.outbound import (
    AckLine,
    AckStatus,
    Address,
    PurchaseOrderAck,
    ShipNotice,
    ShipNoticeCarton,
    ShipNoticeItem,
    ShipNoticeOrder,
)
from edi.x12 import Limits, X12Validator
from edi.x12.envelope import VERSIONS_4010_FAMILY, Delimiters
from edi.x12.render import Envelope, body_855, body_856, format_decimal, render_855, render_856
from edi.x12.writer import Party, SegmentWriter
from tests.x12._util import bots_errors

CASES = Path(__file__).parent / "cases" / "render"
EXPECTED_855 = CASES / "amazon_855_worked_example.edi"  # amazon-x12.md §4.3, verbatim
EXPECTED_856 = CASES / "amazon_856_5010_worked_example.edi"  # amazon-x12.md §5.4, verbatim

US = Party("12", "8009225524")
AMAZON = Party("ZZ", "AMAZON")
D4010 = Delimiters()
D5010 = Delimiters(repetition="^")


def _env(delims: Delimiters, when: datetime, control: int, *, newline: bool = False, usage: str = "P") -> Envelope:
    return Envelope(sender=US, receiver=AMAZON, usage=usage, delimiters=delims, when=when, isa13=control,
                    gs06=control, newline=newline)


def _upc(v: str) -> tuple[ProductId, ...]:
    return (ProductId(qualifier="UP", value=v),)


def _ia(qty: int, day: date = date(2022, 2, 1)) -> AckStatus:
    return AckStatus(code="IA", quantity=qty, unit_of_measure="EA", date_qualifier="068", schedule_date=day)


def worked_855() -> PurchaseOrderAck:
    """§4.3: lines 1-2 accepted, line 3 24 accepted + 12 backordered, line 4 rejected."""
    return PurchaseOrderAck(
        partner="amazon", vendor_central_po_number="1PCPDX1U", ack_type="AC", ack_date=date(2022, 1, 31),
        lines=(
            AckLine(line_number="1", quantity_ordered=Decimal("72"), unit_of_measure="EA",
                    unit_price=Decimal("24.53"), product_ids=_upc("040071156251"), statuses=(_ia(72),)),
            AckLine(line_number="2", quantity_ordered=Decimal("24"), unit_of_measure="EA",
                    unit_price=Decimal("11.25"), product_ids=_upc("012345000218"), statuses=(_ia(24),)),
            AckLine(line_number="3", quantity_ordered=Decimal("36"), unit_of_measure="EA",
                    unit_price=Decimal("8.75"), product_ids=_upc("012345000386"),
                    statuses=(_ia(24), AckStatus(code="IB", quantity=12, unit_of_measure="EA",
                                                 date_qualifier="068", schedule_date=date(2022, 2, 14)))),
            AckLine(line_number="4", quantity_ordered=Decimal("12"), unit_of_measure="EA",
                    unit_price=Decimal("15.49"), product_ids=_upc("012345000454"),
                    statuses=(AckStatus(code="IR", quantity=12, unit_of_measure="EA"),)),
        ),
    )


def _item(line: str, upc: str, qty: int) -> ShipNoticeItem:
    return ShipNoticeItem(line_number=line, product_id=ProductId(qualifier="UP", value=upc), quantity=qty,
                          unit_of_measure="EA")


def worked_856() -> ShipNotice:
    """§5.4: line 1 in two cartons of 36, lines 2 and 3 mixed in a third carton; prepaid LTL."""
    return ShipNotice(
        partner="amazon", shipment_id="HOUBX220201A", created_at=datetime(2022, 2, 1, 16, 35),
        ship_date=datetime(2022, 2, 1, 16, 30), estimated_delivery=date(2022, 2, 3), carrier_scac="ABFS",
        bill_of_lading="HOUBX0201001", pro_number="123456789", gross_weight=Decimal("61.5"),
        ship_from=Address(name="VENDOR DC", street="100 MAIN ST", city="SAINT LOUIS", state="MO",
                          postal_code="63101", country="US"),
        ship_to_location="8018154",
        orders=(ShipNoticeOrder(vendor_central_po_number="1PCPDX1U", cartons=(
            ShipNoticeCarton(sscc="006141410000001019", items=(_item("1", "040071156251", 36),)),
            ShipNoticeCarton(sscc="006141410000001026", items=(_item("1", "040071156251", 36),)),
            ShipNoticeCarton(sscc="006141410000001033", items=(_item("2", "012345000218", 24),
                                                               _item("3", "012345000386", 24))),
        )),),
    )


def _segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def _st_se(text: str) -> list[str]:
    segs = _segments(text)
    start = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    end = next(i for i, s in enumerate(segs) if s.startswith("SE*"))
    return segs[start:end + 1]


def _check_hierarchy(segs: list[str]) -> None:
    """What neither validator checks (§11 856 items 7-8): HL ids, parents, S/O/P/I order, CTT, TD1."""
    parent_level = {"S": None, "O": "S", "P": "O", "I": "P"}
    levels: dict[str, str] = {}
    units = 0
    for seg in segs:
        el = seg.split("*")
        if el[0] == "HL":
            assert el[1] == str(len(levels) + 1), seg
            want = parent_level[el[3]]
            assert (el[2] == "") if want is None else (levels.get(el[2]) == want), seg
            levels[el[1]] = el[3]
        elif el[0] == "SN1":
            units += int(el[2])
    assert f"CTT*{len(levels)}*{units}" in segs
    td1 = next(s for s in segs if s.startswith("TD1*")).split("*")
    assert td1[2] == str(sum(1 for v in levels.values() if v == "P"))


def _errors(text: str, name: str) -> list[str]:
    validator = X12Validator(limits=Limits(supported_versions=VERSIONS_4010_FAMILY | {"00501"}))
    report = validator.validate_bytes(text.encode("ascii"), name)
    return [] if report.accepted else [f.one_line() for f in report.findings]


def _accepted_everywhere(text: str, name: str) -> None:
    assert _errors(text, name) == []
    assert bots_errors(text.encode("ascii")) == []


# --- worked examples ------------------------------------------------------------------------------------

def test_855_worked_example_body_matches_the_guide() -> None:
    rendered = render_855(worked_855(), _env(D4010, datetime(2022, 1, 31, 14, 15), 101))
    assert _st_se(rendered) == _st_se(EXPECTED_855.read_text())


def test_855_worked_example_whole_interchange_matches_the_guide_with_newlines() -> None:
    rendered = render_855(worked_855(), _env(D4010, datetime(2022, 1, 31, 14, 15), 101, newline=True))
    assert rendered == EXPECTED_855.read_text()


def test_856_worked_example_body_matches_the_guide() -> None:
    rendered = render_856(worked_856(), _env(D5010, datetime(2022, 2, 1, 16, 35), 102))
    assert _st_se(rendered) == _st_se(EXPECTED_856.read_text())


def test_856_worked_example_whole_interchange_matches_the_guide_with_newlines() -> None:
    rendered = render_856(worked_856(), _env(D5010, datetime(2022, 2, 1, 16, 35), 102, newline=True))
    assert rendered == EXPECTED_856.read_text()


def test_newline_only_adds_line_feeds() -> None:
    env = _env(D4010, datetime(2022, 1, 31, 14, 15), 101)
    flat = render_855(worked_855(), env)
    lined = render_855(worked_855(), _env(D4010, env.when, 101, newline=True))
    assert "\n" not in flat
    assert lined.replace("\n", "") == flat
    assert lined.count("\n") == len(_segments(flat))


def test_bodies_are_the_segments_between_st_and_se() -> None:
    w = SegmentWriter(D4010)
    body = body_855(worked_855(), w)
    assert [s.rstrip("~") for s in body] == _st_se(EXPECTED_855.read_text())[1:-1]
    assert [s.rstrip("~") for s in body_856(worked_856(), w, "004010")] == _st_se(EXPECTED_856.read_text())[1:-1]


# --- our guides and Bots ---------------------------------------------------------------------------------

@pytest.mark.parametrize("newline", [False, True])
def test_855_accepted_by_our_guide_and_bots(newline: bool) -> None:
    text = render_855(worked_855(), _env(D4010, datetime(2022, 1, 31, 14, 15), 101, newline=newline))
    _accepted_everywhere(text, "855.edi")


@pytest.mark.parametrize("newline", [False, True])
def test_856_5010_accepted_by_our_guide_and_bots(newline: bool) -> None:
    text = render_856(worked_856(), _env(D5010, datetime(2022, 2, 1, 16, 35), 102, newline=newline))
    assert text.startswith("ISA*00*") and "*^*00501*" in text and "*X*005010~" in text
    _check_hierarchy(_st_se(text))
    _accepted_everywhere(text, "856.edi")


def test_856_4010_accepted_by_our_guide_and_bots() -> None:
    text = render_856(worked_856(), _env(D4010, datetime(2022, 2, 1, 16, 35), 103), version="004010")
    assert "*U*00401*000000103*" in text and "GS*SH*8009225524*AMAZON*20220201*1635*103*X*004010~" in text
    assert _st_se(text)[1:-1] == _st_se(EXPECTED_856.read_text())[1:-1]
    _accepted_everywhere(text, "856-4010.edi")


def test_minimal_856_without_optional_segments() -> None:
    """No BOL, no PRO, no delivery estimate, ship-from without address; two POs, collect, KG."""
    base = worked_856()
    notice = base.model_copy(update={
        "bill_of_lading": None, "pro_number": None, "estimated_delivery": None, "freight_terms": "CC",
        "weight_unit": "KG", "gross_weight": Decimal("27.90"), "ship_from": Address(name="VENDOR DC"),
        "orders": (*base.orders, ShipNoticeOrder(vendor_central_po_number="2ABCDEFG", cartons=(
            ShipNoticeCarton(sscc="006141410000001040", items=(_item("7", "012345000454", 5),)),))),
    })
    for version, delims in (("005010", D5010), ("004010", D4010)):
        text = render_856(notice, _env(delims, datetime(2022, 2, 1, 16, 35), 104), version=version)
        segs = _st_se(text)
        _check_hierarchy(segs)
        assert not any(s.startswith(("REF*", "DTM*017", "N3*", "N4*")) for s in segs)
        assert "TD1*CTN25*4****G*27.9*KG" in segs and "FOB*CC" in segs
        assert segs[-2] == "CTT*12*125"  # S + 2 O + 4 P + 5 I; 120 + 5 units
        i = segs.index("HL*10*1*O")
        assert segs[i:i + 7] == ["HL*10*1*O", "PRF*2ABCDEFG", "HL*11*10*P", "MAN*GM*00006141410000001040",
                                 "HL*12*11*I", "LIN*7*UP*012345000454", "SN1**5*EA"]
        assert segs[segs.index("FOB*CC") + 1:segs.index("FOB*CC") + 3] == ["N1*SF*VENDOR DC", "N1*ST**15*8018154"]
        _accepted_everywhere(text, f"856-{version}.edi")


def test_855_all_accepted_multiple_ids_test_usage() -> None:
    """AD ack, several id pairs echoed in order, PO102/PO104 echoed digit for digit, ISA15 T, no ACK dates."""
    ids = (ProductId(qualifier="UP", value="040071156251"), ProductId(qualifier="VN", value="ABC-12/X"),
           ProductId(qualifier="IB", value="0596000480"))
    ack = PurchaseOrderAck(
        partner="amazon", vendor_central_po_number="9XYZ", ack_type="AD", ack_date=date(2022, 3, 1),
        lines=(AckLine(line_number="10", quantity_ordered=Decimal("5.0"), unit_of_measure="CA",
                       unit_price=Decimal("39.00"), product_ids=ids,
                       statuses=(AckStatus(code="IA", quantity=5, unit_of_measure="CA"),)),
               AckLine(line_number="11", quantity_ordered=Decimal("2"), unit_of_measure="EA",
                       unit_price=Decimal("0.50"), price_basis=None, product_ids=ids[:1],
                       statuses=(AckStatus(code="IA", quantity=2, unit_of_measure="EA"),))))
    text = render_855(ack, _env(D4010, datetime(2022, 3, 1, 9, 5), 7, usage="T"))
    segs = _st_se(text)
    assert segs[1:-1] == [
        "BAK*00*AD*9XYZ*20220301",
        "PO1*10*5.0*CA*39.00*PE*UP*040071156251*VN*ABC-12/X*IB*0596000480",   # echoed digits as received
        "ACK*IA*5*CA",
        "PO1*11*2*EA*0.50**UP*040071156251",
        "ACK*IA*2*EA",
        "CTT*2*7",
    ]
    assert "*00401*000000007*0*T*>~" in text
    _accepted_everywhere(text, "855-ad.edi")


# --- values that cannot be written -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["0400*71156251", "0400~71156251", "0400>71156251", "0400\n71156251"])
def test_delimiter_in_855_product_id_raises(bad: str) -> None:
    ack = worked_855()
    line = ack.lines[0].model_copy(update={"product_ids": _upc(bad)})
    ack = ack.model_copy(update={"lines": (line, *ack.lines[1:])})
    with pytest.raises(OutboundValueError, match="PO107"):
        render_855(ack, _env(D4010, datetime(2022, 1, 31, 14, 15), 101))


@pytest.mark.parametrize("bad", ["0400*71156251", "0400~71156251", "0400^71156251"])
def test_delimiter_in_856_product_id_raises(bad: str) -> None:
    notice = worked_856()
    order = notice.orders[0]
    carton = order.cartons[0].model_copy(update={"items": (_item("1", bad, 36),)})
    order = order.model_copy(update={"cartons": (carton, *order.cartons[1:])})
    notice = notice.model_copy(update={"orders": (order,)})
    with pytest.raises(OutboundValueError, match="LIN03"):
        render_856(notice, _env(D5010, datetime(2022, 2, 1, 16, 35), 102))


def test_date_qualifier_without_date_raises() -> None:
    ack = worked_855()
    line = ack.lines[0].model_copy(update={"statuses": (AckStatus(code="IA", quantity=72, unit_of_measure="EA",
                                                                  date_qualifier="068"),)})
    with pytest.raises(OutboundValueError, match="ACK04"):
        render_855(ack.model_copy(update={"lines": (line,)}), _env(D4010, datetime(2022, 1, 31), 1))


def test_envelope_mismatches_are_refused() -> None:
    when = datetime(2022, 2, 1, 16, 35)
    with pytest.raises(ValueError, match="repetition"):
        render_856(worked_856(), _env(D4010, when, 1))
    with pytest.raises(ValueError, match="repetition"):
        render_855(worked_855(), _env(D5010, when, 1))
    with pytest.raises(ValueError, match="usage"):
        render_855(worked_855(), _env(D4010, when, 1, usage="X"))
    with pytest.raises(ValueError, match="ISA13"):
        render_855(worked_855(), _env(D4010, when, 1_234_567_890))
    with pytest.raises(ValueError, match="party"):
        render_855(worked_855(), Envelope(sender=Party("ZZ", "A" * 16), receiver=AMAZON, usage="P",
                                          delimiters=D4010, when=when, isa13=1, gs06=1))
    with pytest.raises(ValueError, match="version"):
        render_856(worked_856(), _env(D5010, when, 1), version="003040")


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("24.53"), "24.53"), (Decimal("72"), "72"), (Decimal("39.00"), "39"), (Decimal("24.50"), "24.5"),
    (Decimal("1E+2"), "100"), (Decimal("0.000"), "0"), (Decimal("-1.50"), "-1.5"), (Decimal("1.2E-3"), "0.0012"),
    (7, "7"),
])
def test_format_decimal(value: Decimal | int, text: str) -> None:
    assert format_decimal(value) == text


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_format_decimal_refuses_non_finite(value: Decimal) -> None:
    with pytest.raises(OutboundValueError):
        format_decimal(value)
