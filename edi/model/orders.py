"""Canonical order documents (pydantic v2, no I/O).

Three different things are called "the Amazon PO" in the wild; the models keep them apart by name
and never use a bare ``po_number``:

- ``vendor_central_po_number``: the Vendor Central purchase order number Amazon retail sends in
  an 850 (BEG03), e.g. ``1PCPDX1U``. Every reply (855, 856, 810) quotes it.
- ``customer_po_reference``: an Amazon Business customer's own PO reference, carried on business
  orders; never present on a retail 850.
- ``supplier_po_number``: a PO a seller raises towards its own supplier for FBA stock; not an
  Amazon document at all, kept here only so nobody reuses the other two names for it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


OrderType = Literal["standard", "rush", "new_product", "consigned"]
UnitOfMeasure = Literal["each", "case"]


class ProductId(_Model):
    """A product identifier exactly as received: X12 qualifier (PO106) and value (PO107)."""

    qualifier: str = Field(description="X12 235 qualifier as received: UP, EN, IB, UK, UA, VN, BP, VP, ...")
    value: str = Field(description="The identifier, byte for byte as received")


class PurchaseOrderLine(_Model):
    """One PO1 line of an 850, as received."""

    line_number: str = Field(description="PO101, echoed unchanged in every reply")
    quantity: Decimal = Field(description="PO102 quantity ordered")
    unit_of_measure: str = Field(description="PO103 as received (EA, CA, ...)")
    unit_price: Decimal | None = Field(default=None, description="PO104 unit price (Amazon's net cost)")
    price_basis: str | None = Field(default=None, description="PO105 basis of unit price (PE, ...)")
    product_ids: tuple[ProductId, ...] = Field(description="Every PO106/PO107 ... PO124/PO125 pair, in order")

    def product_id(self, qualifier: str) -> str | None:
        """The value of the first identifier with ``qualifier``, if any."""
        return next((p.value for p in self.product_ids if p.qualifier == qualifier), None)


class EnvelopeRef(_Model):
    """Where a document came from: envelope control numbers (for traceability)."""

    isa13: str
    gs06: str
    st02: str


class PurchaseOrder(_Model):
    """An Amazon retail purchase order (850), as received."""

    partner: str = Field(description="Trading partner key, e.g. 'amazon'")
    vendor_central_po_number: str = Field(description="BEG03: the Vendor Central PO number")
    purpose_code: str = Field(description="BEG01 (00 original)")
    order_type_code: str = Field(description="BEG02 as received (NE, RO, NP, CN)")
    order_date: date = Field(description="BEG05")
    vendor_code: str | None = Field(default=None, description="REF*CR: the Amazon vendor code the PO is placed on")
    backorder_allowed: bool | None = Field(default=None, description="CSH01: Y backorder allowed, N not")
    ship_window_start: date | None = Field(default=None, description="DTM*064 do not deliver before")
    ship_window_end: date | None = Field(default=None, description="DTM*063 do not deliver after")
    ship_to_qualifier: str | None = Field(default=None, description="N1*ST N103 (15, 92, ZZ)")
    ship_to_location: str | None = Field(default=None, description="N1*ST N104: the fulfilment centre id")
    currency: str | None = Field(default=None, description="CUR02 when sent")
    lines: tuple[PurchaseOrderLine, ...]
    envelope: EnvelopeRef | None = None


class SalesOrderLine(_Model):
    """One line of the sales order the IMS receives."""

    line_number: str = Field(description="The 850's PO101, echoed in the 855 and 856")
    sku: str = Field(description="The vendor's IMS SKU (from the cross-reference)")
    quantity: int = Field(gt=0, description="Quantity ordered, in ``unit``")
    unit: UnitOfMeasure
    unit_price: Decimal = Field(ge=0)
    product_ids: tuple[ProductId, ...] = Field(description="Identifiers as received, echoed in replies")
    list_cost: Decimal | None = Field(default=None, ge=0, description=(
        "The vendor's agreed cost per ordered unit (from the cross-reference), when known; a PO price "
        "that differs raises PRICE_MISMATCH"))


class SalesOrder(_Model):
    """The sales order created in the vendor's inventory system for one PO version."""

    partner: str
    vendor_central_po_number: str
    customer_po_reference: str | None = Field(default=None, description="Amazon Business only; None for retail")
    revision: int = Field(default=1, ge=1, description="PO version: 1, then 2, ... for accepted revisions")
    vendor_code: str | None = None
    order_type: OrderType
    order_date: date
    ship_window_start: date | None = None
    ship_window_end: date | None = None
    ship_to: str = Field(description="Warehouse/fulfilment-centre code in the IMS")
    ship_to_location: str | None = Field(default=None, description="The 850's N1*ST N104 as received (the FC id)")
    backorder_allowed: bool = False
    currency: str = "USD"
    hot: bool = Field(default=False, description="Hot PO: allocate first, watch the deadline")
    lines: tuple[SalesOrderLine, ...] = Field(min_length=1)

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, lines: tuple[SalesOrderLine, ...]) -> tuple[SalesOrderLine, ...]:
        seen: set[str] = set()
        for line in lines:
            if line.line_number in seen:
                raise ValueError(f"line number {line.line_number} appears twice")
            seen.add(line.line_number)
        return lines


UnavailableReason = Literal["out_of_stock", "discontinued", "invalid_item", "other"]


class AllocationLine(_Model):
    """What the IMS could do for one line."""

    line_number: str
    allocated: int = Field(ge=0)
    backordered: int = Field(default=0, ge=0)
    unavailable: int = Field(default=0, ge=0)
    reason: UnavailableReason | None = Field(default=None, description="Why units are unavailable")
    expected_ship_date: date | None = None
    backorder_date: date | None = Field(default=None, description="When backordered units are expected to ship")


class Allocation(_Model):
    """The IMS's allocation result for one sales order."""

    partner: str
    vendor_central_po_number: str
    revision: int = 1
    allocated_at: datetime
    lines: tuple[AllocationLine, ...]


class CartonItem(_Model):
    """Units of one PO line packed in a carton."""

    vendor_central_po_number: str
    line_number: str
    quantity: int = Field(gt=0)


class Carton(_Model):
    """One labelled carton."""

    sscc: str = Field(description="SSCC-18 (18 digits; the 856 prints it with AI 00)")
    items: tuple[CartonItem, ...] = Field(min_length=1)
    weight: Decimal | None = None


class PackConfirmation(_Model):
    """The warehouse's confirmation of what was packed and how it ships."""

    shipment_id: str = Field(min_length=2, max_length=30, description="BSN02: unique per partner")
    partner: str
    ship_date: datetime
    estimated_delivery: date | None = None
    carrier_scac: str
    bill_of_lading: str | None = None
    pro_number: str | None = None
    transport_method: str = "M"
    gross_weight: Decimal
    weight_unit: Literal["LB", "KG"] = "LB"
    cartons: tuple[Carton, ...] = Field(min_length=1)
