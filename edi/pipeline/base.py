"""What every step of the order pipeline shares: the pipeline's state and small helpers.

The steps live in mixins (``inbound``, ``outbound``, ``support``) that ``runner.Pipeline`` puts
together; each relies only on the attributes declared here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import InterfaceError, OperationalError

from edi.config.partner import PartnerSettings
from edi.errors import RetriableError
from edi.mapping import load_mapping
from edi.mapping.engine import CompiledMapping
from edi.model import Allocation, SalesOrder
from edi.pipeline.ims import ImsAdapter
from edi.pipeline.records import ExceptionEntry, POState, raise_exception, transition
from edi.store import transaction
from edi.store.pipeline_tables import purchase_order
from edi.x12 import X12Validator

Clock = Callable[[], datetime]


class StepsBase:
    """The attributes the step mixins share (set by ``Pipeline.__init__`` and ``refresh_mappings``)."""

    engine: Engine
    data_dir: Path
    archive: Path
    settings: PartnerSettings
    clock: Clock
    validator: X12Validator
    ims: ImsAdapter
    map_850: CompiledMapping
    map_855: CompiledMapping
    map_856: CompiledMapping
    codes: dict[str, str]

    def refresh_mappings(self) -> None:
        """(Re)load the partner's mappings; a changed mapping or lookup table is compiled anew, else reused."""
        m = self.settings.mappings_dir
        self.map_850 = load_mapping(m / "850_to_sales_order.yaml")
        self.map_855 = load_mapping(m / "sales_order_to_855.yaml")
        self.map_856 = load_mapping(m / "shipment_to_856.yaml")
        self.codes = {k: str(v) for k, v in self.map_855.spec.constants.items()}

    def _hold_po(self, po_id: int, exc: Exception, step: str) -> None:
        """An unexpected error on one PO: nothing of the step took effect; hold the PO and go on with the others."""
        now = self.clock()
        with transaction(self.engine) as conn:
            row = conn.execute(select(purchase_order.c.partner, purchase_order.c.po_number).where(
                purchase_order.c.id == po_id)).one()
            transition(conn, po_id, POState.HELD, f"{step}: unexpected error; held for a person", now)
            raise_exception(conn, ExceptionEntry(
                "INTERNAL_ERROR", internal_error(exc, f"PO {row.po_number}, {step}"),
                "nothing of the step took effect; report the entry, then `edi po replay` the PO once fixed",
                row.partner, row.po_number, key=step), now)

    if TYPE_CHECKING:  # provided by the mixins
        def _make_order(self, conn: Connection, view: dict[str, Any], po_number: str, revision: int,
                        hot_list: frozenset[str], *, reject_lines: bool = False
                        ) -> tuple[SalesOrder | None, list[ExceptionEntry], bool]: ...

        def _answer(self, conn: Connection, row: Any, order: SalesOrder, allocation: Allocation,
                    now: datetime) -> int: ...

        def _submit(self, conn: Connection, order: SalesOrder, exceptions: list[ExceptionEntry]) -> bool: ...


def is_transient(exc: BaseException) -> bool:
    """A failure that may pass by itself (database unreachable or locked, IMS down): retry, do not quarantine."""
    return isinstance(exc, RetriableError | OperationalError | InterfaceError | TimeoutError | ConnectionError)


def internal_error(exc: BaseException, what: str) -> str:
    """One line for the exception log about an unexpected error (type and message, no payload)."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{what}: unexpected {type(exc).__name__}{': ' + text if text else ''}"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def order_trail(order: SalesOrder) -> dict[str, str]:
    """The sales-order stage of the line trail: what the IMS was asked for, per line."""
    return {ln.line_number: f"sku={ln.sku} quantity={ln.quantity} unit={ln.unit}" for ln in order.lines}
