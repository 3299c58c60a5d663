"""What every step receives: the store, the clock, the IMS and one partner's settings, guide and mappings.

Steps are module functions (``ledger``, ``inbound``, ``outbound``, ``support``, ``deliver``) that take a
``PartnerContext`` (or the ``Runtime`` that holds one per partner) as their first argument; nothing
inherits from anything. ``edi.jobs`` decides the order in which they run.
"""

from __future__ import annotations

import hashlib
import sqlite3
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from edi import events
from edi.config.partner import PartnerSettings
from edi.errors import RetriableError
from edi.mapping import load_mapping
from edi.mapping.engine import CompiledMapping
from edi.model import SalesOrder
from edi.pipeline.ims import EmbeddedIms, ImsAdapter
from edi.pipeline.records import ExceptionEntry, POState, raise_exception, transition
from edi.store import transaction
from edi.store.pipeline_tables import purchase_order
from edi.x12 import X12Validator
from edi.x12.guide import default_registry
from edi.x12.limits import Limits

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock in UTC (deadlines are UTC everywhere)."""
    return datetime.now(UTC)


class PartnerContext:
    """One partner's view of the pipeline: store, clock, IMS, guide layer and compiled mappings."""

    def __init__(self, engine: Engine, archive: Path, settings: PartnerSettings, clock: Clock,
                 ims: ImsAdapter) -> None:
        self.engine = engine
        self.archive = archive
        self.settings = settings
        self.clock = clock
        self.ims = ims
        self.validator = X12Validator(default_registry(settings.layer),
                                      Limits(strip_line_breaks=settings.strip_line_breaks), keep_documents=True)
        self.map_850: CompiledMapping
        self.map_855: CompiledMapping
        self.map_856: CompiledMapping
        self.codes: dict[str, str] = {}
        self.after_commit: list[Callable[[], None]] = []
        """Log events of work not yet committed; ``flush_events`` emits them once it is."""
        self.refresh_mappings()

    def flush_events(self) -> None:
        """Emit the log events of the work just committed."""
        pending, self.after_commit = self.after_commit, []
        for emit in pending:
            emit()

    @property
    def partner(self) -> str:
        """The partner's name."""
        return self.settings.partner

    def refresh_mappings(self) -> None:
        """(Re)load the partner's mappings; a changed mapping or lookup table is compiled anew, else reused."""
        m = self.settings.mappings_dir
        self.map_850 = load_mapping(m / "850_to_sales_order.yaml")
        self.map_855 = load_mapping(m / "sales_order_to_855.yaml")
        self.map_856 = load_mapping(m / "shipment_to_856.yaml")
        self.codes = {k: str(v) for k, v in self.map_855.spec.constants.items()}


@dataclass
class Runtime:
    """Every partner's context over one store: what the jobs run on."""

    engine: Engine
    data_dir: Path
    partners: dict[str, PartnerContext]
    clock: Clock = utc_now
    routes: dict[str, str] = field(default_factory=dict)
    """ISA sender ``QQ/ID`` (upper case) -> partner, from each partner.yaml."""
    connector_partners: dict[str, str] = field(default_factory=dict)
    """Connector -> its partner (a file with no readable ISA stays with it)."""

    @classmethod
    def build(cls, engine: Engine, data_dir: Path, partners: list[PartnerSettings], *, clock: Clock | None = None,
              ims: ImsAdapter | None = None, connectors: dict[str, str] | None = None) -> Runtime:
        """A runtime over ``engine`` for the given partners, sharing one clock and one IMS adapter."""
        archive = data_dir / "archive"
        archive.mkdir(parents=True, exist_ok=True)
        clk = clock or utc_now
        adapter: ImsAdapter = ims or EmbeddedIms()
        contexts = {p.partner: PartnerContext(engine, archive, p, clk, adapter) for p in partners}
        routes = {sid: p.partner for p in partners for sid in p.partner_ids}
        return cls(engine, data_dir, contexts, clk, routes, dict(connectors or {}))

    @property
    def archive(self) -> Path:
        """Where inbound bytes are kept, content-addressed."""
        return self.data_dir / "archive"

    def context(self, partner: str) -> PartnerContext:
        """The context of ``partner`` (KeyError when it is not configured)."""
        return self.partners[partner]

    def route(self, sender: str, receiver: str) -> PartnerContext | None:
        """The partner an interchange belongs to by its ISA sender and receiver (``QQ/ID``), if any."""
        name = self.routes.get(sender.upper())
        if name is None:
            return None
        ctx = self.partners[name]
        if ctx.settings.our_ids and receiver.upper() not in ctx.settings.our_ids:
            return None
        return ctx


def hold_po(ctx: PartnerContext, po_id: int, exc: Exception, step: str) -> None:
    """An unexpected error on one PO: nothing of the step took effect; hold the PO and go on with the others."""
    now = ctx.clock()
    with transaction(ctx.engine) as conn:
        row = conn.execute(select(purchase_order.c.partner, purchase_order.c.po_number).where(
            purchase_order.c.id == po_id)).one()
        transition(conn, po_id, POState.HELD, f"{step}: unexpected error; held for a person", now)
        raise_exception(conn, ExceptionEntry(
            "INTERNAL_ERROR", internal_error(exc, f"PO {row.po_number}, {step}"),
            "nothing of the step took effect; report the entry (its detail has the traceback), then "
            "`edi po replay` the PO once fixed", row.partner, row.po_number, key=step,
            detail=format_traceback(exc)), now)
    events.po_step(step=step, partner=ctx.partner, po_number=row.po_number, revision=0, outcome="held",
                   error=type(exc).__name__)


_SQLITE_TRANSIENT = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_PG_TRANSIENT_PREFIXES = ("08", "40", "53", "57P", "55P03")  # connection, rollback (deadlock), resources, shutdown


def is_transient(exc: BaseException) -> bool:
    """A failure that may pass by itself (database unreachable, locked or deadlocked; IMS down): retry later.

    Database errors are classified by their driver code, never by message: SQLite BUSY/LOCKED,
    PostgreSQL connection (08), transaction rollback (40: deadlock, serialization), insufficient
    resources (53), shutdown (57P) and lock not available (55P03). Anything else (a damaged
    file, a missing table, a full disk) is not transient: it is held for a person.
    """
    if isinstance(exc, RetriableError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if isinstance(orig, sqlite3.Error):
            return getattr(orig, "sqlite_errorcode", None) in _SQLITE_TRANSIENT
        state = getattr(orig, "sqlstate", None)
        if isinstance(state, str):
            return state.startswith(_PG_TRANSIENT_PREFIXES)
        return type(orig).__name__ in ("OperationalError", "InterfaceError") and state is None and not isinstance(
            orig, sqlite3.Error)
    return False


def internal_error(exc: BaseException, what: str) -> str:
    """One line for the exception log about an unexpected error (type and message, no payload)."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{what}: unexpected {type(exc).__name__}{': ' + text if text else ''}"


def format_traceback(exc: BaseException) -> str:
    """The exception's traceback, for the exception log's detail (bounded)."""
    return "".join(traceback.format_exception(exc))[-8000:]


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def order_trail(order: SalesOrder) -> dict[str, str]:
    """The sales-order stage of the line trail: what the IMS was asked for, per line."""
    return {ln.line_number: f"sku={ln.sku} quantity={ln.quantity} unit={ln.unit}" for ln in order.lines}
