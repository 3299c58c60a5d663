"""Domain models (pydantic v2): canonical order documents and outbound documents. No I/O."""

from __future__ import annotations

from edi.model.orders import (
    Allocation,
    AllocationLine,
    Carton,
    CartonItem,
    EnvelopeRef,
    PackConfirmation,
    ProductId,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    SalesOrderLine,
)
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

__all__ = [
    "AckLine",
    "AckStatus",
    "Address",
    "Allocation",
    "AllocationLine",
    "Carton",
    "CartonItem",
    "EnvelopeRef",
    "PackConfirmation",
    "ProductId",
    "PurchaseOrder",
    "PurchaseOrderAck",
    "PurchaseOrderLine",
    "SalesOrder",
    "SalesOrderLine",
    "ShipNotice",
    "ShipNoticeCarton",
    "ShipNoticeItem",
    "ShipNoticeOrder",
]
