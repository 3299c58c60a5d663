"""Render outbound documents: the 855 (PO acknowledgment) and the 856 (ship notice) for Amazon.

Layouts follow amazon-x12.md §4 (855, 004010) and §5 (856, 005010 by default, 004010 as a partner
option; hierarchy Shipment / Order / Pack / Item, BSN05 ``0001``). ``body_855``/``body_856`` return
the segments between ST and SE; ``render_855``/``render_856`` wrap one set in a whole interchange
(one group, one set, ST02 ``0001``) with counted trailers.

Decimals (PO102, PO104, CTT02, TD107) are written as X12 ``R`` values: no exponent, no ``+``, and
trailing zeros after the decimal point suppressed, always (``Decimal('39.00')`` → ``39``,
``Decimal('24.50')`` → ``24.5``, ``Decimal('1E+2')`` → ``100``); this does not change the value,
so the 855's cost still equals the 850's.

Nothing is written partially: any value that cannot be written (a delimiter or control character,
a non-finite number, a date qualifier without its date) raises ``OutboundValueError`` before the
caller gets any text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from edi.errors import OutboundValueError
from edi.model.outbound import PurchaseOrderAck, ShipNotice
from edi.x12.envelope import Delimiters
from edi.x12.writer import Party, SegmentWriter, TransactionSet, render_interchange

__all__ = ["Envelope", "body_855", "body_856", "format_decimal", "render_855", "render_856"]

# 856 version (GS08) → ISA12 control version
_856_VERSIONS = {"005010": "00501", "004010": "00401"}


@dataclass(frozen=True)
class Envelope:
    """Who/when/how for one outbound interchange.

    ``usage`` is the ISA15 of the 850 being answered ('P' or 'T'); ``when`` is UTC and dates the
    ISA/GS; ``isa13`` and ``gs06`` are fresh control numbers, 1..999999999 (ISA13 is written
    zero-padded, GS06 not). Document dates and times (BSN03/04, DTM*011) are written as given.
    """

    sender: Party
    receiver: Party
    usage: str
    delimiters: Delimiters
    when: datetime
    isa13: int
    gs06: int
    newline: bool = False


def format_decimal(value: Decimal | int, where: str = "value", *, echo: bool = False) -> str:
    """``value`` as an X12 R value in plain notation.

    Computed values drop trailing fractional zeros. With ``echo`` (a value echoed from the
    partner's document, such as PO104 in the 855) the digits are written as the Decimal holds them,
    so a price received as ``96.00`` goes back as ``96.00``, not ``96``.
    """
    d = Decimal(value)
    if not d.is_finite():
        raise OutboundValueError(f"{where} {value!r} is not a finite number and cannot be written in X12")
    if echo and d.as_tuple().exponent <= 0:  # type: ignore[operator]
        return format(d, "f")
    if d == 0:
        return "0"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def _hm(t: datetime) -> str:
    return t.strftime("%H%M")


def body_855(ack: PurchaseOrderAck, writer: SegmentWriter) -> list[str]:
    """The 855 segments between ST and SE: BAK, PO1 + ACK loops, CTT."""
    w = writer.segment
    out = [w("BAK", ack.purpose_code, ack.ack_type, ack.vendor_central_po_number, _ymd(ack.ack_date))]
    total = Decimal(0)
    for line in ack.lines:
        ids: list[str] = []
        for pid in line.product_ids:
            ids += [pid.qualifier, pid.value]
        out.append(w("PO1", line.line_number, format_decimal(line.quantity_ordered, "PO102", echo=True),
                      line.unit_of_measure, format_decimal(line.unit_price, "PO104", echo=True), line.price_basis,
                      *ids))
        total += line.quantity_ordered
        for st in line.statuses:
            if (st.date_qualifier is None) != (st.schedule_date is None):
                raise OutboundValueError(
                    f"line {line.line_number}: ACK04 date qualifier and ACK05 date must be given together",
                    hint="set both date_qualifier and schedule_date on the AckStatus, or neither")
            dates = [st.date_qualifier, _ymd(st.schedule_date)] if st.schedule_date is not None else []
            out.append(w("ACK", st.code, str(st.quantity), st.unit_of_measure, *dates))
    out.append(w("CTT", str(len(ack.lines)), format_decimal(total, "CTT02")))
    return out


def body_856(notice: ShipNotice, writer: SegmentWriter, version: str = "005010") -> list[str]:
    """The 856 segments between ST and SE: BSN, the S/O/P/I hierarchy, CTT.

    004010 and 005010 use the same segments and elements here; only the envelope differs.
    """
    if version not in _856_VERSIONS:
        raise ValueError(f"unsupported 856 version {version!r} (expected one of {sorted(_856_VERSIONS)})")
    w = writer.segment
    n = notice
    out = [w("BSN", n.purpose_code, n.shipment_id, _ymd(n.created_at), _hm(n.created_at), n.structure_code)]
    hl = 0

    def level(parent: int | None, code: str) -> int:
        nonlocal hl
        hl += 1
        out.append(w("HL", str(hl), None if parent is None else str(parent), code))
        return hl

    ship = level(None, "S")
    out.append(w("TD1", "CTN25", str(n.carton_count), None, None, None, "G",
                 format_decimal(n.gross_weight, "TD107"), n.weight_unit))
    out.append(w("TD5", None, "2", n.carrier_scac, n.transport_method))
    if n.bill_of_lading:
        out.append(w("REF", "BM", n.bill_of_lading))
    if n.pro_number:
        out.append(w("REF", "CN", n.pro_number))
    out.append(w("DTM", "011", _ymd(n.ship_date), _hm(n.ship_date)))
    if n.estimated_delivery is not None:
        out.append(w("DTM", "017", _ymd(n.estimated_delivery)))
    out.append(w("FOB", n.freight_terms))
    sf = n.ship_from
    out.append(w("N1", "SF", sf.name))
    if sf.street:
        out.append(w("N3", sf.street))
    if sf.city or sf.state or sf.postal_code or sf.country:
        out.append(w("N4", sf.city, sf.state, sf.postal_code, sf.country))
    out.append(w("N1", "ST", None, n.ship_to_qualifier, n.ship_to_location))

    units = 0
    for order in n.orders:
        o = level(ship, "O")
        out.append(w("PRF", order.vendor_central_po_number))
        for carton in order.cartons:
            p = level(o, "P")
            out.append(w("MAN", "GM", "00" + carton.sscc))
            for item in carton.items:
                level(p, "I")
                out.append(w("LIN", item.line_number, item.product_id.qualifier, item.product_id.value))
                out.append(w("SN1", None, str(item.quantity), item.unit_of_measure))
                units += item.quantity
    out.append(w("CTT", str(hl), str(units)))
    return out


def _render(env: Envelope, gs01: str, gs08: str, control_version: str, ts: TransactionSet) -> str:
    return render_interchange(sender=env.sender, receiver=env.receiver, delims=env.delimiters, when=env.when,
                              usage=env.usage, control_version=control_version, isa13=env.isa13,
                              groups=[(gs01, gs08, env.gs06, [(1, ts)])], newline=env.newline)


def _check_env(env: Envelope, control_version: str) -> None:
    if env.usage not in ("P", "T"):
        raise ValueError(f"ISA15 usage must be 'P' or 'T', not {env.usage!r}")
    for what, number in (("ISA13", env.isa13), ("GS06", env.gs06)):
        if not 1 <= number <= 999_999_999:
            raise ValueError(f"{what} control number {number} is outside 1..999999999")
    for party in (env.sender, env.receiver):
        if not 1 <= len(party.id) <= 15 or len(party.qualifier) != 2:
            raise ValueError(f"ISA party {party.qualifier!r}/{party.id!r} does not fit the ISA (2 / 1..15 chars)")
    if control_version == "00501" and not env.delimiters.repetition:
        raise ValueError("an 00501 interchange needs a repetition separator (Delimiters(repetition='^'))")
    if control_version == "00401" and env.delimiters.repetition:
        raise ValueError("an 00401 interchange has no repetition separator (ISA11 is 'U')")


def render_855(ack: PurchaseOrderAck, env: Envelope) -> str:
    """One 855 (004010, GS01 PR) in its own interchange."""
    _check_env(env, "00401")
    body = body_855(ack, SegmentWriter(env.delimiters, newline=env.newline))
    return _render(env, "PR", "004010", "00401", TransactionSet("855", body))


def render_856(notice: ShipNotice, env: Envelope, version: str = "005010") -> str:
    """One 856 (GS01 SH) in its own interchange: ``'005010'`` (ISA12 00501, ``^``) or ``'004010'``."""
    if version not in _856_VERSIONS:
        raise ValueError(f"unsupported 856 version {version!r} (expected one of {sorted(_856_VERSIONS)})")
    control = _856_VERSIONS[version]
    _check_env(env, control)
    body = body_856(notice, SegmentWriter(env.delimiters, newline=env.newline), version)
    return _render(env, "SH", version, control, TransactionSet("856", body))
