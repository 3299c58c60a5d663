"""Outbound documents the 855 and 856 are rendered from (pydantic v2, no I/O)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edi.model.orders import ProductId


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AckStatus(_Model):
    """One ACK loop: a status code, its quantity and (optionally) a schedule date."""

    code: str = Field(description="ACK01 from the partner's code table (IA, IB, IR, R2, ...)")
    quantity: int = Field(gt=0)
    unit_of_measure: str = Field(description="ACK03 = the 850 line's PO103")
    date_qualifier: str | None = Field(default=None, description="ACK04, e.g. 068 current schedule ship")
    schedule_date: date | None = None


class AckLine(_Model):
    """One PO1 of the 855: the 850 line echoed, with its statuses."""

    line_number: str
    quantity_ordered: Decimal
    unit_of_measure: str
    unit_price: Decimal
    price_basis: str | None = "PE"
    product_ids: tuple[ProductId, ...]
    statuses: tuple[AckStatus, ...] = Field(min_length=1)


class PurchaseOrderAck(_Model):
    """The 855 for one PO version."""

    partner: str
    vendor_central_po_number: str
    purpose_code: str = "00"
    ack_type: Literal["AD", "AC"] = Field(description="AD all lines accepted as ordered, AC otherwise")
    ack_date: date = Field(description="BAK04 (partner setting: PO date or acknowledgement date)")
    lines: tuple[AckLine, ...] = Field(min_length=1)


class ShipNoticeItem(_Model):
    """An I level: units of one PO line in one carton."""

    line_number: str
    product_id: ProductId
    quantity: int = Field(gt=0)
    unit_of_measure: str


class ShipNoticeCarton(_Model):
    """A P level: one carton with its SSCC."""

    sscc: str = Field(description="18 digits; rendered as MAN*GM*00<sscc>")
    items: tuple[ShipNoticeItem, ...] = Field(min_length=1)


class ShipNoticeOrder(_Model):
    """An O level: one PO in the shipment."""

    vendor_central_po_number: str
    cartons: tuple[ShipNoticeCarton, ...] = Field(min_length=1)


class Address(_Model):
    """A ship-from party."""

    name: str
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class ShipNotice(_Model):
    """The 856 for one shipment (hierarchy Shipment / Order / Pack / Item)."""

    partner: str
    shipment_id: str = Field(description="BSN02, unique for 365 days")
    purpose_code: str = "00"
    structure_code: str = "0001"
    created_at: datetime
    ship_date: datetime
    estimated_delivery: date | None = None
    carrier_scac: str
    transport_method: str = "M"
    bill_of_lading: str | None = None
    pro_number: str | None = None
    freight_terms: Literal["PP", "CC"] = "PP"
    gross_weight: Decimal
    weight_unit: Literal["LB", "KG"] = "LB"
    ship_from: Address
    ship_to_qualifier: str = "15"
    ship_to_location: str
    orders: tuple[ShipNoticeOrder, ...] = Field(min_length=1)

    @property
    def carton_count(self) -> int:
        """Number of cartons (TD1 lading quantity)."""
        return sum(len(o.cartons) for o in self.orders)
